import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { type Logger, silentLogger } from './log.ts';

/** The GitHub REST client both the Action and the agent use: Octokit with the retry and throttling plugins. */
export const TetherOctokit = Octokit.plugin(retry, throttling);

/** An instance of TetherOctokit. */
export type GitHubClient = InstanceType<typeof TetherOctokit>;

/** How to reach GitHub. */
export interface GitHubOptions {
  /** A token, or a function that returns a current one (GitHub App installation tokens rotate). */
  auth: string | (() => Promise<string>);
  /** REST API base URL; GitHub Enterprise Server: `https://HOST/api/v3`. */
  baseUrl: string;
  userAgent: string;
  log: Logger;
  /** Retries of a failed request (5xx, network) and of a rate-limited one. */
  retries: number;
}

/** Defaults: api.github.com, 3 retries, silent. */
export function defaultGitHubOptions(): Omit<GitHubOptions, 'auth'> {
  return { baseUrl: 'https://api.github.com', userAgent: 'tether', log: silentLogger, retries: 3 };
}

/**
 * Octokit's log, retry and throttle options as Tether sets them for every client (the agent's and the Action's):
 * only warnings are logged (Octokit logs every failed request as an error; callers report the errors that matter),
 * 5xx and network errors retried `retries` times, rate-limited requests waited out and retried as often.
 */
export function octokitBehaviour(
  log: { debug(msg: string): void; warn(msg: string): void },
  retries: number,
): {
  log: { debug(): void; info(): void; warn(m: string): void; error(m: string): void };
  retry: { retries: number };
  throttle: { onRateLimit: RateLimited; onSecondaryRateLimit: RateLimited };
} {
  const limited: (kind: string) => RateLimited = (kind) => (retryAfter, req, _kit, count) => {
    log.warn(`GitHub ${kind} on ${req.method} ${req.url}: retrying after ${retryAfter} s (attempt ${count + 1})`);
    return count < retries;
  };
  return {
    log: { debug: () => {}, info: () => {}, warn: (m) => log.warn(m), error: (m) => log.debug(m) },
    retry: { retries },
    throttle: { onRateLimit: limited('rate limit'), onSecondaryRateLimit: limited('secondary rate limit') },
  };
}

/** What plugin-throttling calls when a request was rate limited; `true` retries it. */
type RateLimited = (retryAfter: number, req: { method: string; url: string }, kit: unknown, count: number) => boolean;

/**
 * Builds the client. 5xx answers and network errors are retried with backoff (plugin-retry); primary and
 * secondary rate limits wait for `retry-after`/`x-ratelimit-reset` and retry (plugin-throttling), up to `retries`
 * times; writes are spaced as GitHub's best practices ask.
 */
export function createGitHub(options: Partial<GitHubOptions> & Pick<GitHubOptions, 'auth'>): GitHubClient {
  const o = { ...defaultGitHubOptions(), ...options };
  const { auth } = o;
  const octokit = new TetherOctokit({
    baseUrl: o.baseUrl.replace(/\/+$/, ''),
    userAgent: o.userAgent,
    ...(typeof auth === 'string' ? { auth } : {}),
    ...octokitBehaviour(o.log, o.retries),
  });
  if (typeof auth === 'function') {
    // A fresh token per request: installation tokens are refreshed by `auth` before they expire.
    octokit.hook.before('request', async (req) => {
      req.headers.authorization = `token ${await auth()}`;
    });
  }
  return octokit;
}
