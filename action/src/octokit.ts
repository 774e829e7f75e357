// The Action's Octokit comes from @actions/github's getOctokit, the convention actions follow: it routes requests
// through the runner's proxy settings (HTTPS_PROXY, NO_PROXY, via @actions/http-client) and takes a GitHub
// Enterprise Server API URL as `baseUrl`. On top of it: plugin-retry (5xx and network errors, with backoff) and
// plugin-throttling (primary and secondary rate limits wait for `retry-after` or the reset, then retry).
// @actions/github picks the proxy for the runner's own API URL (GITHUB_API_URL), which is `github-api-url`'s
// default; a different `github-api-url` is reached through that same proxy choice.
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { octokitBehaviour } from '../../shared/src/github.ts';

/** The Octokit the Action uses: REST, pagination and GraphQL, with retries and rate-limit handling. */
export type ActionOctokit = ReturnType<typeof getOctokit>;

/** Where the Action's Octokit reports. */
export interface OctokitLog {
  debug(message: string): void;
  warn(message: string): void;
}

/** How to build the Action's Octokit. */
export interface ActionOctokitOptions {
  token: string;
  /** REST API base URL (`https://HOST/api/v3` on GitHub Enterprise Server). */
  baseUrl: string;
  log: OctokitLog;
  /** Retries of a failed request (5xx, network) and of a rate-limited one. */
  retries: number;
}

/** Defaults: api.github.com, 3 retries. */
export function defaultActionOctokitOptions(): Omit<ActionOctokitOptions, 'token' | 'log'> {
  return { baseUrl: 'https://api.github.com', retries: 3 };
}

/** Builds the Action's Octokit; the token only ever goes into the authorization header. */
export function createActionOctokit(
  options: Pick<ActionOctokitOptions, 'token' | 'log'> & Partial<ActionOctokitOptions>,
): ActionOctokit {
  const o = { ...defaultActionOctokitOptions(), ...options };
  return getOctokit(
    o.token,
    { baseUrl: o.baseUrl.replace(/\/+$/, ''), userAgent: 'tether-action', ...octokitBehaviour(o.log, o.retries) },
    retry,
    throttling,
  );
}
