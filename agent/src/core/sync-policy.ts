// Whether one turn of an app's loop applies, only compares, or does nothing: the app's sync policy (`automated` or
// `manual`), `suspended`, its project's sync windows and whether someone asked for this sync. Pure: the clock and
// the request are parameters.
import { type SyncWindow, windowsAt } from './sync-windows.ts';

/** Who asked for a manual sync (the CLI, the API, the page) and when. */
export interface SyncRequest {
  by: string;
  at: string;
}

/** What one turn of the loop does. */
export type SyncDecision =
  /** Apply: an automated sync the policy and windows allow, or a manual one someone asked for. */
  | { kind: 'sync'; requestedBy?: string }
  /** Fetch, render and dry-run only, writing nothing; `reason` says why (`awaiting sync`, a window). */
  | { kind: 'preview'; reason: string }
  /** Nothing at all (suspended). */
  | { kind: 'skip'; reason: string };

/** The app's settings that decide. */
export interface PolicyInput {
  syncPolicy: 'automated' | 'manual';
  suspended: boolean;
  windows: readonly SyncWindow[];
}

/** Decides one turn; `request` is the manual sync being served, if any. */
export function decideSync(app: PolicyInput, request: SyncRequest | undefined, now: Date): SyncDecision {
  if (app.suspended) return { kind: 'skip', reason: 'suspended' };
  const windows = windowsAt(app.windows, now);
  if (request) {
    if (windows.manual) return { kind: 'sync', requestedBy: request.by };
    return { kind: 'preview', reason: `manual sync by ${request.by} refused: ${windows.reason}` };
  }
  if (app.syncPolicy === 'manual') return { kind: 'preview', reason: 'awaiting sync' };
  if (!windows.automated) return { kind: 'preview', reason: windows.reason ?? 'sync window' };
  return { kind: 'sync' };
}

/**
 * Why a manual sync asked for now cannot run, or undefined when it can: the app is suspended, or a window blocks
 * manual syncs. The API answers with it at once instead of accepting a request that would do nothing.
 */
export function manualSyncRefusal(app: PolicyInput, now: Date): string | undefined {
  if (app.suspended) return 'the app is suspended';
  const windows = windowsAt(app.windows, now);
  return windows.manual ? undefined : `${windows.reason}, and it does not allow manual syncs`;
}

/** Whether self-heal may write now: automated policy, not suspended, no window blocking automated syncs. */
export function healAllowed(app: PolicyInput, now: Date): boolean {
  return !app.suspended && app.syncPolicy === 'automated' && windowsAt(app.windows, now).automated;
}

/**
 * The `held` text of a preview: `awaiting sync: 3 to apply, 1 to prune`, `sync window deny until 22:00 UTC: 1 to
 * apply`; undefined when nothing differs (the cluster already holds what Git says).
 */
export function heldText(reason: string, p: { toApply: number; toPrune: number; refused: number }): string | undefined {
  const parts = [
    p.toApply > 0 ? `${p.toApply} to apply` : '',
    p.toPrune > 0 ? `${p.toPrune} to prune` : '',
    p.refused > 0 ? `${p.refused} refused by the project` : '',
  ].filter(Boolean);
  return parts.length === 0 ? undefined : `${reason}: ${parts.join(', ')}`;
}
