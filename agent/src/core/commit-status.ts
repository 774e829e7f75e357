import { redactUrls } from '../../../shared/src/redact.ts';
import type { AppState, SyncEntry, SyncResult, SyncStatus } from './types.ts';

const NOT_RENDERED = 'not rendered: ';

/** The sync entry for a file in the app's path that the render left out: `skipped`, with why. */
export function unrenderedEntry(file: { path: string; reason: string }): SyncEntry {
  return { subject: file.path, action: 'skipped', reason: `${NOT_RENDERED}${file.reason}` };
}

/** True for an entry made by `unrenderedEntry`. */
export function isUnrendered(entry: SyncEntry): boolean {
  return entry.action === 'skipped' && (entry.reason ?? '').startsWith(NOT_RENDERED);
}

/** A commit status as GitHub takes it. */
export interface CommitStatus {
  state: 'pending' | 'success' | 'failure' | 'error';
  /** At most 140 characters (GitHub cuts longer ones). */
  description: string;
  context: string;
  targetUrl?: string;
}

/** GitHub's limit on a status description. */
export const MAX_DESCRIPTION = 140;

/**
 * A character GitHub refuses in a description: one of 4 bytes in UTF-8 (outside the Basic Multilingual Plane: an
 * emoji), or half of one.
 */
const FOUR_BYTE = /[\u{10000}-\u{10FFFF}]|[\uD800-\uDFFF]/gu;

/** Cuts `text` to GitHub's 140 characters, marking the cut with an ellipsis. */
export function clampDescription(text: string): string {
  // A status is public to everyone who can read the repository: no URL in it keeps its credentials. A message from
  // the cluster or Git may hold an emoji, which GitHub refuses (422, for good): it becomes U+FFFD.
  const oneLine = redactUrls(text).replace(/\s+/g, ' ').trim().replace(FOUR_BYTE, '\uFFFD');
  return oneLine.length <= MAX_DESCRIPTION ? oneLine : `${oneLine.slice(0, MAX_DESCRIPTION - 1)}…`;
}

/** The context of an app's status: `tether/<cluster>/<app>`. */
export function statusContext(cluster: string, app: string): string {
  return `tether/${cluster}/${app}`;
}

/**
 * Whether a failed sync says nothing about its commit, so no status is posted for it: a failed fetch (the commit
 * may not even be the one fetched), an apiserver that could not be reached, a sync stopped by shutdown. The commit
 * keeps the last status that was verified; the app's state says Unknown and why.
 */
export function saysNothingAboutCommit(state: AppState): boolean {
  const stage = state.lastSync?.error?.stage;
  return stage === 'fetch' || stage === 'cluster' || stage === 'cancelled' || stage === 'project' || stage === 'read';
}

/**
 * The sync status a sync result calls for: Unknown when it could not judge the commit (fetch, render, cluster,
 * shutdown); OutOfSync when the cluster does not hold what Git says — an object failed to apply or is owned by
 * someone else, a prune was blocked, or an object drifted while self-heal is off for it (`drifted`, which only Git
 * or the object changing clears); Synced otherwise.
 */
export function syncVerdict(result: SyncResult, drifted: readonly string[] = []): SyncStatus {
  const stage = result.error?.stage;
  if (
    stage === 'fetch' ||
    stage === 'render' ||
    stage === 'cluster' ||
    stage === 'cancelled' ||
    stage === 'project' ||
    stage === 'read'
  )
    return 'Unknown';
  if (result.entries.some((e) => e.action === 'failed' || e.action === 'conflict' || e.action === 'refused'))
    return 'OutOfSync';
  if (result.pruneBlocked || drifted.length > 0) return 'OutOfSync';
  return 'Synced';
}

/**
 * The commit status an app's state calls for: `error` when fetch or render failed, `failure`
 * when an object failed to apply, is owned by another app or tool, a prune was blocked or the app is Degraded
 * (naming the first failing object), `success` when Synced and Healthy (or Suspended, which is what Git asked for),
 * `pending` otherwise (syncing, progressing).
 */
export function statusFor(
  state: AppState,
  options: { cluster: string; publicUrl?: string; progress?: string },
): CommitStatus {
  const context = statusContext(options.cluster, state.app);
  const targetUrl = options.publicUrl
    ? `${options.publicUrl.replace(/\/+$/, '')}/apps/${encodeURIComponent(state.app)}`
    : undefined;
  const make = (s: CommitStatus['state'], d: string): CommitStatus => ({
    state: s,
    description: clampDescription(d),
    context,
    ...(targetUrl ? { targetUrl } : {}),
  });
  if (options.progress) return make('pending', options.progress);
  const last = state.lastSync;
  if (last?.error && (last.error.stage === 'fetch' || last.error.stage === 'render')) {
    return make('error', `${last.error.stage === 'fetch' ? 'Fetch' : 'Render'} failed: ${last.error.message}`);
  }
  if (last?.error?.stage === 'project') return make('error', `Refused: ${last.error.message}`);
  // Objects outside the app's project block the whole sync: the status names them (the entries name each rule).
  const refused = last?.entries.filter((e) => e.action === 'refused') ?? [];
  if (refused.length > 0) return make('failure', `Refused: ${refusedSummary(refused)}`);
  const failed = last?.entries.find((e) => e.action === 'failed');
  if (failed) return make('failure', `Sync failed: ${failed.subject}: ${failed.reason ?? 'failed'}`);
  if (last?.error) return make('failure', `Sync failed: ${last.error.message}`);
  const conflict = last?.entries.find((e) => e.action === 'conflict');
  if (conflict) return make('failure', `Conflict: ${conflict.subject}: ${conflict.reason ?? 'owned elsewhere'}`);
  if (last?.pruneBlocked) return make('failure', last.pruneBlocked);
  const count = last
    ? last.entries.filter((e) => e.action !== 'pruned' && e.action !== 'skipped' && e.action !== 'conflict').length
    : 0;
  // Files left unrendered never make a status fail on their own (the render already fails when they are all there
  // is), but a green status must not hide them.
  const gaps = last ? last.entries.filter(isUnrendered).length : 0;
  const unrendered = gaps > 0 ? ` (${gaps} file${gaps === 1 ? '' : 's'} not rendered)` : '';
  const hooks = last?.hooks?.length ?? 0;
  // A failed hook is the sync's error (above); here every hook that ran succeeded.
  const hooksRan = hooks > 0 ? ` · ${hooks} hook${hooks === 1 ? '' : 's'} succeeded` : '';
  const synced = `Synced ${count} resource${count === 1 ? '' : 's'}${unrendered}${hooksRan}`;
  const h = state.health;
  switch (h.status) {
    case 'Healthy':
      return make('success', `${synced} · Healthy`);
    case 'Suspended':
      return make('success', `${synced} · Suspended: ${h.message}`);
    case 'Degraded':
      return make('failure', `Degraded: ${h.message}`);
    case 'Missing':
      return make('pending', `${synced} · Missing: ${h.message}`);
    default:
      return make('pending', `${synced} · ${h.status}: ${h.message}`);
  }
}

/**
 * `ClusterRoleBinding/admin, ConfigMap/kube-system/x outside project team-a`: the objects a project refused, by the
 * project named in their first rule.
 */
export function refusedSummary(refused: readonly SyncEntry[]): string {
  const project = /^project ([^:]+):/.exec(refused[0]?.reason ?? '')?.[1];
  return `${refused.map((e) => e.subject).join(', ')} outside project ${project ?? '(unknown)'}`;
}

/**
 * How long the health of a commit already reported `success` may dip into `pending` before the dip is posted. A
 * self-heal re-apply makes the object's generation briefly unobserved and a promotion reading the commit in that
 * second would be refused; a dip that outlasts this is real and is posted. Failures are never held back.
 */
export const HEALTH_DIP_GRACE_MS = 5000;

/**
 * Whether a status may be posted now, holding back a dip from a reported `success` to `pending` on the same
 * revision until it has lasted `graceMs`. `dipSince` is when the current dip began (kept by the caller).
 */
export function holdDip(
  reported: { revision: string; state: string } | undefined,
  next: { revision: string; state: CommitStatus['state'] },
  dipSince: number | undefined,
  now: number,
  graceMs: number = HEALTH_DIP_GRACE_MS,
): { post: boolean; dipSince?: number } {
  const dip = reported?.revision === next.revision && reported.state === 'success' && next.state === 'pending';
  if (!dip) return { post: true };
  const since = dipSince ?? now;
  return { post: now - since >= graceMs, dipSince: since };
}

/** `status` with `note` kept whole at the end of its description: `Sync failed: … (gave up after 3 attempts; …)`. */
export function withNote(status: CommitStatus, note: string): CommitStatus {
  const tail = ` (${note})`;
  const room = MAX_DESCRIPTION - tail.length;
  const head = status.description.length <= room ? status.description : `${status.description.slice(0, room - 1)}…`;
  return { ...status, description: clampDescription(head + tail) };
}
