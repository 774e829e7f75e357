// `tether sync --once` waits for the health of what it applied, so a script (or CI job) that runs it knows the
// rollout finished, and the commit status it leaves behind is the final one, not `pending`.
import type { HealthResult } from '../agent/src/core/types.ts';
import type { Agent } from '../agent/src/reconcile/agent.ts';
import { describeError } from '../shared/src/errors.ts';

/** How long `sync --once` waits for health unless `--timeout` says otherwise. */
export const SYNC_WAIT_DEFAULT_MS = 5 * 60_000;
/** How often `sync --once` reads health while it waits. */
export const SYNC_WAIT_POLL_MS = 1000;

/** Options of `waitForHealth`. */
export interface WaitOptions {
  /** Time between two reads; default `SYNC_WAIT_POLL_MS`. */
  pollMs?: number;
  /**
   * The health the sync itself judged as it ended (from the objects it just applied or listed). A settled one ends the
   * wait without reading again; otherwise the first read comes a poll later, since nothing had time to move.
   */
  judged?: HealthResult;
}

/**
 * After a `sync --once`, waits until the app is Healthy (or Suspended, as Git asked), Degraded, or `timeoutMs` has
 * passed; a failed health read (the apiserver briefly away) is retried at the next poll. The agent posts the
 * commit status as health changes, so the last one posted is the final verdict.
 */
export async function waitForHealth(
  agent: Pick<Agent, 'refreshHealthNow'>,
  app: string,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<{ health: HealthResult; timedOut: boolean }> {
  const pollMs = options.pollMs ?? SYNC_WAIT_POLL_MS;
  const deadline = Date.now() + timeoutMs;
  let health: HealthResult = options.judged ?? { status: 'Unknown', message: 'health not read yet' };
  // Reading again right after the sync judged health would list every kind once more for the same verdict.
  let read = options.judged === undefined;
  for (;;) {
    if (read) {
      try {
        health = await agent.refreshHealthNow(app);
      } catch (err) {
        health = { status: 'Unknown', message: `cannot read health: ${describeError(err)}` };
      }
    }
    read = true;
    if (health.status === 'Healthy' || health.status === 'Suspended' || health.status === 'Degraded') {
      return { health, timedOut: false };
    }
    // The whole timeout is waited, and health is read once more at its end (never given up a poll early).
    const left = deadline - Date.now();
    if (left <= 0) return { health, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(pollMs, left)));
  }
}
