// `tether sync --once` waits for the health of what it applied, so a script (or CI job) that runs it knows the
// rollout finished, and the commit status it leaves behind is the final one, not `pending`.
import type { HealthResult } from '../agent/src/core/types.ts';
import type { Agent } from '../agent/src/reconcile/agent.ts';
import { describeError } from '../shared/src/errors.ts';

/** How long `sync --once` waits for health unless `--timeout` says otherwise. */
export const SYNC_WAIT_DEFAULT_MS = 5 * 60_000;
/** How often `sync --once` reads health while it waits. */
export const SYNC_WAIT_POLL_MS = 1000;

/**
 * After a `sync --once`, waits until the app is Healthy (or Suspended, as Git asked), Degraded, or `timeoutMs` has
 * passed; a failed health read (the apiserver briefly away) is retried at the next poll. The agent posts the
 * commit status as health changes, so the last one posted is the final verdict.
 */
export async function waitForHealth(
  agent: Pick<Agent, 'refreshHealthNow'>,
  app: string,
  timeoutMs: number,
  pollMs = SYNC_WAIT_POLL_MS,
): Promise<{ health: HealthResult; timedOut: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let health: HealthResult = { status: 'Unknown', message: 'health not read yet' };
  for (;;) {
    try {
      health = await agent.refreshHealthNow(app);
    } catch (err) {
      health = { status: 'Unknown', message: `cannot read health: ${describeError(err)}` };
    }
    if (health.status === 'Healthy' || health.status === 'Suspended' || health.status === 'Degraded') {
      return { health, timedOut: false };
    }
    // The whole timeout is waited, and health is read once more at its end (never given up a poll early).
    const left = deadline - Date.now();
    if (left <= 0) return { health, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(pollMs, left)));
  }
}
