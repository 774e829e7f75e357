import type { AppState } from './types.ts';

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

/** Cuts `text` to GitHub's 140 characters, marking the cut with an ellipsis. */
export function clampDescription(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
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
  return stage === 'fetch' || stage === 'cluster' || stage === 'cancelled';
}

/**
 * The commit status an app's state calls for : `error` when fetch or render failed, `failure`
 * when an object failed to apply or the app is Degraded (naming the first failing object), `success` when Synced
 * and Healthy (or Suspended, which is what Git asked for), `pending` otherwise (syncing, progressing).
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
  const failed = last?.entries.find((e) => e.action === 'failed');
  if (failed) return make('failure', `Sync failed: ${failed.subject}: ${failed.reason ?? 'failed'}`);
  if (last?.error) return make('failure', `Sync failed: ${last.error.message}`);
  const count = last ? last.entries.filter((e) => e.action !== 'pruned' && e.action !== 'skipped').length : 0;
  const hooks = last?.hooks?.length ?? 0;
  // A failed hook is the sync's error (above); here every hook that ran succeeded.
  const synced = `Synced ${count} resource${count === 1 ? '' : 's'}${hooks > 0 ? ` · ${hooks} hook${hooks === 1 ? '' : 's'} succeeded` : ''}`;
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
