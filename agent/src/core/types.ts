// Data types of the agent's pure sync core. Everything here is plain JSON-shaped data: the sync engine
// computes results as data, and logs, commit statuses and `tether status` are derived from them.

/** Object metadata as the apiserver returns it (JSON, not client-node's Date-typed V1ObjectMeta). */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  managedFields?: ManagedFieldsEntry[];
  [field: string]: unknown;
}

/** A Kubernetes object (desired, dry-run result or live) as plain JSON. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** One entry of `metadata.managedFields`; `fieldsV1` is the server-side-apply field set of that manager. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update' | string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: FieldsV1;
  subresource?: string;
}

/** The FieldsV1 trie: keys are `f:<field>`, `k:<json>`, `v:<json>`, `i:<index>` or `.` (the node itself). */
export interface FieldsV1 {
  [key: string]: FieldsV1;
}

/** Identity of an object: group (not version, which can change without the object changing), kind, namespace, name. */
export interface ObjectRef {
  group: string;
  kind: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
  name: string;
}

/** A rendered object together with where it came from, so errors can name the file. */
export interface SourcedObject {
  object: unknown;
  /** Path of the file in the environment repo, e.g. `envs/prod/web/deploy.yaml`. */
  file: string;
  /** Position of the document in a multi-document file (0-based). */
  index?: number;
}

/** Answers from API discovery: true = namespaced, false = cluster-scoped, undefined = the server does not know the kind. */
export type IsNamespaced = (apiVersion: string, kind: string) => boolean | undefined;

/**
 * What happened to one object in a sync (fluxcd ssa/changeset.go's actions, plus Tether's own): `skipped` kept with
 * a reason, `failed`, `conflict` (another owner has it; not applied), `refused` (outside the app's project; not
 * applied), `adopted` (an unlabelled live object taken over).
 */
export type SyncAction =
  | 'created'
  | 'configured'
  | 'unchanged'
  | 'pruned'
  | 'skipped'
  | 'failed'
  | 'conflict'
  | 'refused'
  | 'adopted';

/** One line of a sync result: `{subject: 'Deployment/web/api', action: 'configured'}`. */
export interface SyncEntry {
  /** `Kind/namespace/name` or `Kind/name` for cluster-scoped objects. */
  subject: string;
  action: SyncAction;
  /** Why it was skipped or failed, or what changed. */
  reason?: string;
}

/**
 * The stages of one reconciliation that can fail; a failure is recorded with its stage and the agent keeps running.
 * Health is not a stage: an unhealthy app is a verdict (Degraded, Progressing), not a failed sync. `cluster` is a
 * failure to reach the apiserver at all (refused, reset, timed out): it says nothing about the commit, so it is
 * reported as Unknown, never as the commit's failure. `cancelled` is a sync stopped by shutdown between requests.
 * `project` is an app its project refuses before anything is fetched (project not defined, repo or namespace not
 * allowed): no commit was read, so it says nothing about one. `read` is a turn that found the tree unchanged and
 * could not read the live objects for health: it wrote nothing, so it is no attempt at the commit either.
 */
export type SyncStage = 'fetch' | 'render' | 'apply' | 'prune' | 'cluster' | 'cancelled' | 'project' | 'read';

/** Sync status names (shared with the Action and the status page). */
export type SyncStatus = 'Synced' | 'OutOfSync' | 'Unknown';

/** Health names (the same as Argo CD's). */
export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

/** Health of one object or of an app, with a short message naming why (`Deployment/web/api: 1 of 3 replicas updated`). */
export interface HealthResult {
  status: HealthStatus;
  message: string;
  /** The object this is about; for an app's health, the object that decided it (absent when all are healthy). */
  subject?: string;
}

/** The outcome of one sync attempt. */
export interface SyncResult {
  /** The commit that was synced (or attempted). */
  revision: string;
  /** ISO 8601 start time. */
  startedAt: string;
  durationMs: number;
  entries: SyncEntry[];
  /** The first stage that failed and why; absent when every stage succeeded. */
  error?: { stage: SyncStage; message: string };
  /**
   * Why the prune deleted nothing although Git dropped objects (the deletion budget): the cluster still runs what Git
   * no longer has, so the app is OutOfSync until someone decides.
   */
  pruneBlocked?: string;
  /** The apply steps in order with their timings (absent when nothing was applied). */
  waves?: WaveResult[];
  /** The hooks this sync ran, in order, with their outcome (absent when none ran). */
  hooks?: HookResult[];
}

/** How one sync hook ended, as the sync result lists it. */
export interface HookResult {
  phase: 'PreSync' | 'Sync' | 'PostSync' | 'SyncFail' | 'PreDelete' | 'PostDelete';
  /** `Kind/namespace/name`, with the generated name when the hook has only `generateName`. */
  subject: string;
  outcome: 'Succeeded' | 'Failed';
  message: string;
  durationMs: number;
  /** True when a delete policy removed it afterwards. */
  deleted: boolean;
}

/**
 * How one apply step ended: `healthy` (every object Healthy or Suspended, so the next wave may start), `degraded`
 * or `timeout` (the sync stopped there), `applied` (not waited on: the last wave, or the prerequisites, whose CRDs are
 * waited on separately), `failed` (an object failed to apply, so its health was not waited on), `cancelled`.
 */
export type WaveOutcome = 'healthy' | 'degraded' | 'timeout' | 'applied' | 'failed' | 'cancelled';

/** One apply step of a sync: which wave, how many objects, how long the applies and the wait for health took. */
export interface WaveResult {
  /** `prerequisites` (Namespaces, CRDs) or the wave number. */
  wave: 'prerequisites' | number;
  objects: number;
  applyMs: number;
  waitMs: number;
  outcome: WaveOutcome;
  /** For `degraded` and `timeout`: the object the wave stopped on, and its health message. */
  subject?: string;
  message?: string;
}

/** What the agent knows about one app; `tether status` and commit statuses are derived from it. */
export interface AppState {
  app: string;
  sync: SyncStatus;
  health: HealthResult;
  /** The last revision fetched from Git (may be ahead of `lastSync.revision` while syncing). */
  revision?: string;
  lastSync?: SyncResult;
  /** Objects found drifted while self-heal is off for them (reported, not corrected). */
  drifted?: string[];
  /**
   * Why the agent is not bringing the cluster to Git now although it compared them: `awaiting sync: 3 to apply, 1 to
   * prune` (manual sync policy), `sync window deny until 22:00 UTC`, `suspended`. Cleared by the next real sync.
   */
  held?: string;
}
