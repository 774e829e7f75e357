import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../../shared/src/errors.ts';
import { createGitHub, type GitHubClient, repoFromUrl } from '../../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../../shared/src/log.ts';
import { type AgentConfig, type AppConfig, configHealthRules, helmOptions } from '../config.ts';
import type { AgentMetrics, AgentView, AppView, HealView, ResourceView } from '../core/agent-view.ts';
import { holdDip, statusFor } from '../core/commit-status.ts';
import { diff } from '../core/drift.ts';
import { objectHealth } from '../core/health.ts';
import { objectKey, refOf, subject } from '../core/objects.ts';
import type { HealthResult, HealthStatus, K8sObject } from '../core/types.ts';
import { GitSource } from '../edges/git/git-source.ts';
import { githubAppProvider, type TokenProvider, tokenFileProvider } from '../edges/github/github-auth.ts';
import { Discovery } from '../edges/kube/discovery.ts';
import type { HttpKubeClient } from '../edges/kube/kube-client.ts';
import { LeaderElector } from './leader.ts';
import { type HealEvent, SelfHeal } from './self-heal.ts';
import { StatusReporter } from './status-reporter.ts';
import { AppSync, type DesiredStateSource, pruneOptions, type SyncOutcome } from './sync.ts';

/** What the agent is given besides its configuration (STYLE.md #4). */
export interface AgentDeps {
  kube: HttpKubeClient;
  log?: Logger;
  /** GitHub client for statuses; default: built from `config.github`. Absent config → no statuses. */
  github?: GitHubClient;
  /** Token for Git fetches; default: from `config.github`. */
  token?: TokenProvider;
  /** Health is recomputed from watched objects this often (no requests). */
  healthIntervalMs?: number;
  /** Identity for leader election; default hostname + pid. */
  identity?: string;
}

interface AppRunner {
  config: AppConfig;
  sync: AppSync;
  heal: SelfHeal;
  source: DesiredStateSource;
  repo?: { owner: string; repo: string };
  wake: () => void;
  pending: string | undefined;
  loop?: Promise<void>;
  current?: Promise<SyncOutcome>;
  lastHeal?: HealView;
  attempted: boolean;
  /** The health last reported in a status, per revision. */
  reported?: { revision: string; health: HealthStatus; state: string };
  /** When the health of a commit reported `success` began to dip (held back for a grace period). */
  dipSince?: number;
}

function emptyMetrics(): AgentMetrics {
  return {
    syncDurationSeconds: new Map(),
    objectsApplied: new Map(),
    objectsPruned: new Map(),
    driftHeals: new Map(),
    gitFetchSeconds: { count: 0, sum: 0 },
    statusesPosted: 0,
    statusesFailed: 0,
  };
}

const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);

/**
 * The agent: one loop per app (interval polling; a webhook or the API wakes it at once), self-heal watches,
 * commit statuses, Kubernetes Events on the ApplySet parent, and leader election so two replicas never both
 * write. Implements AgentView for the HTTP server.
 */
export class Agent implements AgentView {
  readonly cluster: string;
  readonly metrics = emptyMetrics();
  private readonly runners = new Map<string, AppRunner>();
  private readonly log: Logger;
  private readonly reporter: StatusReporter | undefined;
  private readonly discovery: Discovery;
  private readonly elector: LeaderElector | undefined;
  private running = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private clusterReachable = false;

  private constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDeps,
    token: TokenProvider | undefined,
  ) {
    this.cluster = config.cluster;
    this.log = (deps.log ?? silentLogger).with({ cluster: config.cluster });
    this.discovery = new Discovery(deps.kube);
    const github =
      deps.github ??
      (token
        ? createGitHub({ auth: token, baseUrl: config.github?.apiUrl, log: this.log, userAgent: 'tether-agent' })
        : undefined);
    this.reporter = github
      ? new StatusReporter(github, {
          log: this.log,
          onResult: (ok) => {
            if (ok) this.metrics.statusesPosted++;
            else this.metrics.statusesFailed++;
          },
        })
      : undefined;
    if (config.leaderElection.enabled) {
      this.elector = new LeaderElector(
        deps.kube,
        {
          namespace: config.leaderElection.namespace,
          name: config.leaderElection.leaseName ?? `tether-${config.cluster}`,
          identity: deps.identity ?? `${hostname()}-${process.pid}`,
          leaseDurationMs: config.leaderElection.leaseDuration,
          retryMs: config.leaderElection.renewInterval,
          log: this.log,
        },
        { onStartedLeading: () => this.startApps(), onStoppedLeading: () => void this.stopApps() },
      );
    }
  }

  /** Builds the agent and its per-app sources (no network yet). */
  static async create(config: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const token =
      deps.token ??
      (config.github?.app
        ? githubAppProvider({ ...config.github.app, apiUrl: config.github.apiUrl })
        : config.github?.tokenFile
          ? tokenFileProvider(config.github.tokenFile)
          : undefined);
    const agent = new Agent(config, deps, token);
    const gitToken = config.github?.gitTokenFile ? tokenFileProvider(config.github.gitTokenFile) : token;
    const cacheRoot = config.cacheDir ?? join(tmpdir(), 'tether-cache');
    for (const app of config.apps) {
      const source = await GitSource.create({
        url: app.repo,
        ref: app.ref,
        cacheDir: join(cacheRoot, config.cluster, app.name),
        credentials: gitToken ? async () => ({ username: 'x-access-token', password: await gitToken() }) : undefined,
      });
      agent.addApp(app, source);
    }
    return agent;
  }

  private addApp(app: AppConfig, source: DesiredStateSource): void {
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
        }),
        healthRules: configHealthRules(this.config),
        render: { helm: helmOptions(app) },
      },
      {
        kube: this.deps.kube,
        discovery: this.discovery,
        source,
        parent: {
          group: '',
          version: 'v1',
          kind: 'ConfigMap',
          name: `tether-${app.name}`,
          namespace: this.config.inventoryNamespace,
        },
      },
    );
    const runner: AppRunner = {
      config: app,
      sync,
      source,
      heal: undefined as unknown as SelfHeal,
      repo: repoFromUrl(app.repo),
      wake: () => {},
      pending: undefined,
      attempted: false,
    };
    runner.heal = new SelfHeal(
      sync,
      { kube: this.deps.kube, discovery: this.discovery },
      { enabled: app.selfHeal },
      (e) => this.onHeal(runner, e),
    );
    this.runners.set(app.name, runner);
  }

  /** Starts syncing (directly, or once elected leader). */
  async start(): Promise<void> {
    try {
      await this.discovery.refresh();
      this.clusterReachable = true;
    } catch (err) {
      this.log.error('cluster unreachable', { error: describeError(err) });
    }
    if (this.elector) this.elector.start();
    else this.startApps();
  }

  /** Graceful stop: the syncs in progress finish (the inventory is never left half-written), then everything stops. */
  async stop(): Promise<void> {
    await this.stopApps();
    // Watches started by syncNow (outside the loops) end here too.
    await Promise.all([...this.runners.values()].map((r) => r.heal.stop()));
    await this.elector?.stop();
    await this.reporter?.flush(5000);
    this.reporter?.stop();
  }

  /** Resolves when every queued commit status is posted (tests). */
  async flushStatuses(): Promise<void> {
    await this.reporter?.flush();
  }

  private startApps(): void {
    if (this.running) return;
    this.running = true;
    for (const r of this.runners.values()) r.loop = this.runLoop(r);
    this.healthTimer = setInterval(() => this.checkHealth(), this.deps.healthIntervalMs ?? 1000);
  }

  private async stopApps(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.healthTimer);
    for (const r of this.runners.values()) r.wake();
    await Promise.all([...this.runners.values()].map((r) => r.loop));
    await Promise.all([...this.runners.values()].map((r) => r.heal.stop()));
  }

  private async runLoop(r: AppRunner): Promise<void> {
    r.pending ??= 'startup';
    while (this.running) {
      if (r.pending !== undefined) {
        const reason = r.pending;
        r.pending = undefined;
        await this.syncApp(r, reason);
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          r.pending ??= 'interval';
          resolve();
        }, r.config.interval);
        r.wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (r.pending !== undefined) r.wake();
      });
    }
  }

  /** One sync of one app, with its status, events, metrics and self-heal update. */
  async syncApp(r: AppRunner, reason: string): Promise<SyncOutcome> {
    const log = this.log.with({ app: r.config.name });
    const previousRevision = r.sync.state.lastSync?.revision;
    r.current = r.sync.sync({
      // A new revision starts syncing: say so on that commit before the apply, as DESIGN.md's `pending` means.
      onStart: (revision) => {
        if (!this.reporter || !r.repo) return;
        this.reporter.report(
          { ...r.repo, sha: revision },
          statusFor(r.sync.state, {
            cluster: this.cluster,
            publicUrl: this.config.publicUrl,
            progress: `Syncing ${revision.slice(0, 7)}`,
          }),
        );
      },
    });
    const out = await r.current;
    r.current = undefined;
    r.attempted = true;
    const name = r.config.name;
    const m = this.metrics;
    const d = m.syncDurationSeconds.get(name) ?? { count: 0, sum: 0 };
    m.syncDurationSeconds.set(name, { count: d.count + 1, sum: d.sum + out.durationMs / 1000 });
    add(m.objectsApplied, name, out.entries.filter((e) => e.action === 'created' || e.action === 'configured').length);
    add(m.objectsPruned, name, out.entries.filter((e) => e.action === 'pruned').length);
    if (out.fetchMs !== undefined) {
      m.gitFetchSeconds.count++;
      m.gitFetchSeconds.sum += out.fetchMs / 1000;
    }
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
      if (out.revision !== previousRevision || out.entries.some((e) => e.action !== 'unchanged')) {
        const changed = out.entries.filter((e) => e.action !== 'unchanged').length;
        void this.event(
          r,
          'Synced',
          `Synced ${out.revision.slice(0, 7)}: ${changed} changed, ${out.entries.length} total`,
        );
        const pruned = out.entries.filter((e) => e.action === 'pruned').map((e) => e.subject);
        if (pruned.length) void this.event(r, 'Pruned', `Pruned ${pruned.join(', ')}`.slice(0, 1000));
      }
    }
    if (out.error?.stage !== 'fetch') {
      try {
        await r.heal.update();
      } catch (err) {
        log.warn('self-heal watch failed', { error: describeError(err) });
      }
    }
    if (!out.noop || !r.reported) this.postStatus(r, true);
    return out;
  }

  private postStatus(r: AppRunner, force = false): void {
    const state = r.sync.state;
    const revision = state.lastSync?.revision;
    if (!this.reporter || !r.repo || !revision) return;
    // A failed fetch says nothing about the commit last synced (the status of a commit is about that commit).
    if (state.lastSync?.error?.stage === 'fetch') return;
    const status = statusFor(state, { cluster: this.cluster, publicUrl: this.config.publicUrl });
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
    this.reporter.report({ ...r.repo, sha: revision }, status);
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
    this.log.info(e.mode === 'healed' ? 'drift healed' : 'drift detected', {
      app: name,
      object: e.subject,
      action: e.entry.action,
      latencyMs: Math.round(e.latencyMs),
      ...(e.entry.reason ? { reason: e.entry.reason } : {}),
    });
    if (e.mode === 'healed' && e.entry.action !== 'failed') add(this.metrics.driftHeals, name, 1);
    r.lastHeal = {
      subject: e.subject,
      at: new Date().toISOString(),
      latencyMs: Math.round(e.latencyMs),
      action: e.entry.action,
      ...(e.entry.reason ? { reason: e.entry.reason } : {}),
    };
    void this.event(
      r,
      e.mode === 'healed' ? 'Healed' : 'Drifted',
      `${e.subject}: ${e.entry.action}${e.entry.reason ? ` (${e.entry.reason})` : ''}`,
    );
  }

  /** A Kubernetes Event on the app's ApplySet parent; failures are logged, never fatal. */
  private async event(
    r: AppRunner,
    reason: string,
    message: string,
    type: 'Normal' | 'Warning' = 'Normal',
  ): Promise<void> {
    const p = r.sync.parent;
    const now = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${p.name}.`, namespace: p.namespace },
      involvedObject: { apiVersion: 'v1', kind: p.kind, name: p.name, namespace: p.namespace },
      reason,
      message,
      type,
      source: { component: 'tether' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.deps.kube.raw('POST', `/api/v1/namespaces/${p.namespace}/events`, JSON.stringify(body), {
        'content-type': 'application/json',
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
    const state = r.sync.state;
    const resources: ResourceView[] = r.sync.desiredObjects.map((o) => {
      const ref = refOf(o);
      return {
        subject: subject(o),
        kind: o.kind,
        ...(ref.namespace ? { namespace: ref.namespace } : {}),
        name: ref.name,
        health: objectHealth(ref, r.sync.live.get(objectKey(o)), {
          desired: o,
          now: Date.now(),
          rules: configHealthRules(this.config),
        }),
      };
    });
    const revision = state.lastSync?.revision;
    const webBase = this.config.github?.apiUrl ? githubWebUrl(this.config.github.apiUrl) : 'https://github.com';
    return {
      name,
      repo: r.config.repo,
      ref: r.config.ref,
      path: r.config.path,
      state,
      ...(revision && r.repo ? { revisionUrl: `${webBase}/${r.repo.owner}/${r.repo.repo}/commit/${revision}` } : {}),
      resources,
      ...(r.lastHeal ? { lastHeal: r.lastHeal } : {}),
    };
  }

  async diff(name: string): Promise<string> {
    const r = this.runners.get(name);
    if (!r) return '';
    const parts: string[] = [];
    for (const o of r.sync.desiredObjects) {
      const type = await this.discovery.resolve(o.apiVersion, o.kind);
      if (!type) continue;
      const live = r.sync.live.get(objectKey(o));
      try {
        const dry = (await this.deps.kube.apply(type, o, { dryRun: true })).object;
        const text = diff(live ?? emptyLike(o), dry, { fromLabel: `live/${subject(o)}`, toLabel: `git/${subject(o)}` });
        if (text) parts.push(text);
      } catch (err) {
        parts.push(`# ${subject(o)}: ${describeError(err)}`);
      }
    }
    return parts.join('\n');
  }

  requestSync(name: string, reason: string): boolean {
    const r = this.runners.get(name);
    if (!r) return false;
    r.pending = reason;
    r.wake();
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
    if (!this.clusterReachable) return { ready: false, reason: 'cluster not reachable yet' };
    // A standby is not ready, so the Service sends webhooks and sync requests to the leader only.
    if (this.elector && !this.elector.isLeader) return { ready: false, reason: 'standby: another replica leads' };
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
    return this.elector ? this.elector.isLeader : this.running;
  }

  /** Syncs one app now, outside the loop (the CLI's `sync --once`); throws for an unknown app. */
  async syncNow(name: string, reason = 'manual'): Promise<SyncOutcome> {
    const r = this.runners.get(name);
    if (!r) throw new Error(`no app named ${name}`);
    if (!this.clusterReachable) {
      await this.discovery.refresh();
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

function emptyLike(o: K8sObject): K8sObject {
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name } };
}

/** https://HOST/api/v3 → https://HOST; api.github.com → github.com. */
export function githubWebUrl(apiUrl: string): string {
  const u = new URL(apiUrl);
  if (u.hostname === 'api.github.com') return 'https://github.com';
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/api\/v3\/?$/, '').replace(/\/+$/, '')}`;
}
