// Plans on pull requests: for each open pull request whose files touch an opted-in app's path, fetch its head,
// render it with the app's own settings, dry-run every object against this cluster and work out the prune, then
// post `tether/<cluster>/<app>/plan` on the head and one comment per agent. Only reads and dry-runs reach the
// cluster: the render and judgement are AppSync.inspect's (the same path as `tether diff`), the prune is
// planStalePrune's (the sync's own candidates and guardrails, without the deletion).
import { describeError } from '../../../shared/src/errors.ts';
import type { GitHubClient } from '../../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../../shared/src/log.ts';
import type { CommitStatus } from '../core/commit-status.ts';
import type { DesiredStateSource, Renderer, SourceFile } from '../core/desired-state.ts';
import { hooksOf, RUN_PHASES } from '../core/hooks.ts';
import type { ObjectInspection } from '../core/inspection.ts';
import { type ApplySetParentRef, applySetId, listScope } from '../core/inventory.ts';
import type { KubeClient } from '../core/kube-port.ts';
import { groupKind, objectKey, refOf, subject } from '../core/objects.ts';
import {
  type AppPlan,
  defaultPlanCommentOptions,
  hookSubject,
  type PlannedPrune,
  type PlanRow,
  type PullRequestRef,
  planComment,
  planMarker,
  planPendingStatus,
  planStatus,
  pullRequestFields,
  touchesPath,
  untouchedPlanStatus,
} from '../core/pr-plan.ts';
import type { K8sObject } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import { readParentState } from './applyset-parent.ts';
import { listMembers } from './cluster.ts';
import { checkOwners, type OwnershipCheck, recordedAsCreated } from './ownership.ts';
import { planStalePrune } from './prune.ts';
import { REFUSED_TRIES, refusedForGood } from './status-reporter.ts';
import { type AppSpec, AppSync } from './sync.ts';

/** How often a plan fetches the head branch before giving up on seeing the head it was told of. */
const FETCH_ATTEMPTS = 3;
const FETCH_RETRY_MS = 500;
/** The wait before a verdict GitHub refused is posted again; it doubles up to the maximum. */
const VERDICT_RETRY_MS = 1000;
const VERDICT_RETRY_MAX_MS = 60_000;

/** Where a plan reads a pull request's head from: a Git store of its own, apart from the synced state's. */
export interface PlanSource {
  /** Fetches the newest commit of `branch` and returns its id. */
  fetchBranch(branch: string): Promise<string>;
  treeHash(commit: string, path: string): Promise<string | undefined>;
  readFiles(commit: string, path: string): Promise<SourceFile[]>;
}

/** An app that asked for plans (`planPullRequests: true`), with what its sync engine is built from. */
export interface PlanTarget {
  name: string;
  /** The app's repository on GitHub. */
  repo: { owner: string; repo: string };
  /** The branch the app syncs: pull requests into it are planned. */
  ref: string;
  path: string;
  spec: AppSpec;
  /** The app's ApplySet parent, so the plan judges against the app's real inventory. */
  parent: ApplySetParentRef;
  source: PlanSource;
  /** The app's polling interval (open pull requests are polled as often without a webhook). */
  intervalMs: number;
}

/** What the planner is given. */
export interface PlannerDeps {
  cluster: string;
  github: GitHubClient;
  kube: KubeClient;
  discovery: Discovery;
  renderer: Renderer;
  log?: Logger;
  /** Base of the statuses' target URL (the agent's status page). */
  publicUrl?: string;
}

/** Options of the planner. */
export interface PlannerOptions {
  /** Plans (pull request × app) running at once. */
  concurrency: number;
  /**
   * Poll the open pull requests at least this often, and as often as the most frequent target's interval (so
   * `Infinity` polls at the targets' intervals, whichever are added later); absent: only at start and when a target
   * is added (a webhook delivers the rest).
   */
  pollIntervalMs?: number;
  /** Objects dry-run at once within one plan. */
  objectConcurrency: number;
  /** Whether this replica plans `app` (sharding: the replica holding its shard); absent: every app. */
  owns?: (app: string) => boolean;
}

/** Defaults: two plans at once, four objects at once each, no polling. */
export function defaultPlannerOptions(): PlannerOptions {
  return { concurrency: 2, objectConcurrency: 4 };
}

interface Job {
  sha: string;
  abort: AbortController;
  done: Promise<void>;
}

/** The rows of one pull request's comment, for its current head. */
interface PullComment {
  sha: string;
  rows: Map<string, PlanRow>;
  commentId?: number;
  /** The body last written, so an unchanged comment is not written again. */
  posted?: string;
  /** Comment writes of this pull request, one after the other: two at once could both create one. */
  chain: Promise<void>;
}

/** A counting semaphore: at most `limit` holders; waiters are served in order. */
class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async take(): Promise<void> {
    if (this.used < this.limit) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

/**
 * Plans pull requests against this cluster. One plan per (pull request head, app) at a time: a newer head aborts
 * the plan of the older one (it posts nothing), a closed pull request's plans are dropped, and at most
 * `concurrency` plans run at once. It starts and stops with the agent's leadership, like the syncs.
 */
export class PullRequestPlanner {
  private readonly options: PlannerOptions;
  private readonly log: Logger;
  /** Running plans by `owner/repo#number/app`. */
  private readonly jobs = new Map<string, Job>();
  /** The head each (pull request, app) was last planned at. */
  private readonly planned = new Map<string, string>();
  private readonly comments = new Map<string, PullComment>();
  /** Open pull requests known, by `owner/repo#number`, with the head last scheduled. */
  private readonly known = new Map<string, string>();
  private readonly slots: Slots;
  private timer: NodeJS.Timeout | undefined;
  /** The period of `timer`. */
  private pollEveryMs: number | undefined;
  private running = false;
  /** Aborted by `stop()`: ends the waits between a refused verdict's posts. */
  private halt = new AbortController();
  /** Background work (listing files, polls), so `idle()` can wait for it. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Fetches into each target's store, one at a time (a store is one directory written by each fetch). */
  private readonly fetchChains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: PlannerDeps,
    private targets: readonly PlanTarget[],
    options: Partial<PlannerOptions> = {},
  ) {
    this.options = { ...defaultPlannerOptions(), ...options };
    this.log = (deps.log ?? silentLogger).with({ component: 'pr-plan' });
    this.slots = new Slots(this.options.concurrency);
  }

  /** Starts: polls the open pull requests once now (and periodically when `pollIntervalMs` is set). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.halt = new AbortController();
    this.track(this.poll());
    this.schedulePolls();
  }

  /** Stops polling, aborts the plans in flight and waits for them to end. */
  async stop(): Promise<void> {
    this.running = false;
    this.halt.abort();
    this.schedulePolls();
    for (const job of this.jobs.values()) job.abort.abort();
    await this.idle();
  }

  /**
   * Plans `target` from now on, replacing a target of its name (an app defined in Git that was added or
   * reconfigured while the agent runs): what was planned for the old one is forgotten, and the open pull requests
   * are read again so the new one gets its plans without waiting for the next push.
   */
  setTarget(target: PlanTarget): void {
    this.forget(target.name);
    this.targets = [...this.targets, target];
    if (!this.running) return;
    this.schedulePolls();
    this.track(this.poll());
  }

  /** Stops planning the app `name` (removed, or no longer asking for plans); its plans in flight are aborted. */
  removeTarget(name: string): void {
    this.forget(name);
    this.schedulePolls();
  }

  /** The apps planned, by name. */
  targetNames(): string[] {
    return this.targets.map((t) => t.name);
  }

  private forget(name: string): void {
    this.targets = this.targets.filter((t) => t.name !== name);
    for (const [key, job] of this.jobs) if (key.endsWith(`/${name}`)) job.abort.abort();
    for (const key of [...this.planned.keys()]) if (key.endsWith(`/${name}`)) this.planned.delete(key);
  }

  /** (Re)arms the poll timer at the period the options and the targets ask for; none while stopped. */
  private schedulePolls(): void {
    const asked = this.options.pollIntervalMs;
    const every =
      this.running && asked !== undefined ? Math.min(asked, ...this.targets.map((t) => t.intervalMs)) : undefined;
    const period = every !== undefined && Number.isFinite(every) && every > 0 ? every : undefined;
    if (period === this.pollEveryMs && (period === undefined) === (this.timer === undefined)) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.pollEveryMs = period;
    if (period === undefined) return;
    this.timer = setInterval(() => this.track(this.poll()), period);
    this.timer.unref?.();
  }

  /** Resolves once no plan, poll or comment write is in flight (tests and benchmarks). */
  async idle(): Promise<void> {
    do {
      await Promise.allSettled([
        ...this.pending,
        ...[...this.jobs.values()].map((j) => j.done),
        ...[...this.comments.values()].map((c) => c.chain),
      ]);
      // A poll that just ended may have scheduled plans: wait for those too.
      await new Promise((r) => setImmediate(r));
    } while (this.pending.size > 0 || this.jobs.size > 0);
  }

  /** The plans scheduled and not finished (running or waiting for a slot): `owner/repo#number/app` and the head. */
  inFlight(): { plan: string; sha: string }[] {
    return [...this.jobs].map(([plan, job]) => ({ plan, sha: job.sha }));
  }

  /**
   * A `pull_request` webhook's pull request (or one from a poll): schedules its plans, or drops them when it was
   * closed. Returns the apps that may be planned (those syncing its base branch); which of them the pull request
   * touches is learned from its files, in the background.
   */
  handle(pr: PullRequestRef): string[] {
    if (!this.running) return [];
    const prKey = `${pr.repo.toLowerCase()}#${pr.number}`;
    if (pr.state === 'closed') {
      this.drop(prKey);
      return [];
    }
    const owns = this.options.owns ?? (() => true);
    const candidates = this.targets.filter(
      (t) =>
        `${t.repo.owner}/${t.repo.repo}`.toLowerCase() === pr.repo.toLowerCase() &&
        t.ref === pr.baseRef &&
        owns(t.name),
    );
    if (candidates.length === 0) return [];
    if (this.known.get(prKey) === pr.headSha && candidates.every((t) => this.isCurrent(prKey, t, pr.headSha))) {
      return candidates.map((t) => t.name);
    }
    this.known.set(prKey, pr.headSha);
    this.track(this.schedule(pr, prKey, candidates));
    return candidates.map((t) => t.name);
  }

  /** Lists the open pull requests of every repository a target syncs and schedules them; closed ones are dropped. */
  async poll(): Promise<void> {
    const repos = new Map(this.targets.map((t) => [`${t.repo.owner}/${t.repo.repo}`.toLowerCase(), t.repo]));
    for (const [name, repo] of repos) {
      let pulls: unknown[];
      try {
        pulls = await this.deps.github.paginate(this.deps.github.rest.pulls.list, {
          ...repo,
          state: 'open',
          per_page: 100,
        });
      } catch (err) {
        this.log.warn('listing open pull requests failed', { repo: name, error: describeError(err) });
        continue;
      }
      const open = new Set<string>();
      for (const p of pulls) {
        const pr = pullRequestFields(p);
        if (!pr) continue;
        open.add(`${pr.repo.toLowerCase()}#${pr.number}`);
        this.handle(pr);
      }
      for (const key of [...this.known.keys()]) {
        if (key.startsWith(`${name}#`) && !open.has(key)) this.drop(key);
      }
    }
  }

  private track<T>(p: Promise<T>): void {
    this.pending.add(p);
    p.catch((err) => this.log.error('pull request planning failed', { error: describeError(err) })).finally(() =>
      this.pending.delete(p),
    );
  }

  private isCurrent(prKey: string, t: PlanTarget, sha: string): boolean {
    const key = `${prKey}/${t.name}`;
    return this.jobs.get(key)?.sha === sha || this.planned.get(key) === sha;
  }

  /** A closed pull request: its plans are aborted and forgotten (nothing more is posted for it). */
  private drop(prKey: string): void {
    this.known.delete(prKey);
    this.comments.delete(prKey);
    for (const [key, job] of this.jobs) if (key.startsWith(`${prKey}/`)) job.abort.abort();
    for (const key of [...this.planned.keys()]) if (key.startsWith(`${prKey}/`)) this.planned.delete(key);
  }

  /** Which candidates the pull request touches (from its files); starts a plan for each that lacks one. */
  private async schedule(pr: PullRequestRef, prKey: string, candidates: readonly PlanTarget[]): Promise<void> {
    const [owner, repo] = pr.repo.split('/') as [string, string];
    const files = await this.deps.github.paginate(this.deps.github.rest.pulls.listFiles, {
      owner,
      repo,
      pull_number: pr.number,
      per_page: 100,
    });
    // A rename moves a file out of one path and into another: both apps are touched.
    const paths = files.flatMap((f) => (f.previous_filename ? [f.filename, f.previous_filename] : [f.filename]));
    if (!this.running || this.known.get(prKey) !== pr.headSha) return;
    const touched = candidates.filter((t) => touchesPath(paths, t.path));
    // Jobs are created before anything is awaited again, so a newer head's schedule cannot interleave with them.
    if (touched.length > 0) this.startJobs(pr, prKey, touched);
    // An app this head does not touch has nothing to plan, and says so: its plan context can then be required on
    // every pull request into the branch. Remembered, so a poll does not list the files again.
    for (const t of candidates) {
      // A newer head arrived while a status was being posted: its own schedule takes over.
      if (!this.running || this.known.get(prKey) !== pr.headSha) return;
      const key = `${prKey}/${t.name}`;
      if (touched.includes(t) || this.planned.get(key) === pr.headSha) continue;
      this.jobs.get(key)?.abort.abort();
      this.planned.set(key, pr.headSha);
      await this.postVerdict(
        pr,
        this.untouchedStatus(t),
        this.halt.signal,
        () => this.known.get(prKey) === pr.headSha && this.planned.get(key) === pr.headSha,
      );
    }
  }

  /** Starts a plan of each touched app that has none for this head, aborting one for an older head. */
  private startJobs(pr: PullRequestRef, prKey: string, touched: readonly PlanTarget[]): void {
    let comment = this.comments.get(prKey);
    if (!comment || comment.sha !== pr.headSha) {
      comment = { sha: pr.headSha, rows: new Map(), chain: comment?.chain ?? Promise.resolve(), ...idOf(comment) };
      this.comments.set(prKey, comment);
    }
    for (const t of touched) {
      const key = `${prKey}/${t.name}`;
      if (this.isCurrent(prKey, t, pr.headSha)) continue;
      this.jobs.get(key)?.abort.abort();
      comment.rows.set(t.name, { app: t.name, status: this.pendingStatus(t, pr.headSha) });
      const abort = new AbortController();
      const job: Job = { sha: pr.headSha, abort, done: Promise.resolve() };
      job.done = this.runJob(pr, prKey, t, abort.signal).finally(() => {
        if (this.jobs.get(key) === job) this.jobs.delete(key);
      });
      this.jobs.set(key, job);
    }
  }

  private targetUrl(t: PlanTarget): string | undefined {
    return this.deps.publicUrl
      ? `${this.deps.publicUrl.replace(/\/+$/, '')}/apps/${encodeURIComponent(t.name)}`
      : undefined;
  }

  private untouchedStatus(t: PlanTarget): CommitStatus {
    const url = this.targetUrl(t);
    return untouchedPlanStatus(this.deps.cluster, t.name, t.path, url ? { targetUrl: url } : {});
  }

  private pendingStatus(t: PlanTarget, sha: string): CommitStatus {
    const url = this.targetUrl(t);
    return planPendingStatus(this.deps.cluster, t.name, sha, url ? { targetUrl: url } : {});
  }

  /** One plan: waits for a slot, posts `pending`, plans, then posts the verdict and the comment unless superseded. */
  private async runJob(pr: PullRequestRef, prKey: string, t: PlanTarget, signal: AbortSignal): Promise<void> {
    await this.slots.take();
    try {
      if (signal.aborted) return;
      const log = this.log.with({ app: t.name, pullRequest: pr.number, sha: pr.headSha.slice(0, 7) });
      await this.postStatus(pr, this.pendingStatus(t, pr.headSha));
      const plan = pr.fork
        ? notPlanned(
            t,
            pr.headSha,
            'the head is in another repository (a fork); only same-repository branches are planned',
          )
        : await this.planApp(pr, t, signal);
      if (!plan || signal.aborted) {
        log.debug('plan superseded');
        return;
      }
      const url = this.targetUrl(t);
      const status = planStatus(plan, { cluster: this.deps.cluster, ...(url ? { targetUrl: url } : {}) });
      log.info('planned', { state: status.state, description: status.description });
      await this.postVerdict(pr, status, signal);
      // Closed (or pushed to) meanwhile: a reopened pull request must be planned again, so nothing is remembered.
      if (signal.aborted) return;
      this.planned.set(`${prKey}/${t.name}`, pr.headSha);
      const comment = this.comments.get(prKey);
      if (comment?.sha === pr.headSha) {
        comment.rows.set(t.name, { plan, status });
        await this.writeComment(pr, prKey, comment);
      }
    } finally {
      this.slots.give();
    }
  }

  /**
   * Fetches the head, renders and dry-runs it with the app's settings, and judges it as the sync would: the project's
   * rules, who owns each object that is not a member yet, the hooks it would run, the prune. Undefined when the head
   * moved on meanwhile (its own plan follows): `signal` is checked between requests, down to the dry-runs. Never
   * writes to the cluster.
   */
  async planApp(pr: PullRequestRef, t: PlanTarget, signal?: AbortSignal): Promise<AppPlan | undefined> {
    const sha = pr.headSha;
    // The project may refuse the app itself: the sync then fetches nothing, and neither does its plan.
    const appRefused = t.spec.policy?.refusal();
    if (appRefused) return { ...emptyPlan(t, sha), appRefused };
    // The branch may not show the head yet (the webhook can outrun the Git server's replicas), or may have moved on
    // (then that head's own event plans it): a few tries, then nothing is posted and a later poll may try again.
    let fetched: string | undefined;
    for (let attempt = 0; attempt < FETCH_ATTEMPTS && fetched !== sha; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, FETCH_RETRY_MS));
      if (signal?.aborted) return undefined;
      try {
        fetched = await this.fetch(t, pr.headRef);
      } catch (err) {
        return errorPlan(t, sha, `fetching ${pr.headRef}: ${describeError(err)}`);
      }
    }
    if (fetched !== sha || signal?.aborted) return undefined;
    const source: DesiredStateSource = {
      fetch: async () => sha,
      treeHash: (commit, path) => t.source.treeHash(commit, path),
      readFiles: (commit, path) => t.source.readFiles(commit, path),
    };
    const { kube, discovery, renderer } = this.deps;
    const sync = new AppSync(t.spec, {
      kube,
      discovery,
      source,
      renderer,
      parent: t.parent,
      concurrency: this.options.objectConcurrency,
    });
    let objects: Awaited<ReturnType<AppSync['inspect']>>['objects'];
    try {
      objects = (await sync.inspect(signal ? { signal } : {})).objects;
    } catch (err) {
      // A render that failed while the apiserver is away (discovery) says nothing about the pull request.
      const unreachable = await this.unreachable();
      return unreachable ? errorPlan(t, sha, unreachable) : { ...emptyPlan(t, sha), renderError: describeError(err) };
    }
    if (signal?.aborted) return undefined;
    const rejected = objects.filter((o) => o.error !== undefined).length;
    if (rejected > 0) {
      const unreachable = await this.unreachable();
      if (unreachable) return errorPlan(t, sha, unreachable);
    }
    const desired = sync.desiredObjects;
    // The sync's own project check on the same objects: one refused object and the sync applies and prunes nothing.
    const refused = (t.spec.policy?.refuse(desired) ?? []).map((e) => ({ subject: e.subject, reason: e.reason ?? '' }));
    const hooks = RUN_PHASES.flatMap((phase) =>
      hooksOf(sync.renderedHooks, phase).map((h) => ({ phase, wave: h.wave, subject: hookSubject(h.object) })),
    );
    let judged: { owners: OwnershipCheck; prune: PlannedPrune } | undefined;
    try {
      judged = await this.judgeInventory(t, desired, objects, rejected, refused.length > 0, signal);
    } catch (err) {
      return errorPlan(t, sha, `reading the inventory: ${describeError(err)}`);
    }
    if (!judged || signal?.aborted) return undefined;
    const { owners, prune } = judged;
    const takenOver = new Map(owners.takenOver.map((x) => [subject(x.ref), x]));
    const adopt = owners.adopted.map((ref) => {
      const x = takenOver.get(subject(ref));
      return {
        subject: subject(ref),
        reason: x
          ? `would take over from ${x.from.replace(/^managed by /, '')} (takeOver: ${x.tool})`
          : 'live without an owner: would be adopted (Tether did not create it)',
      };
    });
    return {
      app: t.name,
      sha,
      objects,
      prune,
      ...(refused.length > 0 ? { refused } : {}),
      ...(owners.conflicts.length > 0
        ? { conflicts: owners.conflicts.map((e) => ({ subject: e.subject, reason: e.reason ?? '' })) }
        : {}),
      ...(adopt.length > 0 ? { adopt } : {}),
      ...(hooks.length > 0 ? { hooks } : {}),
    };
  }

  /**
   * Judges the rendered objects against the app's inventory as the sync would, reading only: the parent and the
   * members (one list per kind), then the sync's ownership check of the objects that are not members yet — decided on
   * the live objects the dry-run already read, so it adds no GET (only one lookup per other ApplySet, to name it) —
   * and the prune. A sync the project refuses prunes nothing. Undefined when `signal` was aborted meanwhile.
   */
  private async judgeInventory(
    t: PlanTarget,
    desired: readonly K8sObject[],
    inspected: readonly ObjectInspection[],
    rejected: number,
    refused: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ owners: OwnershipCheck; prune: PlannedPrune } | undefined> {
    const deps = { kube: this.deps.kube, discovery: this.deps.discovery };
    const parent = await readParentState(deps, t.parent);
    if (signal?.aborted) return undefined;
    const scope = listScope(t.parent, parent.live);
    const kinds = new Set([
      ...desired.map((o) => groupKind(refOf(o))),
      ...parent.members.map(groupKind),
      ...scope.groupKinds,
    ]);
    const live = new Map<string, K8sObject>();
    const id = applySetId(t.parent);
    const listed = await listMembers(deps, id, kinds, live);
    if (signal?.aborted) return undefined;
    const read = new Map(inspected.map((o) => [objectKey(o.desired), o.live]));
    const owners = await checkOwners(deps, live, desired, {
      applySetId: id,
      recorded: recordedAsCreated(parent.members, parent.adopted),
      takeOver: t.spec.takeOver ?? [],
      concurrency: this.options.objectConcurrency,
      read: (o) => read.get(objectKey(o)),
      ...(signal ? { signal } : {}),
    });
    if (signal?.aborted) return undefined;
    if (refused)
      return {
        owners,
        prune: { delete: [], keep: [], blocked: 'nothing would be pruned: the project refuses the sync' },
      };
    const plan = await planStalePrune(deps, live, {
      applySetId: id,
      desired,
      previous: parent.members,
      listed,
      failedApplies: rejected,
      options: t.spec.policy?.mayPrune() === false ? { ...t.spec.prune, enabled: false } : t.spec.prune,
      adopted: parent.adopted,
    });
    return {
      owners,
      prune: {
        delete: plan.decisions.filter((d) => d.action === 'delete').map((d) => d.subject),
        keep: plan.blocked
          ? []
          : plan.decisions.filter((d) => d.action === 'keep').map((d) => ({ subject: d.subject, reason: d.reason })),
        ...(plan.blocked ? { blocked: plan.blocked } : {}),
        ...(plan.outOfSync ? { blockFails: true } : {}),
      },
    };
  }

  /** Why the apiserver cannot be reached, or undefined when it answers. */
  private async unreachable(): Promise<string | undefined> {
    try {
      await this.deps.kube.ping();
      return undefined;
    } catch (err) {
      return `cluster unreachable: ${describeError(err)}`;
    }
  }

  /** Fetches `branch` into the target's store, one fetch per store at a time. */
  private fetch(t: PlanTarget, branch: string): Promise<string> {
    const previous = this.fetchChains.get(t.name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => t.source.fetchBranch(branch));
    this.fetchChains.set(t.name, next);
    return next;
  }

  /**
   * Posts a verdict until GitHub takes it (Octokit has retried a 5xx or a rate limit already): the head's `Planning`
   * must not stay its last word, since a required check waits on it for good. Waits between tries double up to a
   * minute; it gives up when `signal` says the plan was superseded (a newer head, a closed pull request, a stop) or
   * `current` that the verdict no longer is the head's.
   */
  private async postVerdict(
    pr: PullRequestRef,
    status: CommitStatus,
    signal: AbortSignal,
    current: () => boolean = () => true,
  ): Promise<void> {
    let refusals = 0;
    for (let wait = VERDICT_RETRY_MS; ; ) {
      const failure = await this.postStatus(pr, status);
      if (!failure) return;
      // A refusal no retry changes (the token may not write statuses there) is given up, as the synced statuses'.
      if (failure.refused && ++refusals >= REFUSED_TRIES) return;
      if (signal.aborted || !current()) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        signal.addEventListener('abort', done);
      });
      if (signal.aborted || !current()) return;
      wait = Math.min(wait * 2, VERDICT_RETRY_MAX_MS);
    }
  }

  /** Posts a status on the pull request's head; when GitHub did not take it (logged), whether it refused it for good. */
  private async postStatus(pr: PullRequestRef, status: CommitStatus): Promise<{ refused: boolean } | undefined> {
    const [owner, repo] = pr.repo.split('/') as [string, string];
    try {
      await this.deps.github.rest.repos.createCommitStatus({
        owner,
        repo,
        sha: pr.headSha,
        state: status.state,
        context: status.context,
        description: status.description,
        ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
      });
      return undefined;
    } catch (err) {
      this.log.warn('posting a plan status failed', { context: status.context, error: describeError(err) });
      return { refused: refusedForGood(err) };
    }
  }

  /** Creates or updates this agent's one comment (found by its marker), after the writes queued before it. */
  private writeComment(pr: PullRequestRef, prKey: string, comment: PullComment): Promise<void> {
    const run = async () => {
      if (this.comments.get(prKey) !== comment) return;
      const body = planComment([...comment.rows.values()], comment.sha, defaultPlanCommentOptions(this.deps.cluster));
      if (body === comment.posted) return;
      const [owner, repo] = pr.repo.split('/') as [string, string];
      const gh = this.deps.github;
      try {
        if (comment.commentId === undefined) {
          const marker = planMarker(this.deps.cluster);
          const existing = await gh.paginate(gh.rest.issues.listComments, {
            owner,
            repo,
            issue_number: pr.number,
            per_page: 100,
          });
          comment.commentId = existing.find((c) => c.body?.startsWith(marker))?.id;
        }
        if (comment.commentId !== undefined) {
          try {
            await gh.rest.issues.updateComment({ owner, repo, comment_id: comment.commentId, body });
          } catch (err) {
            // Someone deleted the comment: write a new one.
            if ((err as { status?: number }).status !== 404) throw err;
            comment.commentId = (
              await gh.rest.issues.createComment({ owner, repo, issue_number: pr.number, body })
            ).data.id;
          }
        } else {
          comment.commentId = (
            await gh.rest.issues.createComment({ owner, repo, issue_number: pr.number, body })
          ).data.id;
        }
        comment.posted = body;
      } catch (err) {
        this.log.warn('writing the plan comment failed', { pullRequest: pr.number, error: describeError(err) });
      }
    };
    comment.chain = comment.chain.then(run, run);
    return comment.chain;
  }
}

/** The comment id a newer head's comment keeps (the same comment is updated). */
function idOf(c: PullComment | undefined): { commentId?: number; posted?: string } {
  return c?.commentId !== undefined ? { commentId: c.commentId, ...(c.posted ? { posted: c.posted } : {}) } : {};
}

/** A plan with nothing judged yet: no objects, nothing to prune. */
function emptyPlan(t: PlanTarget, sha: string): AppPlan {
  return { app: t.name, sha, objects: [], prune: { delete: [], keep: [] } };
}

function errorPlan(t: PlanTarget, sha: string, error: string): AppPlan {
  return { ...emptyPlan(t, sha), error };
}

function notPlanned(t: PlanTarget, sha: string, why: string): AppPlan {
  return { ...emptyPlan(t, sha), notPlanned: why };
}
