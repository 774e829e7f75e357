import type { AppSourceView } from './app-set-plan.ts';
import { type HealthContext, objectHealth } from './health.ts';
import { objectKey, refOf, subject } from './objects.ts';
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
  resources: ResourceView[];
  lastHeal?: HealView;
}

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
}

/** What the HTTP server needs from a running agent: tests give it a real agent or a small in-memory one. */
export interface AgentView {
  cluster: string;
  /** Every configured app, in configuration order. */
  apps(): AppView[];
  app(name: string): AppView | undefined;
  /** The unified diff of desired vs live for an app (dry-run), empty when in sync. */
  diff(name: string): Promise<string>;
  /** Requests an immediate sync; false when no such app. */
  requestSync(name: string, reason: string): boolean;
  /** Apps whose configured repo and ref match a push (repo as `owner/name` or clone URL, ref `refs/heads/x`). */
  appsForPush(repoFullName: string, ref: string): string[];
  /** /readyz: the cluster answered and every app's first sync was attempted. */
  ready(): { ready: boolean; reason?: string };
  metrics: AgentMetrics;
  /** The app sources (`appsFrom`): what each read, defined and refused; optional. */
  appSources?(): AppSourceView[];
  /** Wakes the app sources that read a pushed repo and branch; returns their names; optional. */
  requestSourcesForPush?(repoFullName: string, ref: string, reason: string): string[];
  /** Objects for the status page when it needs them (e.g. the raw live object); optional. */
  liveObject?(app: string, subject: string): K8sObject | undefined;
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
    resources,
    ...(input.lastHeal ? { lastHeal: input.lastHeal } : {}),
  };
}
