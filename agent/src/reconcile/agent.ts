import { describeError } from '../../../shared/src/errors.ts';
import { repoFromUrl } from '../../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../../shared/src/log.ts';
import { type AgentConfig, type AppConfig, configHealthRules, helmOptions } from '../config.ts';
import { emptyMetrics, recordHeal, recordSync } from '../core/agent-metrics.ts';
import { type AgentMetrics, type AgentView, type AppView, appView, type HealView } from '../core/agent-view.ts';
import { type AppEvent, healEvent, syncEvents } from '../core/app-events.ts';
import { holdDip, saysNothingAboutCommit, statusFor } from '../core/commit-status.ts';
import type { DesiredStateSource, Renderer } from '../core/desired-state.ts';
import { diffText, type Inspection } from '../core/inspection.ts';
import type { KubeClient } from '../core/kube-port.ts';
import { objectKey, subject } from '../core/objects.ts';
import type { HealthResult, HealthStatus, K8sObject } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import { AppLoop } from './app-loop.ts';
import { inspectObjects } from './inspect.ts';
import type { LeaderElector } from './leader.ts';
import { type HealEvent, SelfHeal } from './self-heal.ts';
import type { StatusReporter } from './status-reporter.ts';
import { AppSync, pruneOptions, type SyncOutcome } from './sync.ts';
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
  /** Health is recomputed from watched objects this often (no requests). */
  healthIntervalMs?: number;
}

interface AppRunner {
  config: AppConfig;
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
  /** One watch per group-kind, shared by every app's self-heal. */
  private readonly watchHub: WatchHub;

  constructor(private readonly parts: AgentParts) {
    this.watchHub = new WatchHub(parts);
    const { config } = parts;
    this.cluster = config.cluster;
    this.metrics = parts.metrics ?? emptyMetrics();
    this.log = (parts.log ?? silentLogger).with({ cluster: config.cluster });
    for (const app of config.apps) {
      const source = parts.sources.get(app.name);
      if (!source) throw new Error(`no desired-state source for app ${app.name}`);
      this.addApp(app, source);
    }
  }

  private addApp(app: AppConfig, source: DesiredStateSource): void {
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
        ignoreDifferences: app.ignoreDifferences.map((r) => ({
          group: r.group,
          kind: r.kind,
          jsonPointers: r.jsonPointers,
          ...(r.name !== undefined ? { name: r.name } : {}),
          ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
        })),
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
      sync,
      heal: undefined as unknown as SelfHeal,
      loop: undefined as unknown as AppLoop,
      repo: repoFromUrl(app.repo),
      attempted: false,
      changes: 0,
    };
    runner.heal = new SelfHeal(sync, { kube, discovery, hub: this.watchHub }, { enabled: app.selfHeal }, (e) =>
      this.onHeal(runner, e),
    );
    runner.loop = new AppLoop(
      app.interval,
      (reason) => this.syncApp(runner, reason),
      (err) => this.log.error('sync crashed; retrying with backoff', { app: app.name, error: describeError(err) }),
    );
    this.runners.set(app.name, runner);
  }

  /** Starts syncing (directly, or once elected leader). */
  async start(): Promise<void> {
    try {
      await this.parts.discovery.refresh();
      this.clusterReachable = true;
    } catch (err) {
      this.markUnreachable(describeError(err));
    }
    if (this.parts.elector)
      this.parts.elector.start({
        onStartedLeading: () => this.startApps(),
        onStoppedLeading: () => void this.stopApps(),
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
    await this.parts.elector?.stop();
    await this.parts.reporter?.flush(5000);
    this.parts.reporter?.stop();
  }

  /** Resolves when every queued commit status is posted (tests). */
  async flushStatuses(): Promise<void> {
    await this.parts.reporter?.flush();
  }

  private startApps(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    for (const r of this.runners.values()) r.loop.start();
    this.healthTimer = setInterval(() => this.checkHealth(), this.parts.healthIntervalMs ?? 1000);
  }

  private async stopApps(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    clearInterval(this.healthTimer);
    await Promise.all([...this.runners.values()].map((r) => r.loop.stop()));
    await Promise.all([...this.runners.values()].map((r) => r.heal.stop()));
  }

  /** One sync of one app, with its status, events, metrics and self-heal update. */
  private async syncApp(r: AppRunner, reason: string): Promise<SyncOutcome> {
    const log = this.log.with({ app: r.config.name });
    const previousRevision = r.sync.state.lastSync?.revision;
    const reporter = this.parts.reporter;
    r.current = r.sync.sync({
      signal: this.abort.signal,
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
    if (out.error?.stage === 'cluster') this.markUnreachable(out.error.message);
    else if (out.error?.stage !== 'cancelled' && out.error?.stage !== 'fetch') this.clusterReachable = true;
    if (out.error)
      log.warn('sync failed', { revision: out.revision, reason, stage: out.error.stage, error: out.error.message });
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
    if (out.error?.stage !== 'fetch') {
      try {
        await r.heal.update();
      } catch (err) {
        log.warn('self-heal watch failed', { error: describeError(err) });
      }
    }
    if (!out.noop || !r.reported) this.postStatus(r, true);
    // Statuses of commits no app is on any more are never posted again: forget them so memory stays bounded.
    reporter?.prune(new Set([...this.runners.values()].flatMap((x) => x.sync.state.lastSync?.revision ?? [])));
    return out;
  }

  private postStatus(r: AppRunner, force = false): void {
    const state = r.sync.state;
    const revision = state.lastSync?.revision;
    const reporter = this.parts.reporter;
    if (!reporter || !r.repo || !revision) return;
    if (saysNothingAboutCommit(state)) return;
    const status = statusFor(state, { cluster: this.cluster, publicUrl: this.parts.config.publicUrl });
    if (
      !force &&
      r.reported?.revision === revision &&
      r.reported.state === status.state &&
      r.reported.health === state.health.status
    ) {
      r.dipSince = undefined;
      return;
    }
    if (!force) {
      const hold = holdDip(r.reported, { revision, state: status.state }, r.dipSince, Date.now());
      r.dipSince = hold.dipSince;
      if (!hold.post) return;
    }
    r.reported = { revision, health: state.health.status, state: status.state };
    reporter.report({ ...r.repo, sha: revision }, status);
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
    return [...this.runners.keys()].map((n) => this.app(n)!);
  }

  app(name: string): AppView | undefined {
    const r = this.runners.get(name);
    if (!r) return undefined;
    return appView({
      name,
      repo: r.config.repo,
      ref: r.config.ref,
      path: r.config.path,
      state: r.sync.state,
      desired: r.sync.desiredObjects,
      live: r.sync.live,
      ...(r.repo ? { github: r.repo } : {}),
      ...(this.parts.config.github?.apiUrl ? { apiUrl: this.parts.config.github.apiUrl } : {}),
      ...(r.lastHeal ? { lastHeal: r.lastHeal } : {}),
      health: r.sync.healthContext(),
    });
  }

  /**
   * The diff of the last synced revision's objects against the cluster (the same judgement as `tether diff`),
   * computed once per revision and drift event: read-only pages are public and reload themselves, so a page view
   * must not cost the apiserver a dry-run per object. Concurrent views share one computation.
   */
  async diff(name: string): Promise<string> {
    const r = this.runners.get(name);
    if (!r) return '';
    const key = `${r.sync.state.lastSync?.revision ?? ''}#${r.changes}`;
    if (r.diffCache?.key !== key) {
      const computing = inspectObjects(this.parts, r.sync.desiredObjects, {
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
    if (!r) return false;
    r.loop.request(reason);
    return true;
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

  ready(): { ready: boolean; reason?: string } {
    if (!this.clusterReachable) return { ready: false, reason: this.unreachableReason };
    // A standby is not ready, so the Service sends webhooks and sync requests to the leader only.
    if (this.parts.elector && !this.parts.elector.isLeader)
      return { ready: false, reason: 'standby: another replica leads' };
    const waiting = [...this.runners.values()].filter((r) => !r.attempted).map((r) => r.config.name);
    return waiting.length
      ? { ready: false, reason: `first sync not attempted: ${waiting.join(', ')}` }
      : { ready: true };
  }

  liveObject(app: string, subj: string): K8sObject | undefined {
    const r = this.runners.get(app);
    return r?.sync.desiredObjects.map((o) => r.sync.live.get(objectKey(o))).find((o) => o && subject(o) === subj);
  }

  /** Whether this replica leads (always true without leader election). */
  get isLeader(): boolean {
    return this.parts.elector ? this.parts.elector.isLeader : this.running;
  }

  /** Syncs one app now, outside the loop (the CLI's `sync --once`); throws for an unknown app. */
  async syncNow(name: string, reason = 'manual'): Promise<SyncOutcome> {
    const r = this.runners.get(name);
    if (!r) throw new Error(`no app named ${name}`);
    if (!this.clusterReachable) {
      await this.parts.discovery.refresh();
      this.clusterReachable = true;
    }
    return this.syncApp(r, reason);
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
