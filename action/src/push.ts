// Direct push (`pull-request: false`): commit the plan on the base tip and fast-forward the base to it. When another
// writer moved the base first, re-read it, apply the same semantic edit there and try again, with jittered
// exponential backoff, until a deadline; never force. Ten pipelines finishing at once all land this way, one after
// another, instead of half of them failing after a fixed number of attempts.
import { TetherError } from '../../shared/src/errors.ts';
import type { Change, EditPlan } from '../../shared/src/plan-edits.ts';
import type { FastForwardResult } from './commit-writer.ts';

/** What the direct push needs from the outside. */
export interface PushDeps {
  /** Commits `plan` on `parent`; returns the commit's sha. */
  commit(parent: string, plan: EditPlan): Promise<string>;
  /** Fast-forwards the base to `sha`; refused, with the reason, when it moved or something else refused it. */
  fastForward(sha: string): Promise<FastForwardResult>;
  /** Re-reads the base: its new tip and the same edit planned on it. */
  replanOnTip(): Promise<{ sha: string; plan: EditPlan }>;
  sleep(ms: number): Promise<void>;
  info(message: string): void;
  /** Milliseconds since some epoch (Date.now unless a test says otherwise). */
  now(): number;
  /** A number in [0, 1) (Math.random unless a test says otherwise). */
  random(): number;
}

/** Retry policy of the direct push. */
export interface PushOptions {
  /** No new attempt starts after this many milliseconds from the first. */
  deadlineMs: number;
  /** Backoff before the second attempt; it doubles per attempt up to `maxDelayMs`, and each wait is jittered. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Refusals while the base stays at the commit this run built on, for this long, are not a race (another writer
   * would have moved it): a protected branch or a token that may not push there. Not at the first such refusal,
   * since a re-read may briefly lag a move another writer just made.
   */
  stillMs: number;
}

/** The defaults: two minutes, 250 ms doubling up to 8 s; a base refusing while still for 10 s is not a race. */
export function defaultPushOptions(): PushOptions {
  return { deadlineMs: 120_000, baseDelayMs: 250, maxDelayMs: 8_000, stillMs: 10_000 };
}

/** What the push did: the commit that landed (none when the base already had the change) and the final plan. */
export interface PushOutcome {
  commitSha?: string;
  plan: EditPlan;
  /** How many times a moved base was re-read and the edit re-applied. */
  retries: number;
  /** Values another writer changed to something else while this run was retrying; this run's request won. */
  overridden: string[];
}

const key = (c: Change) => `${c.file}\u0000${c.document}\u0000${c.location}`;

/**
 * Values that another commit changed since the first plan, to something other than what this run sets: the same
 * value requested by two runs at once. The run that lands last wins; say so rather than overwrite silently.
 */
function overriddenValues(first: EditPlan, now: EditPlan): [string, string][] {
  const before = new Map(first.changes.map((c) => [key(c), c]));
  const out: [string, string][] = [];
  for (const c of now.changes) {
    const was = before.get(key(c));
    if (was && was.old !== c.old)
      out.push([
        key(c),
        `${c.file} ${c.location}: another commit set it to ${c.old ?? '∅'} (it was ${was.old ?? '∅'}) while this run retried; this run set ${c.new ?? '∅'}`,
      ]);
  }
  return out;
}

/** Pushes `start.plan` (made on `start.sha`) onto `base`, re-planning on a moved tip; throws past the deadline. */
export async function pushDirect(
  base: string,
  start: { sha: string; plan: EditPlan },
  deps: PushDeps,
  options: Partial<PushOptions> = {},
): Promise<PushOutcome> {
  const o = { ...defaultPushOptions(), ...options };
  let { sha: baseSha, plan } = start;
  if (plan.edits.length === 0) return { plan, retries: 0, overridden: [] };
  const started = deps.now();
  const overridden = new Map<string, string>();
  // Since when the base has refused this run while staying where this run read it.
  let still: { since: number; attempts: number } | undefined;
  for (let attempt = 0; ; attempt++) {
    const sha = await deps.commit(baseSha, plan);
    const ff = await deps.fastForward(sha);
    if (ff === 'ok') return { commitSha: sha, plan, retries: attempt, overridden: [...overridden.values()] };
    if (still && deps.now() - still.since >= o.stillMs) {
      throw new TetherError(
        'github',
        `${base} refused the fast-forward to ${sha.slice(0, 7)} and did not move for ${Math.round((deps.now() - still.since) / 1000)} s (${still.attempts + 1} attempts): ${ff.refused}; not a race with another writer (a protected branch, or a token that may not push to it); nothing was forced and nothing was pushed`,
      );
    }
    // Full jitter (a uniformly random wait up to the exponential cap), so that writers that collided once do not
    // collide again in step.
    const delay = Math.round(deps.random() * Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt));
    const elapsed = deps.now() - started;
    if (elapsed + delay >= o.deadlineMs) {
      throw new TetherError(
        'github',
        `${base} kept moving: ${attempt + 1} fast-forward attempt(s) in ${Math.round(elapsed / 1000)} s were refused (deadline ${Math.round(o.deadlineMs / 1000)} s; the last: ${ff.refused}); nothing was forced and nothing was pushed`,
      );
    }
    await deps.sleep(delay);
    const previous = baseSha;
    ({ sha: baseSha, plan } = await deps.replanOnTip());
    if (baseSha !== previous) still = undefined;
    else if (still) still.attempts++;
    else still = { since: deps.now() - delay, attempts: 1 };
    for (const [k, line] of overriddenValues(start.plan, plan)) overridden.set(k, line);
    deps.info(`${base} moved; re-applied the edit on ${baseSha.slice(0, 7)} (attempt ${attempt + 2})`);
    if (plan.edits.length === 0) return { plan, retries: attempt + 1, overridden: [...overridden.values()] };
  }
}
