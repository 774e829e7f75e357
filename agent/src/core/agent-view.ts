import type { AppSourceView } from './app-set-plan.ts';
import type { FleetView } from './fleet.ts';
import { type HealthContext, objectHealth } from './health.ts';
import type { AppHistory } from './history.ts';
import type { Inspection } from './inspection.ts';
import { objectKey, refOf, subject } from './objects.ts';
import type { PullRequestRef } from './pr-plan.ts';
import type { PushRecord } from './push-signals.ts';
import type { AppTree } from './resource-tree.ts';
import type { RetryView } from './retry.ts';
import type { AppState, HealthResult, K8sObject } from './types.ts';

/** One resource of an app as the API and status page show it. */
export interface ResourceView {
  subject: string;
  kind: string;
  namespace?: string;
  name: string;
  health: HealthResult;
}

/** A heal the agent made (or drift it detected with self-heal off). */
export interface HealView {
  subject: string;
  at: string;
  latencyMs: number;
  action: string;
  reason?: string;
}

/** An app's project and sync policy as the API, the page and the CLI show them. */
export interface PolicyView {
  project: string;
  /** Why the project cannot be used (not defined, defined twice), or refuses the app outright. */
  projectProblem?: string;
  syncPolicy: 'automated' | 'manual';
  suspended: boolean;
  /** Whether the app prunes and self-heals once its project has narrowed its own settings. */
  prune: boolean;
  selfHeal: boolean;
  /** The project's sync windows, as text (`deny 0 22 * * * for 8h (manual syncs allowed)`). */
  windows: string[];
  /** What the windows say now when they block automated syncs (`sync window deny until 22:00 UTC`). */
  windowNow?: string;
}

/** The last manual sync someone asked for: who (`api`, `cli`, a token's name), when, and the revision it synced. */
export interface ManualSyncView {
  by: string;
  at: string;
  revision?: string;
}

/** Everything the server shows about one app. */
export interface AppView {
  name: string;
  repo: string;
  ref: string;
  path: string;
  /** Where the app is defined: `config` (the agent's config file) or `repo@ref:file` in Git. */
  origin: string;
  state: AppState;
  /** Link to the synced commit on GitHub, when the repo is a GitHub repo. */
  revisionUrl?: string;
  /** The repo's web page (https://github.com/acme/env), when the repo is a GitHub repo. */
  repoWebUrl?: string;
  resources: ResourceView[];
  lastHeal?: HealView;
  /** The app's project and sync policy (absent from views that know none). */
  policy?: PolicyView;
  lastManualSync?: ManualSyncView;
  /** The failed revision being retried, or given up on (absent when the last sync did not fail). */
  retry?: RetryView;
}

/** One project as the API and the page list it. */
export interface ProjectView {
  name: string;
  /** `config`, a Git source, or `built-in`. */
  origin: string;
  /** Why its apps are refused (defined twice). */
  problem?: string;
  sourceRepos: string[];
  destinationNamespaces: string[];
  clusterResourceAllowlist: string[];
  namespaceResourceDenylist: string[];
  prune: boolean;
  selfHeal: boolean;
  windows: string[];
  /** What the windows say now when they block automated syncs. */
  windowNow?: string;
  /** The apps in it, in configuration order. */
  apps: string[];
}

/** What a request for a manual sync got: accepted, or refused with the HTTP status and why. */
export type ManualSyncAnswer =
  | { accepted: true }
  | { accepted: false; status: 404 | 409; error: string; shard?: number; holder?: string };

/** A push this replica received, to be signalled to the other replicas. */
export type PushSignal = Omit<PushRecord, 'by' | 'at'>;

/** Whether the other replicas were told of a push: recorded for them, or not (and why). */
export type PushSignalAnswer = { signalled: true } | { signalled: false; error: string };

/** Counters and gauges the agent keeps for /metrics (Prometheus text format is the server's job). */
export interface AgentMetrics {
  /** Per app: histogram-like sums of sync durations (seconds) and counts. */
  syncDurationSeconds: Map<string, { count: number; sum: number }>;
  objectsApplied: Map<string, number>;
  objectsPruned: Map<string, number>;
  driftHeals: Map<string, number>;
  gitFetchSeconds: { count: number; sum: number };
  statusesPosted: number;
  statusesFailed: number;
  /** Promise rejections nothing handled, caught by the process guard instead of ending the process. */
  unhandledRejections: number;
  /** Sharded: how many shards this replica holds now; absent when not sharded. */
  shardsHeld?: number;
}

/** What the HTTP server needs from a running agent: tests give it a real agent or a small in-memory one. */
export interface AgentView {
  cluster: string;
  /** Every configured app, in configuration order (sharded: those whose shard this replica holds). */
  apps(): AppView[];
  /** Sharded: the shard map as this replica sees it (/api/apps); optional, undefined when not sharded. */
  shardMap?(): unknown;
  /** Sharded: the shard and holder of an app this replica does not hold; undefined when it holds it. Optional. */
  heldElsewhere?(name: string): { shard: number; holder: string } | undefined;
  app(name: string): AppView | undefined;
  /** The unified diff of desired vs live for an app (dry-run), empty when in sync. */
  diff(name: string): Promise<string>;
  /** Requests an immediate sync; false when no such app. */
  requestSync(name: string, reason: string): boolean;
  /**
   * A pull request opened, pushed to, reopened or closed: schedules (or drops) its plans; returns the apps that may
   * be planned. Absent or empty: this agent plans no pull requests.
   */
  planPullRequest?(pr: PullRequestRef): string[];
  /**
   * Sharded: records a push for the other replicas, which wake the apps (and app sources) they hold; resolves once
   * written or failed. Optional: absent (or undefined) when not sharded.
   */
  signalPush?(push: PushSignal): Promise<PushSignalAnswer> | undefined;
  /** Apps whose configured repo and ref match a push (repo as `owner/name` or clone URL, ref `refs/heads/x`). */
  appsForPush(repoFullName: string, ref: string): string[];
  /** /readyz: the cluster answered and every app's first sync was attempted. */
  ready(): { ready: boolean; reason?: string };
  metrics: AgentMetrics;
  /** Fetches and renders the app's newest revision and judges it against the cluster, writing nothing. Optional. */
  inspect?(name: string): Promise<Inspection>;
  /** Each desired object with its live descendants, from the agent's watches; undefined when no such app. Optional. */
  tree?(name: string): AppTree | undefined;
  /** The app's statuses in every cluster reporting on its repo (cached GitHub reads); undefined: no such app. */
  fleet?(name: string): Promise<FleetView | undefined>;
  /** The last syncs and heals of an app, newest first; undefined when no such app. Optional. */
  history?(name: string): AppHistory | undefined;
  /** The app sources (`appsFrom`): what each read, defined and refused; optional. */
  appSources?(): AppSourceView[];
  /** Wakes the app sources that read a pushed repo and branch; returns their names; optional. */
  requestSourcesForPush?(repoFullName: string, ref: string, reason: string): string[];
  /** Objects for the status page when it needs them (e.g. the raw live object); optional. */
  liveObject?(app: string, subject: string): K8sObject | undefined;
  /** The projects, each with its apps; optional (views without projects show none). */
  projects?(): ProjectView[];
  /**
   * A manual sync asked for by `by` (recorded on the app and in its Event): it applies even under the manual sync
   * policy and, when the windows allow manual syncs, inside a deny window. Optional: without it the API falls back
   * to `requestSync`.
   */
  requestManualSync?(name: string, by: string): ManualSyncAnswer;
}

/**
 * Where an app is defined, short: `config`, or `git:<file>` for an origin `repo@ref:file` (the page shows the whole
 * origin on the app's own page).
 */
export function definedIn(origin: string | undefined): string {
  if (origin === undefined || origin === 'config') return 'config';
  const at = origin.lastIndexOf(':');
  return `git:${at > 0 ? origin.slice(at + 1) : origin}`;
}

/** The web address of a GitHub API: https://HOST/api/v3 → https://HOST; api.github.com → github.com. */
export function githubWebUrl(apiUrl: string): string {
  const u = new URL(apiUrl);
  if (u.hostname === 'api.github.com') return 'https://github.com';
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/api\/v3\/?$/, '').replace(/\/+$/, '')}`;
}

/** What an app view is made of: its configuration, state, desired objects and the live objects last seen. */
export interface AppViewInput {
  name: string;
  repo: string;
  ref: string;
  path: string;
  /** Where the app is defined (default `config`). */
  origin?: string;
  state: AppState;
  desired: readonly K8sObject[];
  /** Live objects by objectKey. */
  live: ReadonlyMap<string, K8sObject>;
  /** The repo as `owner/repo` when it is on GitHub (for the commit link). */
  github?: { owner: string; repo: string };
  /** The GitHub API URL (GHES); default api.github.com. */
  apiUrl?: string;
  lastHeal?: HealView;
  /** What health is judged with (clock, rules); the desired object is added per object. */
  health?: Omit<HealthContext, 'desired'>;
  policy?: PolicyView;
  lastManualSync?: ManualSyncView;
  retry?: RetryView;
}

/** An app as the API and the status page show it: each desired object with its health, and the commit link. */
export function appView(input: AppViewInput): AppView {
  const resources: ResourceView[] = input.desired.map((o) => {
    const ref = refOf(o);
    return {
      subject: subject(o),
      kind: o.kind,
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
      name: ref.name,
      health: objectHealth(ref, input.live.get(objectKey(o)), { ...input.health, desired: o }),
    };
  });
  const revision = input.state.lastSync?.revision;
  const webBase = input.apiUrl ? githubWebUrl(input.apiUrl) : 'https://github.com';
  const gh = input.github;
  return {
    name: input.name,
    repo: input.repo,
    ref: input.ref,
    path: input.path,
    origin: input.origin ?? 'config',
    state: input.state,
    ...(revision && gh ? { revisionUrl: `${webBase}/${gh.owner}/${gh.repo}/commit/${revision}` } : {}),
    ...(gh ? { repoWebUrl: `${webBase}/${gh.owner}/${gh.repo}` } : {}),
    resources,
    ...(input.lastHeal ? { lastHeal: input.lastHeal } : {}),
    ...(input.policy ? { policy: input.policy } : {}),
    ...(input.lastManualSync ? { lastManualSync: input.lastManualSync } : {}),
    ...(input.retry ? { retry: input.retry } : {}),
  };
}
