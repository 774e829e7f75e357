// Direct push (`pull-request: false`): commit the plan on the base tip and fast-forward the base to it. When another
// writer moved the base first, re-read it and apply the same semantic edit there; never force.
import { TetherError } from '../../shared/src/errors.ts';
import type { EditPlan } from '../../shared/src/plan-edits.ts';

/** What the direct push needs from the outside. */
export interface PushDeps {
  /** Commits `plan` on `parent`; returns the commit's sha. */
  commit(parent: string, plan: EditPlan): Promise<string>;
  /** Fast-forwards the base to `sha`; `conflict` when it moved. */
  fastForward(sha: string): Promise<'ok' | 'conflict'>;
  /** Re-reads the base: its new tip and the same edit planned on it. */
  replanOnTip(): Promise<{ sha: string; plan: EditPlan }>;
  sleep(ms: number): Promise<void>;
  info(message: string): void;
}

/** Retry policy of the direct push. */
export interface PushOptions {
  /** Fast-forward attempts in all. */
  maxAttempts: number;
}

/** The defaults: 5 attempts. */
export function defaultPushOptions(): PushOptions {
  return { maxAttempts: 5 };
}

/** What the push did: the commit that landed (none when the base already had the change) and the final plan. */
export interface PushOutcome {
  commitSha?: string;
  plan: EditPlan;
  /** How many times a moved base was re-read and the edit re-applied. */
  retries: number;
}

/** Pushes `plan` (made on `baseSha`) onto `base`, re-planning on a moved tip; throws when it keeps moving. */
export async function pushDirect(
  base: string,
  start: { sha: string; plan: EditPlan },
  deps: PushDeps,
  options: Partial<PushOptions> = {},
): Promise<PushOutcome> {
  const { maxAttempts } = { ...defaultPushOptions(), ...options };
  let { sha: baseSha, plan } = start;
  if (plan.edits.length === 0) return { plan, retries: 0 };
  for (let attempt = 0; ; attempt++) {
    const sha = await deps.commit(baseSha, plan);
    if ((await deps.fastForward(sha)) === 'ok') return { commitSha: sha, plan, retries: attempt };
    if (attempt + 1 >= maxAttempts) {
      throw new TetherError(
        'github',
        `${base} kept moving: ${maxAttempts} fast-forward attempts were refused; nothing was forced`,
      );
    }
    // Jittered exponential backoff, so that writers that collided do not collide again in step.
    await deps.sleep(200 * 2 ** attempt + Math.random() * 300);
    ({ sha: baseSha, plan } = await deps.replanOnTip());
    deps.info(`${base} moved; re-applied the edit on ${baseSha.slice(0, 7)} (attempt ${attempt + 2})`);
    if (plan.edits.length === 0) return { plan, retries: attempt + 1 };
  }
}
