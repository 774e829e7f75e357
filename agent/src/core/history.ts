// An app's history as data: what each sync did (trigger, revision, duration, counts, the status it asked for, the
// error) and the heals in between. Pure: the agent records entries (reconcile/history.ts keeps them), the API and
// the app page show them.
import { redactUrls } from '../../../shared/src/redact.ts';
import type { CommitStatus } from './commit-status.ts';
import type { SyncAction, SyncResult, SyncStage } from './types.ts';

/** What started a sync: the interval (`poll`), a push `webhook`, the sync `api` (or the UI's button), the start. */
export type SyncTrigger = 'poll' | 'webhook' | 'api' | 'heal' | 'start';

/** One sync in the history. */
export interface SyncHistoryEntry {
  revision: string;
  startedAt: string;
  durationMs: number;
  trigger: SyncTrigger;
  /** The reason the loop was given (`webhook push 3f9c2a7`, `api request`, `interval`). */
  reason: string;
  /** True when the tree was unchanged and nothing was rendered or applied. */
  noop: boolean;
  /** Polls in a row that found nothing new, folded into this entry so they do not push real syncs out. */
  repeats: number;
  counts: { applied: number; pruned: number; unchanged: number; failed: number; skipped: number };
  /** The commit status the sync asked for, when one was (a failed fetch says nothing about a commit). */
  status?: Pick<CommitStatus, 'context' | 'state' | 'description'> & {
    /** What became of it, filled in when the history is read: written to GitHub, waiting, replaced by a newer one. */
    delivery?: 'posted' | 'queued' | 'superseded' | 'unknown';
  };
  error?: { stage: SyncStage; message: string };
  /** The replica that ran it (its Lease holder identity), when sharding or leader election runs. */
  replica?: string;
  /** A failed sync that counts against the app's retry limit: which attempt at its revision it was (1 = the first). */
  attempt?: number;
  /** Why a turn applied nothing although the last sync failed (a retry not due yet, or retries used up). */
  waiting?: string;
}

/** One heal (or drift detected with self-heal off) in the history. */
export interface HealHistoryEntry {
  subject: string;
  at: string;
  action: SyncAction;
  latencyMs: number;
  mode: 'healed' | 'detected';
  reason?: string;
  /** The replica that healed (its Lease holder identity), when sharding or leader election runs. */
  replica?: string;
}

/** An app's history, newest first. */
export interface AppHistory {
  syncs: SyncHistoryEntry[];
  heals: HealHistoryEntry[];
}

/** How many syncs and heals an app's history keeps. */
export const HISTORY_LIMIT = 20;

/** The trigger behind a loop reason (the strings the agent, its server and the CLI pass to a sync). */
export function triggerOf(reason: string): SyncTrigger {
  if (reason === 'startup') return 'start';
  if (reason.startsWith('webhook')) return 'webhook';
  if (reason.startsWith('api') || reason.startsWith('ui') || reason.startsWith('manual')) return 'api';
  if (reason.startsWith('heal')) return 'heal';
  // interval, retry, cluster reachable again: the loop's own schedule.
  return 'poll';
}

const APPLIED: ReadonlySet<SyncAction> = new Set(['created', 'configured', 'adopted']);

/** The history entry of one sync result. */
export function syncHistoryEntry(
  result: SyncResult & { noop: boolean },
  reason: string,
  status?: CommitStatus,
): SyncHistoryEntry {
  const counts = { applied: 0, pruned: 0, unchanged: 0, failed: 0, skipped: 0 };
  for (const e of result.entries) {
    if (APPLIED.has(e.action)) counts.applied++;
    else if (e.action === 'pruned') counts.pruned++;
    else if (e.action === 'unchanged') counts.unchanged++;
    else if (e.action === 'failed' || e.action === 'conflict') counts.failed++;
    else if (e.action === 'skipped') counts.skipped++;
  }
  return {
    revision: result.revision,
    startedAt: result.startedAt,
    durationMs: Math.round(result.durationMs),
    trigger: triggerOf(reason),
    reason,
    noop: result.noop,
    repeats: 0,
    counts,
    ...(status ? { status: { context: status.context, state: status.state, description: status.description } } : {}),
    ...(result.error ? { error: result.error } : {}),
  };
}

/**
 * Adds a sync to a history (newest first, at most `limit`). A poll that found nothing new right after another one
 * on the same revision is folded into it (`repeats`), so an idle app's interval does not push real syncs out.
 */
export function addSync(
  list: readonly SyncHistoryEntry[],
  entry: SyncHistoryEntry,
  limit = HISTORY_LIMIT,
): SyncHistoryEntry[] {
  const top = list[0];
  if (
    top &&
    entry.noop &&
    top.noop &&
    entry.trigger === 'poll' &&
    top.trigger === 'poll' &&
    top.revision === entry.revision &&
    !entry.error &&
    !top.error
  ) {
    return [{ ...entry, repeats: top.repeats + 1 }, ...list.slice(1)];
  }
  return [entry, ...list].slice(0, limit);
}

/** Adds a heal to a history (newest first, at most `limit`). */
export function addHeal(
  list: readonly HealHistoryEntry[],
  entry: HealHistoryEntry,
  limit = HISTORY_LIMIT,
): HealHistoryEntry[] {
  return [entry, ...list].slice(0, limit);
}

/** How many syncs an app's history keeps on the cluster across restarts (Argo CD's revisionHistoryLimit default). */
export const PERSISTED_HISTORY_LIMIT = 10;

/** The annotation on an app's ApplySet parent that holds its persisted history (JSON). */
export const HISTORY_ANNOTATION = 'tether.dev/history';

/** Longest reason and error message kept on the cluster: the annotation stays a few kilobytes at most. */
const MAX_PERSISTED_TEXT = 300;

function cut(text: string, max = MAX_PERSISTED_TEXT): string {
  const clean = redactUrls(text);
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

/**
 * Whether `entry`, just recorded on top of `previous` (the newest earlier sync that was not a no-op), is worth a write
 * to the cluster: it applied or pruned something, it failed in a new way (another revision, error or attempt), or it
 * ends a failure (the page after a restart must not show the app failing). A re-sync that changed nothing, manual or
 * the first after a restart, is not, nor a no-op poll, a fetch failure (GitHub down) or a failed read of the cluster,
 * nor the same failure again at every poll (a render error, an object in conflict re-checked).
 */
export function persistWorthy(entry: SyncHistoryEntry, previous: SyncHistoryEntry | undefined): boolean {
  if (entry.noop) return false;
  const stage = entry.error?.stage;
  if (stage === 'fetch' || stage === 'cluster' || stage === 'cancelled' || stage === 'read') return false;
  if (entry.counts.applied > 0 || entry.counts.pruned > 0) return true;
  if (!entry.error)
    return !!previous && (previous.error !== undefined || previous.counts.failed !== entry.counts.failed);
  if (!previous) return true;
  const key = (e: SyncHistoryEntry) =>
    JSON.stringify([e.revision, e.counts.failed, e.error?.stage, e.error?.message, e.attempt]);
  return key(entry) !== key(previous);
}

/**
 * The persisted form of a history: its newest syncs that were not no-ops, at most `limit`, with long texts cut and
 * URLs' credentials removed; the status's delivery is left out (it is read anew from the reporter).
 */
export function encodeHistory(syncs: readonly SyncHistoryEntry[], limit = PERSISTED_HISTORY_LIMIT): string {
  const kept = syncs
    .filter((e) => !e.noop)
    .slice(0, limit)
    .map((e) => {
      const { status, error, reason, waiting: _, ...rest } = e;
      return {
        ...rest,
        reason: cut(reason, 120),
        ...(status
          ? { status: { context: status.context, state: status.state, description: status.description } }
          : {}),
        ...(error ? { error: { stage: error.stage, message: cut(error.message) } } : {}),
      };
    });
  return JSON.stringify(kept);
}

/** The entries of a persisted history; anything unreadable is dropped (a history is never worth failing a start). */
export function decodeHistory(text: string | undefined): SyncHistoryEntry[] {
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (e): e is SyncHistoryEntry =>
      typeof e === 'object' &&
      e !== null &&
      typeof e.revision === 'string' &&
      typeof e.startedAt === 'string' &&
      typeof e.durationMs === 'number' &&
      typeof e.trigger === 'string' &&
      typeof e.reason === 'string' &&
      typeof e.counts === 'object' &&
      e.counts !== null,
  );
}

/**
 * A history read back from the cluster merged with the one in memory (newest first by start time, at most `limit`):
 * an entry in both (same start time and revision) is kept once, the in-memory one. Read again after a take-over, the
 * other replica's newer entries go above this replica's older ones.
 */
export function mergeRestored(
  current: readonly SyncHistoryEntry[],
  restored: readonly SyncHistoryEntry[],
  limit = HISTORY_LIMIT,
): SyncHistoryEntry[] {
  const seen = new Set(current.map((e) => `${e.startedAt}#${e.revision}`));
  const merged = [...current, ...restored.filter((e) => !seen.has(`${e.startedAt}#${e.revision}`))];
  // A stable sort: entries with the same start time keep their order, in-memory first.
  return merged.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt)).slice(0, limit);
}
