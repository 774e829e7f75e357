// When a sync wave is done: Argo CD's rule that the next wave starts only once every object of this one is
// Healthy. Pure: the flow (reconcile/waves.ts) reads the live objects and asks here.
// https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/
import { compareHealth } from './health.ts';
import type { HealthResult } from './types.ts';

/** Where a wave stands: `ready` (every object Healthy or Suspended), `degraded` (stop the sync), or `waiting`. */
export type WaveJudgement =
  | { state: 'ready' }
  | { state: 'degraded'; health: HealthResult }
  | { state: 'waiting'; health: HealthResult };

/**
 * Judges a wave from its objects' health. Suspended counts as ready: it is what Git asked for (a paused rollout, a
 * suspended CronJob), as in the app's own verdict. Any Degraded object stops the wave; otherwise the worst of the
 * rest (Missing, Unknown, Progressing) is what the wave waits on.
 */
export function judgeWave(health: readonly HealthResult[]): WaveJudgement {
  const degraded = health.find((h) => h.status === 'Degraded');
  if (degraded) return { state: 'degraded', health: degraded };
  const pending = health.filter((h) => h.status !== 'Healthy' && h.status !== 'Suspended');
  if (pending.length === 0) return { state: 'ready' };
  let worst = pending[0]!;
  for (const h of pending) if (compareHealth(h.status, worst.status) > 0) worst = h;
  return { state: 'waiting', health: worst };
}

/** Formats a duration for people: `850ms`, `12.3s`, `5m`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}
