import { describeError } from '../../../shared/src/errors.ts';
import type { GitHubClient } from '../../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../../shared/src/log.ts';
import { repoFromUrl } from '../../../shared/src/repo-url.ts';
import { type AgentConfig, type AppConfig, configHealthRules, helmOptions, type ProjectConfig } from '../config.ts';
import { emptyMetrics, recordHeal, recordSync } from '../core/agent-metrics.ts';
import {
  type AgentMetrics,
  type AgentView,
  type AppView,
  appView,
  type HealView,
  type ManualSyncAnswer,
  type ManualSyncView,
  type ProjectView,
  type PushSignal,
  type PushSignalAnswer,
} from '../core/agent-view.ts';
import { type AppEvent, healEvent, syncEvents } from '../core/app-events.ts';
import { CONFIG_ORIGIN, type RunningApp } from '../core/app-set-plan.ts';
import {
  type CommitStatus,
  holdDip,
  saysNothingAboutCommit,
  statusContext,
  statusFor,
  withNote,
} from '../core/commit-status.ts';
import type { DesiredStateSource, Renderer } from '../core/desired-state.ts';
import type { FleetSource, FleetView } from '../core/fleet.ts';
import { type AppHistory, persistWorthy, type SyncHistoryEntry, syncHistoryEntry } from '../core/history.ts';
import { diffText, type Inspection } from '../core/inspection.ts';
import type { KubeClient } from '../core/kube-port.ts';
import { objectKey, subject } from '../core/objects.ts';
import type { PullRequestRef } from '../core/pr-plan.ts';
import { ProjectSet } from '../core/project-set.ts';
import type { PushRecord } from '../core/push-signals.ts';
import { type AppTree, buildResourceTree, ownerNamespaces } from '../core/resource-tree.ts';
import {
  afterSync,
  countsAsAttempt,
  gaveUpText,
  type RetryState,
  retriesExhausted,
  retryDecision,
  retryView,
} from '../core/retry.ts';
import {
  decideSync,
  healAllowed,
  heldText,
  manualSyncRefusal,
  type SyncDecision,
  type SyncRequest,
} from '../core/sync-policy.ts';
import type { AppState, HealthResult, HealthStatus, K8sObject } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import { AppLoop } from './app-loop.ts';
import { policyInput, policyView, projectAllowsSelfHeal, projectPolicy, projectViews } from './app-policy.ts';
import { AppSet, type AppSourceView } from './app-set.ts';
import { readPersistedHistory, SyncHistory, writePersistedHistory } from './history.ts';
import { inspectObjects } from './inspect.ts';
import type { LeaderElector } from './leader.ts';
import { type PlanSource, type PlanTarget, PullRequestPlanner } from './pr-plan.ts';
import type { PushSignals } from './push-signals.ts';
import { recordAppSpec } from './recover-hooks.ts';
import type { CascadeHooks } from './remove-app.ts';
import { type HealEvent, SelfHeal } from './self-heal.ts';
import type { ShardGate, ShardMapView } from './shard-leases.ts';
import type { StatusReporter } from './status-reporter.ts';
import { AppSync, pruneOptions, type SyncOutcome } from './sync.ts';
import { DescendantWatches } from './tree.ts';
import { WatchHub } from './watch-hub.ts';

/** What the agent is built from; the composition root (agent/src/main.ts) makes these, tests may make their own. */
export interface AgentParts {
  config: AgentConfig;
  kube: KubeClient;
  discovery: Discovery;
  renderer: Renderer;
  /** Each configured app's desired-state source (a Git source), by app name. */
  sources: ReadonlyMap<string, DesiredStateSource>;
  log?: Logger;
  /** Where the agent counts (the reporter counts its posts into the same); default: fresh. */
  metrics?: AgentMetrics;
  /** Posts commit statuses; absent → no statuses. */
  reporter?: StatusReporter;
  /** Leader election; absent → this replica syncs from the start. */
  elector?: LeaderElector;
  /** Sharding: this replica works only on the apps whose shard it holds; absent → on every app. */
  shards?: ShardGate;
  /** Sharding: push webhooks shared between the replicas (one receives each delivery); absent → not shared. */
  pushSignals?: PushSignals;
  /** Health is recomputed from watched objects this often (no requests). */
  healthIntervalMs?: number;
  /** GitHub, for plans on pull requests (statuses and comments); absent → no plans. */
  github?: GitHubClient;
  /** Each opted-in app's Git store for pull request heads, by app name (apart from the synced state's). */
  planSources?: ReadonlyMap<string, PlanSource>;
  /** Opens such a store, cached under `key`, for an app defined in Git that opts in while the agent runs. */
  openPlanSource?: (key: string, repo: string, ref: string) => Promise<PlanSource>;
  /** Poll open pull requests at the apps' interval (no webhook delivers them); default false. */
  pollPullRequests?: boolean;
  /** Reads the fleet view (statuses of every cluster) from GitHub; absent → the fleet view says why it is empty. */
  fleet?: FleetSource;
  /**
   * Opens a Git source for `repo`@`ref` whose cache is named `key` (an app's name, or a location of App
   * documents): needed for apps defined in Git (`appsFrom`).
   */
  openSource?: (key: string, repo: string, ref: string) => Promise<DesiredStateSource>;
}

interface AppRunner {
  config: AppConfig;
  /** Where the app is defined: `config`, or `repo@ref:file` in Git. */
  origin: string;
  /** `config`, or the app source that defined it. */
  definedBy: string;
  sync: AppSync;
  heal: SelfHeal;
  loop: AppLoop;
  repo?: { owner: string; repo: string };
  current?: Promise<SyncOutcome>;
  lastHeal?: HealView;
  attempted: boolean;
  /** Bumped by every sync and drift event: what the cached diff depends on besides the revision. */
  changes: number;
  diffCache?: { key: string; diff: Promise<string> };
  /** The health last reported in a status, per revision. */
  reported?: { revision: string; health: HealthStatus; state: string };
  /** When the health of a commit reported `success` began to dip (held back for a grace period). */
  dipSince?: number;
  /** A manual sync asked for and not yet served (the loop's reasons coalesce; this is kept apart so none is lost). */
  manualRequest?: SyncRequest;
  lastManual?: ManualSyncView;
  /** The `pending` status last posted for a revision the agent holds back (manual policy, a window). */
  heldPosted?: string;
  /** Its loop runs here (the agent runs and, when sharded, holds the app's shard). */
  active: boolean;
  /** Aborted when the app stops here (its shard let go or lost): its sync stops between requests. */
  abort: AbortController;
  /** The next sync applies even an unchanged tree: another replica may have written since this one last synced. */
  forceNext?: boolean;
  /** Its work stopping (see Agent.deactivate): it starts again only after. */
  stopping?: Promise<void>;
  /**
   * The revision whose syncs failed, its attempts and next retry (core/retry.ts). In memory: a restarted agent, a
   * changed app or project, a manual sync or a new revision start counting again.
   */
  retry?: RetryState;
  /** The history persisted on the cluster, read back once before the app's first sync here. */
  historyRead?: Promise<void>;
  /** The refusal last reported while the project refuses the app before any fetch: on which commit, saying what. */
  refusal?: { sha: string; description: string };
}

/**
 * The agent: one loop per app (interval polling; a webhook or the API wakes it at once), self-heal watches,
 * commit statuses, Kubernetes Events on the ApplySet parent, and leader election so two replicas never both
 * write. Implements AgentView for the HTTP server. It builds none of its clients: they are given.
 */
export class Agent implements AgentView {
  readonly cluster: string;
  readonly metrics: AgentMetrics;
  private readonly runners = new Map<string, AppRunner>();
  /** The last syncs and heals per app, for the API and the app page. */
  private readonly syncHistory = new SyncHistory();
  /** ReplicaSets, Jobs and Pods of the apps' namespaces, for the resource tree (one watch per kind and namespace). */
  private readonly descendants: DescendantWatches;
  private readonly log: Logger;
  private running = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private clusterReachable = false;
  /** Why the cluster is not reachable (for /readyz), while it is not. */
  private unreachableReason = 'cluster not reachable yet';
  /** The probe that watches for an unreachable cluster to come back (capped exponential backoff with jitter). */
  private probeTimer: NodeJS.Timeout | undefined;
  private probeAttempt = 0;
  /** Aborted on stop or loss of leadership: syncs in progress stop between requests. */
  private abort = new AbortController();
  /** Plans on pull requests for the apps that opted in; absent without GitHub or such apps. */
  readonly planner: PullRequestPlanner | undefined;
  /** The projects apps are fenced by: the config's, those read from Git, and the built-in `default`. */
  private readonly projectSet: ProjectSet;
  /** Apps and projects defined in Git (`appsFrom`), when the config names any source. */
  private readonly appSet: AppSet | undefined;
  /** One watch per group-kind, shared by every app's self-heal. */
  private readonly watchHub: WatchHub;

  constructor(private readonly parts: AgentParts) {
    this.watchHub = new WatchHub(parts);
    const { config } = parts;
    this.cluster = config.cluster;
    this.metrics = parts.metrics ?? emptyMetrics();
    this.log = (parts.log ?? silentLogger).with({ cluster: config.cluster });
    this.descendants = new DescendantWatches(parts.kube, parts.discovery);
    this.projectSet = new ProjectSet(config.projects);
    for (const app of config.apps) {
      const source = parts.sources.get(app.name);
      if (!source) throw new Error(`no desired-state source for app ${app.name}`);
      this.addApp(app, source);
    }
    if (config.appsFrom.length > 0) {
      const openSource = parts.openSource;
      if (!openSource) throw new Error('appsFrom needs AgentParts.openSource to open Git sources');
      this.appSet = new AppSet({
        config,
        kube: parts.kube,
        discovery: parts.discovery,
        renderer: parts.renderer,
        openSource,
        log: this.log,
        host: this,
        ...(parts.reporter ? { reporter: parts.reporter } : {}),
        ...(parts.shards ? { owns: (n: string) => this.owns(n) } : {}),
      });
    }
    this.planner = this.createPlanner();
  }

  private createPlanner(): PullRequestPlanner | undefined {
    const { github, planSources, config } = this.parts;
    if (!github || !planSources) return undefined;
    const targets: PlanTarget[] = [];
    for (const r of this.runners.values()) {
      const source = planSources.get(r.config.name);
      if (!r.config.planPullRequests || !r.repo || !source) continue;
      targets.push(planTarget(r, r.repo, source));
    }
    // Apps defined in Git join (and leave) the planner as the app set adds, changes and removes them.
    if (targets.length === 0 && !(this.appSet && this.parts.openPlanSource)) return undefined;
    return new PullRequestPlanner(
      {
        cluster: config.cluster,
        github,
        kube: this.parts.kube,
        discovery: this.parts.discovery,
        renderer: this.parts.renderer,
        log: this.log,
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      },
      targets,
      {
        concurrency: config.planning.concurrency,
        ...(this.parts.shards ? { owns: (n: string) => this.owns(n) } : {}),
        ...(this.parts.pollPullRequests ? { pollIntervalMs: Math.min(...targets.map((t) => t.intervalMs)) } : {}),
      },
    );
  }

  /**
   * Runs an app from now on: its loop starts at once when the agent is running (else with the others). `origin`
   * says where it is defined (`config`, or `repo@ref:file`), `definedBy` which app source defined it.
   */
  addApp(app: AppConfig, source: DesiredStateSource, origin = CONFIG_ORIGIN, definedBy = CONFIG_ORIGIN): void {
    if (this.runners.has(app.name)) throw new Error(`app ${app.name} is already running`);
    const { kube, discovery, renderer, config } = this.parts;
    const sync = new AppSync(
      {
        name: app.name,
        path: app.path,
        namespace: app.namespace,
        prune: pruneOptions({
          enabled: app.prune,
          allowEmpty: app.allowEmpty,
          allowProtectedKinds: app.allowProtectedKinds,
          maxDeleteFraction: app.maxDeleteFraction,
          pruneAdopted: app.pruneAdopted,
        }),
        healthRules: configHealthRules(this.parts.config),
        render: { helm: helmOptions(app) },
        waveTimeoutMs: app.waveTimeout,
        createNamespace: app.createNamespace,
        takeOver: app.takeOver,
        // Apps defined in Git only: theirs is the cascade that renders the app again after a restart.
        ...(definedBy !== CONFIG_ORIGIN ? { recordedSpec: recordAppSpec(app) } : {}),
        ignoreDifferences: app.ignoreDifferences.map((r) => ({
          group: r.group,
          kind: r.kind,
          jsonPointers: r.jsonPointers,
          ...(r.name !== undefined ? { name: r.name } : {}),
          ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
        })),
        policy: projectPolicy(this.projectSet, () => runner.config),
      },
      {
        kube,
        discovery,
        source,
        renderer,
        parent: {
          group: '',
          version: 'v1',
          kind: 'ConfigMap',
          name: `tether-${app.name}`,
          namespace: config.inventoryNamespace,
        },
      },
    );
    const runner: AppRunner = {
      config: app,
      origin,
      definedBy,
      sync,
      heal: undefined as unknown as SelfHeal,
      loop: undefined as unknown as AppLoop,
      repo: repoFromUrl(app.repo),
      attempted: false,
      changes: 0,
      active: false,
      abort: new AbortController(),
    };
    runner.heal = new SelfHeal(sync, { kube, discovery, hub: this.watchHub }, { enabled: this.healEnabled(app) }, (e) =>
      this.onHeal(runner, e),
    );
    runner.loop = new AppLoop(
      app.interval,
      (reason) => this.syncApp(runner, reason),
      (err) => this.log.error('sync crashed; retrying with backoff', { app: app.name, error: describeError(err) }),
    );
    this.runners.set(app.name, runner);
    if (this.running) this.activate(runner);
    // Config apps are planned from the start (see createPlanner); one added later is planned once its store is open.
    if (this.planner) void this.planApp(runner);
  }

  /** This replica's Lease holder identity (sharding or leader election); undefined when neither runs. */
  private replicaIdentity(): string | undefined {
    return this.parts.shards?.identity ?? this.parts.elector?.identity;
  }

  /** Whether this replica works on `name` (always, unless sharded). */
  private owns(name: string): boolean {
    return this.parts.shards?.owns(name) ?? true;
  }

  /** Starts an app's loop here when the agent runs and holds it. */
  private activate(r: AppRunner): void {
    if (r.active || !this.running || !this.owns(r.config.name)) return;
    if (r.stopping) {
      // Held again before the work of the last hold stopped: one sync of an app at a time, even in one replica.
      void r.stopping.then(() => this.activate(r));
      return;
    }
    r.active = true;
    r.abort = new AbortController();
    // Taken over from another replica: its first sync here re-applies, whatever this replica synced before. What this
    // replica remembered of the app is stale by then: the retries start afresh (a replica that takes over tries
    // `limit` more times) and the persisted history, which the other replica kept writing, is read again.
    if (r.attempted) {
      r.forceNext = true;
      r.retry = undefined;
      r.loop.retryAt(undefined);
      r.historyRead = undefined;
      // What GitHub holds for it is read again too: the other replica wrote there meanwhile.
      this.releaseStatuses(r);
    }
    r.loop.start();
  }

  /** Stops an app's work here: its sync in progress stops between requests; resolves once it has. */
  private async deactivate(r: AppRunner): Promise<void> {
    if (!r.active) return r.stopping;
    r.active = false;
    r.abort.abort();
    r.stopping = (async () => {
      await r.loop.stop();
      await r.heal.stop();
    })();
    await r.stopping;
    r.stopping = undefined;
  }

  /**
   * An app another replica syncs now, or synced until now: its statuses are the newest on the app's commits, so this
   * replica's unwritten verdicts are dropped and what it remembers of GitHub is forgotten.
   */
  private releaseStatuses(r: AppRunner): void {
    this.parts.reporter?.release(statusContext(this.cluster, r.config.name));
    // So are the refusal, the held-back `pending` and the verdict last reported: the other replica may have written
    // over them, and a first sync here that finds nothing new (an unchanged tree) posts only what was not reported.
    r.refusal = undefined;
    r.heldPosted = undefined;
    r.reported = undefined;
    r.dipSince = undefined;
  }

  /**
   * Apps this replica stopped syncing; one held again meanwhile (lost and won back) keeps its new turn's statuses.
   * The app sources whose statuses it no longer writes (`writes` false) are handed over alike: the other replica
   * reads them and writes on their commits too.
   */
  private handOver(apps: readonly AppRunner[], writes: (source: string) => boolean): void {
    for (const r of apps) {
      if (r.active) continue;
      this.releaseStatuses(r);
      this.forgetCluster(r);
    }
    for (const s of this.appSources())
      if (!writes(s.name)) this.parts.reporter?.release(statusContext(this.cluster, s.name));
  }

  /**
   * An app another replica syncs now: what this one kept of it in memory goes (the resource tree's namespaces, whose
   * cluster-wide feeds end with the last app tracking any; the live objects, health, applied record and self-heal's
   * memory), so nothing here judges, heals or reports it on stale objects and memory follows the apps held. Its
   * definition and its sync history stay: this replica must know every app, and the history names who synced.
   */
  private forgetCluster(r: AppRunner): void {
    // A sync outside the loop (syncNow) still running: forgotten once it ends, unless the app is held again by then.
    if (r.current) {
      void r.current.then(() => {
        if (!r.active) this.forgetCluster(r);
      });
      return;
    }
    this.descendants.track(r.config.name, []);
    r.sync.forget();
    r.diffCache = undefined;
  }

  /** Plans pull requests for an app added while the agent runs, when it asks for plans. */
  private async planApp(r: AppRunner): Promise<void> {
    const open = this.parts.openPlanSource;
    if (!this.planner || !open || !r.config.planPullRequests || !r.repo) return;
    try {
      const source = await open(`${r.config.name}.plans`, r.config.repo, r.config.ref);
      // Removed or reconfigured while the store opened: the newer definition has its own turn.
      if (this.runners.get(r.config.name) === r) this.planner.setTarget(planTarget(r, r.repo, source));
    } catch (err) {
      this.log.error('pull requests of the app are not planned', { app: r.config.name, error: describeError(err) });
    }
  }

  /**
   * Stops an app: its loop (after the sync in progress) and its heal watches, and forgets it, its statuses not yet
   * written included. The cluster is not touched: what happens to its objects is the caller's decision (see
   * reconcile/remove-app.ts).
   */
  async removeApp(name: string): Promise<boolean> {
    const r = this.runners.get(name);
    if (!r) return false;
    this.runners.delete(name);
    this.planner?.removeTarget(name);
    // Its namespaces no longer hold the resource tree's objects in memory (unless another app tracks them).
    this.descendants.track(name, []);
    r.active = false;
    r.abort.abort();
    await r.loop.stop();
    await r.heal.stop();
    // Released as at a hand-over, once the sync in progress (which may still report) has stopped: a verdict of the
    // app waiting or due for a retry would otherwise be written after it is gone, and the reporter would remember
    // its commits for good. A definition of the same name added later reads GitHub again.
    this.releaseStatuses(r);
    return true;
  }

  /** A running app's deletion hooks as last rendered, for a cascade removal; undefined when not running or rendered. */
  deleteHooksOf(name: string): CascadeHooks | undefined {
    return this.runners.get(name)?.sync.deleteHooks;
  }

  /** Every app running now, with where it is defined. */
  runningApps(): ReadonlyMap<string, RunningApp> {
    return new Map(
      [...this.runners].map(([name, r]) => [name, { app: r.config, origin: r.origin, source: r.definedBy }]),
    );
  }

  /** The app sources (`appsFrom`) as the API shows them. */
  appSources(): AppSourceView[] {
    return this.appSet?.views() ?? [];
  }

  /**
   * Reads every app source once and adds what they define (one-shot CLI commands; tests); `readOnly` writes nothing
   * to GitHub or the cluster while doing so.
   */
  async loadAppSources(options: { readOnly?: boolean } = {}): Promise<void> {
    await this.appSet?.refreshAll('once', options);
  }

  /** Wakes the app sources that read a pushed repo and branch; returns their names. */
  requestSourcesForPush(repoFullName: string, ref: string, reason: string): string[] {
    return this.appSet?.requestForPush(repoFullName, ref, reason) ?? [];
  }

  /** Wakes one app source by name (`apps`, `apps-<name>`); false when there is none. */
  requestSourceSync(name: string, reason: string): boolean {
    return this.appSet?.request(name, reason) ?? false;
  }

  /** Starts syncing (directly, or once elected leader). */
  async start(): Promise<void> {
    try {
      await this.parts.discovery.refresh();
      this.clusterReachable = true;
    } catch (err) {
      this.markUnreachable(describeError(err));
    }
    const gate = this.parts.shards;
    if (gate) {
      gate.start({
        onAcquired: () => {
          for (const r of this.runners.values()) this.activate(r);
          this.metrics.shardsHeld = gate.heldCount();
        },
        onLost: async () => {
          this.metrics.shardsHeld = gate.heldCount();
          const lost = [...this.runners.values()].filter((r) => !this.owns(r.config.name));
          await Promise.all(lost.map((r) => this.deactivate(r)));
          this.handOver(lost, (source) => this.owns(source));
        },
      });
      this.metrics.shardsHeld = 0;
      this.parts.pushSignals?.start((p) => this.onSignalledPush(p));
      this.startApps();
    } else if (this.parts.elector)
      this.parts.elector.start({
        onStartedLeading: () => this.startApps(),
        onStoppedLeading: () =>
          void this.stopApps().then(() => this.handOver([...this.runners.values()], () => this.running)),
      });
    else this.startApps();
  }

  /**
   * Graceful stop: syncs in progress stop between requests (the ApplySet parent already lists the superset written
   * before the apply, so the inventory stays consistent and nothing is pruned), then everything stops.
   */
  async stop(): Promise<void> {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    await this.stopApps();
    // Watches started by syncNow (outside the loops) end here too.
    await Promise.all([...this.runners.values()].map((r) => r.heal.stop()));
    this.descendants.stop();
    // The last statuses are written while this replica still holds its Leases: once they are released another replica
    // syncs the apps and writes its own, and a late write of this one would land on top of them. What the flush did
    // not get written is dropped before the release, and a write still in flight (GitHub slow to answer) is aborted:
    // the hand-over there forgets only the apps still defined here, and a write held up for longer than the flush
    // waits would otherwise land after the release.
    await this.parts.reporter?.flush(5000);
    await this.parts.reporter?.stop();
    await this.parts.elector?.stop();
    this.parts.pushSignals?.stop();
    await this.parts.shards?.stop();
  }

  /** Resolves when every queued commit status is posted (tests). */
  async flushStatuses(): Promise<void> {
    await this.parts.reporter?.flush();
  }

  private startApps(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    for (const r of this.runners.values()) this.activate(r);
    this.planner?.start();
    this.appSet?.start();
    this.healthTimer = setInterval(() => this.checkHealth(), this.parts.healthIntervalMs ?? 1000);
  }

  private async stopApps(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    clearInterval(this.healthTimer);
    await this.planner?.stop();
    await this.appSet?.stop();
    await Promise.all([...this.runners.values()].map((r) => this.deactivate(r)));
  }

  /**
   * Replaces the projects that came from `origin` (`config`, or a Git source of Project documents) and re-checks the
   * apps in the projects that changed at once: one that is now refused stops, one that is now allowed syncs.
   */
  setProjects(origin: string, projects: readonly ProjectConfig[]): void {
    const changed = this.projectSet.set(origin, projects);
    for (const r of this.runners.values()) {
      if (!changed.has(r.config.project)) continue;
      r.heal.options.enabled = this.healEnabled(r.config);
      r.retry = undefined;
      r.loop.retryAt(undefined);
      r.loop.request(`project ${r.config.project} changed`);
    }
  }

  /** Whether self-heal may write for `app` now: its settings, its project and its windows all allow it. */
  private healEnabled(app: AppConfig): boolean {
    return projectAllowsSelfHeal(this.projectSet, app) && healAllowed(policyInput(this.projectSet, app), new Date());
  }

  /**
   * One turn of an app's loop: applies when its policy, windows and project allow (or someone asked and the windows
   * let manual syncs through), else only compares (manual policy, a blocking window) or does nothing (suspended).
   */
  private async syncApp(r: AppRunner, reason: string, request?: SyncRequest, watch = true): Promise<SyncOutcome> {
    r.historyRead ??= this.restoreHistory(r);
    await r.historyRead;
    const asked = request ?? r.manualRequest;
    r.manualRequest = undefined;
    r.heal.options.enabled = this.healEnabled(r.config);
    const decision = this.syncDecision(r, asked);
    // A refused app goes through the engine, which records the refusal without fetching anything.
    if (decision.kind === 'refused') return this.applyApp(r, reason, false, watch);
    if (decision.kind !== 'sync') {
      if (asked) this.log.warn('manual sync not run', { app: r.config.name, by: asked.by, reason: decision.reason });
      return this.holdApp(r, decision);
    }
    if (!asked) {
      if (await this.syncedElsewhere(r)) r.retry = undefined;
      return this.applyApp(r, reason, false, watch, true);
    }
    void this.recordEvent(r, {
      reason: 'SyncRequested',
      message: `manual sync requested by ${asked.by} at ${asked.at}`,
      type: 'Normal',
    });
    // A manual sync re-applies even an unchanged tree: it is how drift is corrected where self-heal is off. It also
    // re-arms the retries of a revision that gave up (counted afresh from this attempt).
    r.retry = undefined;
    r.loop.retryAt(undefined);
    r.lastManual = { by: asked.by, at: asked.at };
    const out = await this.applyApp(r, `manual sync by ${asked.by}`, true, watch);
    if (out.revision) r.lastManual = { ...r.lastManual, revision: out.revision };
    return out;
  }

  /**
   * What a sync of `r` asked by `asked` does now: `refused` by its project (nothing fetched), held back (`skip` fetches
   * nothing, `preview` compares), or `sync`.
   */
  private syncDecision(r: AppRunner, asked: SyncRequest | undefined): SyncDecision | { kind: 'refused' } {
    const input = policyInput(this.projectSet, r.config);
    if (!input.suspended && r.sync.app.policy?.refusal()) return { kind: 'refused' };
    return decideSync(input, asked, new Date());
  }

  /**
   * A turn that applies nothing: suspended does nothing at all; otherwise the newest revision is fetched, rendered
   * and dry-run against the cluster, the app shows OutOfSync with why it waits, and that revision gets a `pending`
   * status saying so (`awaiting sync: 3 to apply, 1 to prune`).
   */
  private async holdApp(r: AppRunner, decision: { kind: 'preview' | 'skip'; reason: string }): Promise<SyncOutcome> {
    const startedAt = new Date();
    const t0 = performance.now();
    if (decision.kind === 'skip') r.sync.hold(decision.reason);
    else {
      try {
        await r.sync.preview((p) =>
          heldText(decision.reason, {
            toApply: p.toApply.length,
            toPrune: p.toPrune.length,
            refused: p.refused.length,
          }),
        );
      } catch (err) {
        r.sync.hold(`${decision.reason}; comparing with Git failed: ${describeError(err)}`, 'Unknown');
      }
      this.postHeld(r);
    }
    r.attempted = true;
    r.changes++;
    const state = r.sync.state;
    return {
      revision: state.revision ?? '',
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      entries: [],
      noop: true,
      health: state.health,
      desired: [...r.sync.desiredObjects],
    };
  }

  /** A `pending` status on a revision the agent holds back, saying why; once per revision and reason. */
  private postHeld(r: AppRunner): void {
    const state = r.sync.state;
    const revision = state.revision;
    const reporter = this.parts.reporter;
    if (!reporter || !r.repo || !revision || !state.held || revision === state.lastSync?.revision) return;
    const key = `${revision}#${state.held}`;
    if (r.heldPosted === key) return;
    r.heldPosted = key;
    reporter.report(
      { ...r.repo, sha: revision },
      statusFor(state, { cluster: this.cluster, publicUrl: this.parts.config.publicUrl, progress: state.held }),
    );
  }

  /**
   * One sync of one app, with its status, events, metrics and (unless `watch` is false) the self-heal and
   * descendant watches updated.
   */
  private async applyApp(
    r: AppRunner,
    reason: string,
    force = false,
    watch = true,
    automated = false,
  ): Promise<SyncOutcome> {
    const log = this.log.with({ app: r.config.name });
    const previousRevision = r.sync.state.lastSync?.revision;
    const reporter = this.parts.reporter;
    if (r.forceNext) force = true;
    r.forceNext = false;
    r.current = r.sync.sync({
      force,
      signal: AbortSignal.any([this.abort.signal, r.abort.signal]),
      // An automated turn does not re-apply a revision whose sync failed before its retry is due, nor once its
      // retries are used up (Argo CD's syncPolicy.retry); a new revision applies at once.
      ...(automated
        ? {
            hold: (revision: string) => {
              const d = retryDecision(r.retry, revision, r.config.retry, Date.now());
              return d.kind === 'apply' ? undefined : d.reason;
            },
          }
        : {}),
      // The resource tree watches the new revision's namespaces before its applies create ReplicaSets and Pods.
      ...(watch ? { onRendered: (desired: readonly K8sObject[]) => this.trackDescendants(r, desired) } : {}),
      // A new revision starts syncing: say so (`pending`) on that commit before the apply.
      onStart: (revision) => {
        if (!reporter || !r.repo) return;
        reporter.report(
          { ...r.repo, sha: revision },
          statusFor(r.sync.state, {
            cluster: this.cluster,
            publicUrl: this.parts.config.publicUrl,
            progress: `Syncing ${revision.slice(0, 7)}`,
          }),
        );
      },
    });
    const out = await r.current;
    r.current = undefined;
    r.attempted = true;
    r.changes++;
    recordSync(this.metrics, r.config.name, out);
    // A turn held back by the retries leaves them as they are; any other outcome counts (or clears) them. The loop's
    // wake-up moves only when they changed: a failed fetch during a retry must not schedule one in the past (a spin);
    // the failed revision is then tried at the next poll.
    const automatedApp = policyInput(this.projectSet, r.config).syncPolicy === 'automated';
    const retry =
      out.waiting === undefined ? afterSync(r.retry, out, r.config.retry, Date.now(), automatedApp) : r.retry;
    if (retry !== r.retry) {
      r.retry = retry;
      r.loop.retryAt(retry?.nextAt);
    }
    if (out.error?.stage === 'cluster') this.markUnreachable(out.error.message);
    else if (out.error?.stage !== 'cancelled' && out.error?.stage !== 'fetch' && out.error?.stage !== 'project')
      this.clusterReachable = true;
    if (out.error)
      log.warn('sync failed', {
        revision: out.revision,
        reason,
        stage: out.error.stage,
        error: out.error.message,
        ...(r.retry && countsAsAttempt(out) ? { attempt: r.retry.failures, nextRetryAt: r.retry.nextAt } : {}),
      });
    else if (!out.noop) {
      const counts: Record<string, number> = {};
      for (const e of out.entries) counts[e.action] = (counts[e.action] ?? 0) + 1;
      log.info('synced', {
        revision: out.revision,
        reason,
        durationMs: out.durationMs,
        ...counts,
        health: out.health.status,
      });
      for (const e of out.entries.filter((x) => x.action !== 'unchanged')) {
        log.info(`object ${e.action}`, {
          revision: out.revision,
          object: e.subject,
          ...(e.reason ? { reason: e.reason } : {}),
        });
      }
    }
    for (const e of syncEvents(out, previousRevision)) void this.recordEvent(r, e);
    // A sync that ran on while its app was let go (it stops between requests) starts no watch: the app is not ours.
    if (watch && out.error?.stage !== 'fetch' && this.owns(r.config.name)) {
      try {
        await r.heal.update();
      } catch (err) {
        log.warn('self-heal watch failed', { error: describeError(err) });
      }
      // What the sync kept (a failed render keeps the last set; refused objects were never applied).
      this.trackDescendants(r, r.sync.desiredObjects);
    }
    const refused = out.error?.stage === 'project' ? await this.reportRefusal(r, out.error.message) : undefined;
    if (out.error?.stage !== 'project') r.refusal = undefined;
    const posted = refused ? refused.status : !out.noop || !r.reported ? this.postStatus(r, true) : undefined;
    const replica = this.replicaIdentity();
    const attempt = out.error && r.retry && countsAsAttempt(out) ? r.retry.failures : undefined;
    const entry = {
      ...syncHistoryEntry(out, reason, posted),
      // A refused turn fetched nothing: its row names the commit the refusal was reported on.
      ...(refused ? { revision: refused.sha } : {}),
      ...(attempt !== undefined ? { attempt } : {}),
      ...(out.waiting ? { waiting: out.waiting } : {}),
      ...(replica ? { replica } : {}),
    };
    const previous = this.syncHistory.get(r.config.name).syncs.find((e) => !e.noop);
    this.syncHistory.recordSync(r.config.name, entry);
    // One write per finished sync that did something (see persistWorthy), so a restart shows the history again.
    if (persistWorthy(entry, previous)) {
      const problem = await writePersistedHistory(this.parts, r.sync.parent, this.syncHistory.get(r.config.name).syncs);
      if (problem) log.warn('sync history not persisted', { error: problem });
    }
    // Statuses of commits no app is on any more are never posted again: forget them so memory stays bounded.
    reporter?.prune(
      new Set([
        ...[...this.runners.values()].flatMap((x) => x.sync.state.lastSync?.revision ?? []),
        ...[...this.runners.values()].flatMap((x) => x.refusal?.sha ?? []),
        ...this.appSources().flatMap((v) => v.revision ?? []),
      ]),
    );
    return out;
  }

  /**
   * Reports an app its project refuses before any fetch on the commit its ref points at now, read from the remote's
   * ref listing (nothing is fetched): `error` `Refused: …`, so whoever waits on that commit's status (a promotion
   * gate) sees why instead of waiting for ever. Once per commit and refusal, not every turn. When the ref cannot be
   * read nothing is posted (the app's state says why it did not sync, as before); returns the commit and, when newly
   * asked for, the status. The Git credentials go only to a repo someone vouched for: the config file's (the operator
   * wrote it) or one the app's project lets it fetch. An App document from Git naming a repo its project refuses, or
   * a project nobody defined, is listed without them: `sourceRepos` is what keeps the token from hosts a document
   * names, and a refusal must not hand it over.
   */
  private async reportRefusal(
    r: AppRunner,
    refusal: string,
  ): Promise<{ sha: string; status?: CommitStatus } | undefined> {
    const reporter = this.parts.reporter;
    if (!reporter || !r.repo) return undefined;
    let sha: string;
    try {
      const vouched = r.definedBy === CONFIG_ORIGIN || r.sync.app.policy?.vouchesForRepo() === true;
      sha = await r.sync.headCommit({ credentials: vouched });
    } catch (err) {
      this.log.warn('refused app gets no commit status: its ref could not be read', {
        app: r.config.name,
        refusal,
        error: describeError(err),
      });
      return undefined;
    }
    const status = statusFor(r.sync.state, { cluster: this.cluster, publicUrl: this.parts.config.publicUrl });
    if (r.refusal?.sha === sha && r.refusal.description === status.description) return { sha };
    r.refusal = { sha, description: status.description };
    reporter.report({ ...r.repo, sha }, status);
    return { sha, status };
  }

  /**
   * Sets the namespaces the resource tree watches for `r`: those of its objects that own ReplicaSets, Jobs or Pods.
   * Nothing for an app removed (or replaced by a new definition) or let go to another replica meanwhile: its sync may
   * still finish after removeApp or the hand-over released its namespaces, and must not take them back.
   */
  private trackDescendants(r: AppRunner, desired: readonly K8sObject[]): void {
    if (this.runners.get(r.config.name) !== r || !this.owns(r.config.name)) return;
    this.descendants.track(r.config.name, ownerNamespaces(desired));
  }

  /**
   * Whether someone synced an app that gave up retrying from another process (`tether sync --once`) since its last
   * attempt here: that sync's entry is on top of the persisted history. One that succeeded at the revision given up on
   * is taken as this agent's own (the turn is a no-op: no apply, no hook re-run); a manual one that failed re-arms
   * the retries as a manual sync through this agent does. Either way its entries join the history in memory, so the
   * next write keeps them. One GET per turn, only while the app waits.
   */
  private async syncedElsewhere(r: AppRunner): Promise<boolean> {
    const retry = r.retry;
    if (!retry || !retriesExhausted(r.config.retry, retry)) return false;
    const last = this.syncHistory.get(r.config.name).syncs.find((e) => e.attempt !== undefined);
    if (!last) return false;
    let persisted: SyncHistoryEntry[];
    try {
      persisted = await readPersistedHistory(this.parts, r.sync.parent);
    } catch {
      return false;
    }
    const top = persisted.find((e) => !e.noop);
    if (!top || Date.parse(top.startedAt) <= Date.parse(last.startedAt)) return false;
    // Error-free is not enough: a sync that left a conflict or a blocked prune has no error, yet did not converge.
    const succeeded =
      !top.error && top.counts.failed === 0 && top.status?.state !== 'failure' && top.revision === retry.revision;
    if (!succeeded && top.trigger !== 'api') return false;
    this.syncHistory.restore(r.config.name, persisted);
    if (succeeded) {
      try {
        await r.sync.adoptSync(top.revision, top.startedAt);
      } catch (err) {
        // Not readable here: the turn syncs the revision as a manual sync would.
        this.log.debug('sync made elsewhere not taken over', { app: r.config.name, error: describeError(err) });
      }
    }
    return true;
  }

  /** Reads the app's persisted history back (a restart keeps it); a failure is logged and the history starts empty. */
  private async restoreHistory(r: AppRunner): Promise<void> {
    try {
      this.syncHistory.restore(r.config.name, await readPersistedHistory(this.parts, r.sync.parent));
    } catch (err) {
      // Tried again before the next sync (the cluster may be unreachable at start-up).
      r.historyRead = undefined;
      this.log.debug('persisted sync history not read', { app: r.config.name, error: describeError(err) });
    }
  }

  /** Reports the app's status when it changed (or `force`); returns the status asked for, if any. */
  private postStatus(r: AppRunner, force = false): CommitStatus | undefined {
    const state = r.sync.state;
    const revision = state.lastSync?.revision;
    const reporter = this.parts.reporter;
    if (!reporter || !r.repo || !revision) return undefined;
    if (saysNothingAboutCommit(state)) return undefined;
    const status = statusFor(state, { cluster: this.cluster, publicUrl: this.parts.config.publicUrl });
    if (
      !force &&
      r.reported?.revision === revision &&
      r.reported.state === status.state &&
      r.reported.health === state.health.status
    ) {
      r.dipSince = undefined;
      return undefined;
    }
    if (!force) {
      const hold = holdDip(r.reported, { revision, state: status.state }, r.dipSince, Date.now());
      r.dipSince = hold.dipSince;
      if (!hold.post) return undefined;
    }
    r.reported = { revision, health: state.health.status, state: status.state };
    // The last attempt says that nothing more will be tried, and what gets the app going again.
    const final =
      r.retry?.revision === revision && retriesExhausted(r.config.retry, r.retry) && status.state === 'failure'
        ? withNote(status, gaveUpText(r.retry))
        : status;
    reporter.report({ ...r.repo, sha: revision }, final);
    return final;
  }

  /**
   * The apiserver could not be reached: not ready (so a Service stops sending webhooks here and an operator sees it),
   * and a probe with capped exponential backoff and jitter watches for it to come back, then syncs the apps that
   * met the outage at once instead of at their next interval.
   */
  private markUnreachable(reason: string): void {
    if (this.clusterReachable || !this.probeTimer) this.log.error('cluster unreachable', { error: reason });
    this.clusterReachable = false;
    this.unreachableReason = reason;
    if (this.probeTimer) return;
    const schedule = () => {
      const base = Math.min(30_000, 1000 * 2 ** this.probeAttempt);
      this.probeAttempt++;
      this.probeTimer = setTimeout(probe, base * (0.8 + Math.random() * 0.4));
      this.probeTimer.unref?.();
    };
    const probe = async () => {
      try {
        await this.parts.kube.ping();
        await this.parts.discovery.refresh();
      } catch (err) {
        this.unreachableReason = `cluster unreachable: ${describeError(err)}`;
        schedule();
        return;
      }
      this.probeTimer = undefined;
      this.probeAttempt = 0;
      this.clusterReachable = true;
      this.log.info('cluster reachable again');
      for (const r of this.runners.values()) {
        const stage = r.sync.state.lastSync?.error?.stage;
        if (stage === 'cluster' || !r.attempted) r.loop.request('cluster reachable again');
      }
    };
    schedule();
  }

  /** Health from the watch-fed live objects, no requests; a change of health posts a status. */
  private checkHealth(): void {
    for (const r of this.runners.values()) {
      // A sync window can open between two syncs: self-heal stops writing as soon as it does.
      if (!r.active) continue;
      r.heal.options.enabled = this.healEnabled(r.config);
      if (!r.attempted || r.current || r.sync.state.lastSync?.error) continue;
      const health = r.sync.healthNow();
      if (health.status !== r.sync.state.health.status || health.message !== r.sync.state.health.message) {
        r.sync.state = { ...r.sync.state, health };
      }
      this.postStatus(r);
    }
  }

  private onHeal(r: AppRunner, e: HealEvent): void {
    const name = r.config.name;
    r.changes++;
    this.log.info(e.mode === 'healed' ? 'drift healed' : 'drift detected', {
      app: name,
      object: e.subject,
      action: e.entry.action,
      latencyMs: Math.round(e.latencyMs),
      ...(e.entry.reason ? { reason: e.entry.reason } : {}),
    });
    if (e.mode === 'healed' && e.entry.action !== 'failed') recordHeal(this.metrics, name);
    r.lastHeal = {
      subject: e.subject,
      at: new Date().toISOString(),
      latencyMs: Math.round(e.latencyMs),
      action: e.entry.action,
      ...(e.entry.reason ? { reason: e.entry.reason } : {}),
    };
    const replica = this.replicaIdentity();
    this.syncHistory.recordHeal(name, {
      subject: e.subject,
      at: r.lastHeal.at,
      action: e.entry.action,
      latencyMs: r.lastHeal.latencyMs,
      mode: e.mode,
      ...(e.entry.reason ? { reason: e.entry.reason } : {}),
      ...(replica ? { replica } : {}),
    });
    void this.recordEvent(r, healEvent(e.mode, e.subject, e.entry));
  }

  /** A Kubernetes Event on the app's ApplySet parent; failures are logged, never fatal. */
  private async recordEvent(r: AppRunner, e: AppEvent): Promise<void> {
    const p = r.sync.parent;
    try {
      await this.parts.kube.createEvent({
        involvedObject: { apiVersion: 'v1', kind: p.kind, name: p.name, namespace: p.namespace },
        ...e,
        component: 'tether',
      });
    } catch (err) {
      this.log.debug('event not recorded', { error: describeError(err) });
    }
  }

  // ---- AgentView ----

  apps(): AppView[] {
    // Sharded: the apps this replica holds (another replica reports the others).
    return [...this.runners.keys()].filter((n) => this.owns(n)).map((n) => this.app(n)!);
  }

  /** The shard map as this replica sees it; undefined unless sharded. */
  shardMap(): ShardMapView | undefined {
    return this.parts.shards?.view();
  }

  /** Sharded: the replica holding `name`'s shard when it is not this one; undefined when this replica holds it. */
  heldElsewhere(name: string): { shard: number; holder: string } | undefined {
    const gate = this.parts.shards;
    if (!gate || gate.owns(name)) return undefined;
    return gate.holderOf(name);
  }

  app(name: string): AppView | undefined {
    const r = this.runners.get(name);
    if (!r) return undefined;
    // Sharded and held by another replica: this one knows nothing current of the app (it forgot its cluster state on
    // the hand-over), so it says where the verdict is rather than "not synced yet".
    const elsewhere = this.heldElsewhere(name);
    const state: AppState = elsewhere
      ? { app: name, sync: 'Unknown', health: { status: 'Unknown', message: notHeldText(name, elsewhere) } }
      : r.sync.state;
    return appView({
      name,
      repo: r.config.repo,
      ref: r.config.ref,
      path: r.config.path,
      origin: r.origin,
      state,
      desired: r.sync.desiredObjects,
      live: r.sync.live,
      ...(r.repo ? { github: r.repo } : {}),
      ...(this.parts.config.github?.apiUrl ? { apiUrl: this.parts.config.github.apiUrl } : {}),
      ...(r.lastHeal ? { lastHeal: r.lastHeal } : {}),
      health: r.sync.healthContext(),
      policy: policyView(this.projectSet, r.config, new Date()),
      ...(r.lastManual ? { lastManualSync: r.lastManual } : {}),
      ...(r.retry ? { retry: retryView(r.retry, r.config.retry) } : {}),
    });
  }

  /** Every project with its apps (the API's /api/projects, the page, `tether status`). */
  projects(): ProjectView[] {
    return projectViews(
      this.projectSet,
      [...this.runners.values()].map((r) => r.config),
      new Date(),
    );
  }

  requestManualSync(name: string, by: string): ManualSyncAnswer {
    const r = this.runners.get(name);
    if (!r) return { accepted: false, status: 404, error: `no app named ${name}` };
    const elsewhere = this.heldElsewhere(name);
    if (elsewhere) return { accepted: false, status: 409, error: notHeldText(name, elsewhere), ...elsewhere };
    const refusal =
      manualSyncRefusal(policyInput(this.projectSet, r.config), new Date()) ?? r.sync.app.policy?.refusal();
    if (refusal) return { accepted: false, status: 409, error: `manual sync of ${name} refused: ${refusal}` };
    r.manualRequest = { by, at: new Date().toISOString() };
    r.loop.request(`manual sync by ${by}`);
    return { accepted: true };
  }

  /**
   * The diff of the last synced revision's objects against the cluster (the same judgement as `tether diff`),
   * computed once per revision and drift event: read-only pages are public and reload themselves, so a page view
   * must not cost the apiserver a dry-run per object. Concurrent views share one computation.
   */
  async diff(name: string): Promise<string> {
    const r = this.runners.get(name);
    if (!r) return '';
    // A held-back app's diff is what a sync would apply: its newest revision against the cluster.
    const key = `${r.sync.state.lastSync?.revision ?? ''}#${r.changes}#${r.sync.state.held ?? ''}`;
    if (r.diffCache?.key !== key) {
      const computing = inspectObjects(this.parts, r.sync.awaitingObjects, {
        concurrency: 8,
        health: r.sync.healthContext(),
      }).then(diffText);
      r.diffCache = { key, diff: computing };
      // A failed computation is not remembered: the next view tries again.
      computing.catch(() => {
        if (r.diffCache?.diff === computing) r.diffCache = undefined;
      });
    }
    return r.diffCache.diff;
  }

  /** Fetches and renders the app's newest revision and judges it against the cluster, writing nothing. */
  async inspect(name: string): Promise<Inspection> {
    const r = this.runners.get(name);
    if (!r) throw new Error(`no app named ${name}`);
    return r.sync.inspect();
  }

  requestSync(name: string, reason: string): boolean {
    const r = this.runners.get(name);
    if (!r || !this.owns(name)) return false;
    r.loop.request(reason);
    return true;
  }

  planPullRequest(pr: PullRequestRef): string[] {
    return this.planner?.handle(pr) ?? [];
  }

  appsForPush(repoFullName: string, ref: string): string[] {
    const branch = ref.replace(/^refs\/heads\//, '');
    return [...this.runners.values()]
      .filter(
        (r) =>
          r.repo &&
          `${r.repo.owner}/${r.repo.repo}`.toLowerCase() === repoFullName.toLowerCase() &&
          r.config.ref === branch,
      )
      .map((r) => r.config.name);
  }

  /** Sharded: records a push for the other replicas; undefined when not sharded. */
  signalPush(push: PushSignal): Promise<PushSignalAnswer> | undefined {
    const signals = this.parts.pushSignals;
    if (!signals) return undefined;
    // GitHub gives a delivery 10 s: a write the apiserver is slow to answer is reported as not signalled in time.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('not recorded within 5 s')), 5000);
    });
    return Promise.race([signals.record(push), late])
      .then((): PushSignalAnswer => ({ signalled: true }))
      .catch((err): PushSignalAnswer => {
        const error = describeError(err);
        this.log.warn('push not signalled to the other replicas: they sync at their interval', {
          repo: push.repo,
          ref: push.ref,
          error,
        });
        return { signalled: false, error };
      })
      .finally(() => clearTimeout(timer));
  }

  /** A push another replica received: wakes the apps this replica holds, and the app sources, that follow it. */
  private onSignalledPush(p: PushRecord): void {
    const reason = `webhook push ${p.after ? `${p.after.slice(0, 7)} ` : ''}received by ${p.by}`;
    const apps = this.appsForPush(p.repo, p.ref).filter((n) => this.requestSync(n, reason));
    const sources = this.requestSourcesForPush(p.repo, p.ref, reason);
    if (apps.length + sources.length > 0)
      this.log.info('woken by a push another replica received', { by: p.by, repo: p.repo, ref: p.ref, apps, sources });
  }

  ready(): { ready: boolean; reason?: string } {
    if (!this.clusterReachable) return { ready: false, reason: this.unreachableReason };
    // Sharded: ready while the shard leases are read and renewed, holding shards or waiting for a share (a
    // replica's shards change as replicas come and go; readiness must not flap with them).
    const problem = this.parts.shards?.problem();
    if (this.parts.shards) return problem ? { ready: false, reason: problem } : { ready: true };
    // A standby is not ready, so the Service sends webhooks and sync requests to the leader only.
    if (this.parts.elector && !this.parts.elector.isLeader)
      return { ready: false, reason: 'standby: another replica leads' };
    const waiting = [
      ...(this.appSet?.waiting() ?? []),
      ...[...this.runners.values()].filter((r) => !r.attempted).map((r) => r.config.name),
    ];
    return waiting.length
      ? { ready: false, reason: `first sync not attempted: ${waiting.join(', ')}` }
      : { ready: true };
  }

  tree(name: string): AppTree | undefined {
    const r = this.runners.get(name);
    if (!r) return undefined;
    const desired = r.sync.desiredObjects;
    const { objects, complete, errors } = this.descendants.objects(ownerNamespaces(desired));
    return { nodes: buildResourceTree(desired, r.sync.live, objects, r.sync.healthContext()), complete, errors };
  }

  async fleet(name: string): Promise<FleetView | undefined> {
    const r = this.runners.get(name);
    if (!r) return undefined;
    const base = { repo: r.config.repo, ref: r.config.ref, rows: [], commitsRead: 0 };
    if (!r.repo) return { ...base, note: 'the repo is not on GitHub: no commit statuses to read' };
    if (!this.parts.fleet) return { ...base, note: 'no GitHub credentials configured: statuses cannot be read' };
    return this.parts.fleet.read(r.repo.owner, r.repo.repo, r.config.ref, name);
  }

  history(name: string): AppHistory | undefined {
    const r = this.runners.get(name);
    if (!r) return undefined;
    const h = this.syncHistory.get(name);
    const reporter = this.parts.reporter;
    const repo = r.repo;
    if (!reporter || !repo) return h;
    return {
      ...h,
      syncs: h.syncs.map((e) =>
        e.status
          ? { ...e, status: { ...e.status, delivery: reporter.delivery({ ...repo, sha: e.revision }, e.status) } }
          : e,
      ),
    };
  }

  /** The syncs persisted on the app's ApplySet parent (for `tether status`, which runs no sync of its own). */
  async persistedHistory(name: string): Promise<SyncHistoryEntry[]> {
    const r = this.runners.get(name);
    return r ? readPersistedHistory(this.parts, r.sync.parent) : [];
  }

  liveObject(app: string, subj: string): K8sObject | undefined {
    const r = this.runners.get(app);
    return r?.sync.desiredObjects.map((o) => r.sync.live.get(objectKey(o))).find((o) => o && subject(o) === subj);
  }

  /** Whether this replica leads (always true without leader election; sharded: while it holds a shard). */
  get isLeader(): boolean {
    if (this.parts.shards) return this.running && this.parts.shards.heldCount() > 0;
    return this.parts.elector ? this.parts.elector.isLeader : this.running;
  }

  /**
   * Syncs one app now, outside the loop (the CLI's `sync --once`), as a manual sync asked for by `requestedBy`;
   * throws for an unknown app. `watch: false` (a one-shot command that exits after it) starts no self-heal or
   * descendant watches: their first lists would read every object of the app again for nothing.
   */
  async syncNow(
    name: string,
    reason = 'manual',
    requestedBy = 'cli',
    options: { watch?: boolean } = {},
  ): Promise<SyncOutcome> {
    const r = this.runners.get(name);
    if (!r) throw new Error(`no app named ${name}`);
    const request = { by: requestedBy, at: new Date().toISOString() };
    if (!this.clusterReachable) {
      // The cluster is checked before the first sync of a one-shot command; the Git fetch that sync will make starts
      // meanwhile (the sync's own fetch joins it), unless the sync would fetch nothing. Should the check fail, the
      // fetch is given up: no sync follows, and a one-shot command would otherwise wait for it before it exits.
      const prefetch = new AbortController();
      const decision = this.syncDecision(r, request);
      if (decision.kind === 'sync' || decision.kind === 'preview') r.sync.prefetch(prefetch.signal);
      try {
        await this.parts.discovery.refresh();
      } catch (err) {
        prefetch.abort();
        throw err;
      }
      this.clusterReachable = true;
    }
    return this.syncApp(r, reason, request, options.watch ?? true);
  }

  /** Re-reads an app's health from the cluster and posts its status when that changed (the CLI's waiting `sync --once`). */
  async refreshHealthNow(name: string): Promise<HealthResult> {
    const r = this.runners.get(name);
    if (!r) throw new Error(`no app named ${name}`);
    const health = await r.sync.refreshHealth();
    this.postStatus(r);
    return health;
  }

  /** The sync engine of an app (tests, CLI). */
  appSync(name: string): AppSync | undefined {
    return this.runners.get(name)?.sync;
  }
}

/** Why a replica does not sync an app: another replica (or none yet) holds its shard. */
function notHeldText(name: string, at: { shard: number; holder: string }): string {
  return at.holder
    ? `app ${name} is in shard ${at.shard}, held by replica ${at.holder}: ask that replica`
    : `app ${name} is in shard ${at.shard}, which no replica holds right now: retry shortly`;
}

/** What the planner needs of an app that asks for plans. */
function planTarget(r: AppRunner, repo: { owner: string; repo: string }, source: PlanSource): PlanTarget {
  return {
    name: r.config.name,
    repo,
    ref: r.config.ref,
    path: r.config.path,
    spec: r.sync.app,
    parent: r.sync.parent,
    source,
    intervalMs: r.config.interval,
  };
}
