// Retries of a failed sync, with the meaning Argo CD users know from an Application's `syncPolicy.retry`: after a
// sync of revision R failed, R is applied again after `duration`, then `duration × factor`, … capped at
// `maxDuration`, `limit` times; then the app waits for a new revision, a changed spec or a manual sync instead of
// re-running R's hooks at every poll (a failing hook would otherwise run, and fail, once an interval forever).
// Pure: the clock and the outcome are parameters.
import type { SyncResult } from './types.ts';

/** How a failed sync is retried; durations in milliseconds. */
export interface RetryPolicy {
  /** Retries after the first failed attempt: below 0 unlimited, 0 never. */
  limit: number;
  backoff: { duration: number; factor: number; maxDuration: number };
}

/**
 * Tether's default: 5 retries, 5 s doubling up to 3 min (Argo CD's backoff defaults), so a transient apiserver
 * error or a dependency not ready yet still recovers within about 2.5 minutes. Argo CD retries nothing unless told;
 * Tether used to re-apply at every poll, and a bounded retry keeps the recovery without endless hook runs.
 */
export function defaultRetryPolicy(): RetryPolicy {
  return { limit: 5, backoff: { duration: 5_000, factor: 2, maxDuration: 180_000 } };
}

/** What the agent remembers of the revision whose syncs failed. */
export interface RetryState {
  revision: string;
  /** Failed attempts at it so far, the first sync included. */
  failures: number;
  /** When the next retry is due (epoch ms); absent once the retries are used up. */
  nextAt?: number;
}

/** How long to wait before retry number `retry` (1 for the first): duration × factor^(retry−1), at most maxDuration. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const { duration, factor, maxDuration } = policy.backoff;
  return Math.min(maxDuration, duration * factor ** Math.max(0, retry - 1));
}

/** Whether the retries of `state` are used up. */
export function retriesExhausted(policy: RetryPolicy, state: RetryState): boolean {
  return policy.limit >= 0 && state.failures > policy.limit;
}

/**
 * Whether a failed sync counts as an attempt: it may have written (an apply, a prune, a hook, a wave). A fetch or
 * render error, a project refusal, an unreachable cluster, a failed read of the live objects by a turn that found
 * nothing to apply (`read`) or a shutdown wrote nothing and ran no hook: those are
 * tried again at the poll interval, as Argo CD retries a ComparisonError at its next refresh.
 */
export function countsAsAttempt(result: Pick<SyncResult, 'error' | 'entries'>): boolean {
  const stage = result.error?.stage;
  if (stage !== 'apply' && stage !== 'prune') return false;
  return !result.entries.some((e) => e.action === 'refused');
}

/**
 * The retry state after a sync of `revision`: cleared by a success, untouched by a failure that is not an attempt
 * (see countsAsAttempt), else one more failure of that revision with the next retry's time. An app that is not
 * `automated` (`syncPolicy: manual`) has none: as in Argo CD, only an automated sync is retried, and a failed manual
 * sync is reported for the user to sync again (a retry turn of a manual app would only compare).
 */
export function afterSync(
  state: RetryState | undefined,
  result: Pick<SyncResult, 'error' | 'entries' | 'revision'>,
  policy: RetryPolicy,
  now: number,
  automated = true,
): RetryState | undefined {
  if (!result.error || !automated) return undefined;
  if (!countsAsAttempt(result)) return state;
  const failures = state?.revision === result.revision ? state.failures + 1 : 1;
  const next: RetryState = { revision: result.revision, failures };
  return retriesExhausted(policy, next) ? next : { ...next, nextAt: now + backoffDelay(policy, failures) };
}

/** What an automated turn that fetched `revision` does about it. */
export type RetryDecision =
  | { kind: 'apply'; retry?: number }
  /** A retry is due later: the turn applies nothing (the loop wakes at `until`). */
  | { kind: 'wait'; until: number; reason: string }
  /** The retries are used up: nothing is applied until a new revision, a changed spec or a manual sync. */
  | { kind: 'gaveUp'; reason: string };

/** Timers may fire a little before the time they were set for; a retry this close to due is due. */
const EARLY_MS = 100;

/** Decides an automated turn: a new revision applies at once; the failed one only when its retry is due. */
export function retryDecision(
  state: RetryState | undefined,
  revision: string,
  policy: RetryPolicy,
  now: number,
): RetryDecision {
  if (!state || state.revision !== revision) return { kind: 'apply' };
  if (retriesExhausted(policy, state)) return { kind: 'gaveUp', reason: gaveUpText(state) };
  const until = state.nextAt ?? now;
  if (now < until - EARLY_MS)
    return {
      kind: 'wait',
      until,
      reason: `retry ${state.failures} of ${limitText(policy)} at ${new Date(until).toISOString()}`,
    };
  return { kind: 'apply', retry: state.failures };
}

/** `gave up after 6 attempts; push a fix or sync by hand`: why an app whose retries are used up waits. */
export function gaveUpText(state: Pick<RetryState, 'failures'>): string {
  return `gave up after ${state.failures} attempt${state.failures === 1 ? '' : 's'}; push a fix or sync by hand`;
}

function limitText(policy: RetryPolicy): string {
  return policy.limit < 0 ? 'unlimited' : String(policy.limit);
}

/** The retry state as the API, the page and `tether status` show it. */
export interface RetryView {
  revision: string;
  /** Failed attempts so far. */
  attempt: number;
  /** Retries allowed after the first attempt (below 0: unlimited). */
  limit: number;
  /** When the next retry runs (ISO time), while one is due. */
  nextAt?: string;
  /** True once the retries are used up: the app waits (see `message`). */
  retriesExhausted: boolean;
  message?: string;
}

/** The view of `state` (undefined when no failed revision is being retried). */
export function retryView(state: RetryState | undefined, policy: RetryPolicy): RetryView | undefined {
  if (!state) return undefined;
  const exhausted = retriesExhausted(policy, state);
  return {
    revision: state.revision,
    attempt: state.failures,
    limit: policy.limit,
    ...(state.nextAt !== undefined ? { nextAt: new Date(state.nextAt).toISOString() } : {}),
    retriesExhausted: exhausted,
    ...(exhausted ? { message: gaveUpText(state) } : {}),
  };
}

/**
 * What a persisted history says of `revision`'s retries, for a reader that runs no syncs (`tether status`): when the
 * newest sync that did something was a failed attempt at it, its attempt and whether the retries are used up.
 */
export function retryFromHistory(
  syncs: readonly { noop: boolean; revision: string; attempt?: number; error?: unknown }[],
  revision: string,
  policy: RetryPolicy,
): RetryView | undefined {
  const top = syncs.find((e) => !e.noop);
  if (!top?.error || top.attempt === undefined || top.revision !== revision) return undefined;
  return retryView({ revision, failures: top.attempt }, policy);
}
