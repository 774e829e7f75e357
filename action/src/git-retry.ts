// Git fetches of the environment repo are retried like GitHub's REST calls are: a 5xx answer, a reset connection or
// an answer cut mid-body says nothing about the request, and GitHub's guidance for such failures is to try again
// after a pause. A refused token, a missing branch or any other 4xx is final. Fetches write nothing the next
// attempt could trip over: objects land in the temporary store only when a pack was read whole.
import { TetherError } from '../../shared/src/errors.ts';

/** How often and how patiently to retry. */
export interface GitRetryOptions {
  /** Attempts in all. */
  attempts: number;
  /** The first pause; it doubles per attempt and is jittered. */
  baseDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** Told about each retry, for the log. */
  onRetry: (message: string) => void;
}

/** The defaults: 4 attempts, pauses around 0.5, 1 and 2 s. */
export function defaultGitRetryOptions(): GitRetryOptions {
  return {
    attempts: 4,
    baseDelayMs: 500,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    random: Math.random,
    onRetry: () => {},
  };
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Whether a failed fetch is worth another try: 5xx, 408, 429, or the connection failing under it. */
export function isTransientGitError(err: unknown): boolean {
  const e = (err instanceof TetherError ? err.cause : err) as
    | { code?: string; message?: string; data?: { statusCode?: number } }
    | undefined;
  if (!e) return false;
  if (e.code === 'HttpError') {
    const status = e.data?.statusCode ?? 0;
    return status >= 500 || status === 408 || status === 429;
  }
  if (e.code && (NETWORK_CODES.has(e.code) || e.code.startsWith('UND_ERR_'))) return true;
  return /^(aborted|socket hang up|terminated)$/i.test(e.message ?? '');
}

/** Runs `fn`, retrying transient Git failures; the final error names the step and the attempts made. */
export async function withGitRetries<T>(
  step: string,
  fn: () => Promise<T>,
  options: Partial<GitRetryOptions> = {},
): Promise<T> {
  const o = { ...defaultGitRetryOptions(), ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientGitError(err)) throw err;
      const message = (err as Error).message;
      if (attempt >= o.attempts)
        throw new TetherError('git', `${step}: failed ${attempt} times, the last with: ${message}`, { cause: err });
      const delay = Math.round(o.baseDelayMs * 2 ** (attempt - 1) * (0.5 + o.random()));
      o.onRetry(`${step}: ${message}; retrying in ${delay} ms (attempt ${attempt + 1} of ${o.attempts})`);
      await o.sleep(delay);
    }
  }
}
