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
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => o.log.warn(m),
      // Octokit logs every failed request here; callers report the errors that matter themselves, so keep it quiet.
      error: (m: string) => o.log.debug(m),
    },
    retry: { retries: o.retries },
    throttle: {
      onRateLimit: (retryAfter: number, req: { method: string; url: string }, _kit: unknown, count: number) => {
        o.log.warn('GitHub rate limit', { request: `${req.method} ${req.url}`, retryAfter, attempt: count + 1 });
        return count < o.retries;
      },
      onSecondaryRateLimit: (
        retryAfter: number,
        req: { method: string; url: string },
        _kit: unknown,
        count: number,
      ) => {
        o.log.warn('GitHub secondary rate limit', {
          request: `${req.method} ${req.url}`,
          retryAfter,
          attempt: count + 1,
        });
        return count < o.retries;
      },
    },
  });
  if (typeof auth === 'function') {
    // A fresh token per request: installation tokens are refreshed by `auth` before they expire.
    octokit.hook.before('request', async (req) => {
      req.headers.authorization = `token ${await auth()}`;
    });
  }
  return octokit;
}

/** `owner/name` of a GitHub clone URL (`https://host/owner/name(.git)`), or undefined when it has no such path. */
export function repoFromUrl(url: string): { owner: string; repo: string } | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    const m = /^[^@]+@[^:]+:(.+)$/.exec(url); // git@github.com:owner/name.git
    if (!m) return undefined;
    path = `/${m[1]}`;
  }
  const parts = path
    .replace(/\.git$/, '')
    .split('/')
    .filter(Boolean);
  if (parts.length < 2) return undefined;
  return { owner: parts[parts.length - 2]!, repo: parts[parts.length - 1]! };
}
