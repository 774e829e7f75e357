// Starts the GitHub emulator (issue 3, part 3) next to a Git server: REST at the root (Octokit's `baseUrl`),
// GraphQL at `/graphql`, over the same bare repositories, with pushes over Git turned into `push` webhooks.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { TetherError } from '../../../shared/src/errors.ts';
import { Faults } from '../faults.ts';
import { closeServer, type GitServer } from '../git-server.ts';
import type { TokenMap } from '../tokens.ts';
import { buildGitHubApp, GITHUB_OPERATIONS } from './app.ts';
import { GitHubEngine } from './engine.ts';
import { handleGraphQL } from './graphql.ts';
import { loadGitHubValidator, type OpenApiValidator, type Violation } from './openapi.ts';
import type { Urls } from './responses.ts';
import { GitHubState } from './state.ts';
import { WebhookDispatcher } from './webhooks.ts';

/** Options of `startGitHub`. */
export interface GitHubOptions {
  /** The Git server whose repositories the emulator serves. */
  git: GitServer;
  /** Accepted tokens (the same object the Git server reads); read on every request. */
  tokens: TokenMap;
  /**
   * Check every request, answer and webhook against GitHub's OpenAPI description (default true). A validator may
   * be passed in; `false` skips loading the 73 MB description (for interactive use, not for tests).
   */
  validate?: boolean | OpenApiValidator;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
}

/** One request the emulator answered: arrival time (`performance.now()`), duration, method, path and status. */
export interface GitHubRequestRecord {
  method: string;
  path: string;
  status: number;
  at: number;
  ms: number;
}

/** A running GitHub emulator. */
export interface GitHubEmulator {
  /** REST base URL, Octokit's `baseUrl` (e.g. `http://127.0.0.1:41235`). */
  url: string;
  /** The GraphQL endpoint (`<url>/graphql`). */
  graphqlUrl: string;
  /** Everything GitHub's description would not allow; tests assert it stays empty. */
  violations: Violation[];
  /** Fault knobs: failing statuses (500/502), rate limits (403 secondary, 429, primary), malformed answers, holds. */
  faults: Faults;
  /** Users, repositories, pull requests, statuses, hooks; also the place to create repositories and hooks. */
  state: GitHubState;
  /** The emulator's behaviour (merges, statuses), callable directly in tests. */
  engine: GitHubEngine;
  /** Webhook deliveries so far, and `idle()` / `waitFor()`. */
  webhooks: WebhookDispatcher;
  /** Requests answered (REST and GraphQL), oldest first; the newest 10,000 are kept. Benchmarks count them. */
  requests: GitHubRequestRecord[];
  /** Throws, listing them, if there were violations; then clears them. */
  assertNoViolations(): void;
  /** Closes the port and stops webhook deliveries in flight. */
  stop(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1. */
export async function startGitHub(options: GitHubOptions): Promise<GitHubEmulator> {
  const validator =
    options.validate === false
      ? undefined
      : options.validate === true || options.validate === undefined
        ? await loadGitHubValidator({
            operations: GITHUB_OPERATIONS,
            webhooks: [
              'push',
              'ping',
              'pull-request-opened',
              'pull-request-synchronize',
              'pull-request-closed',
              'pull-request-reopened',
            ],
          })
        : options.validate;
  const violations: Violation[] = [];
  const faults = new Faults();
  const state = new GitHubState({ git: options.git, tokens: options.tokens });
  const urls: Urls = { api: '', web: options.git.url };
  const webhooks = new WebhookDispatcher({ validator, violations });
  const engine = new GitHubEngine(state, urls, webhooks);
  const app = buildGitHubApp({
    engine,
    faults,
    violations,
    validator,
    graphql: (principal, body) => handleGraphQL(engine, violations, principal, body),
  });

  const unsubscribe = options.git.onPush(async (event) => {
    const repo = await state.repo(event.repo);
    if (repo) await engine.handlePush(repo, event);
  });

  const requests: GitHubRequestRecord[] = [];
  const fetch: typeof app.fetch = async (req, env, ctx) => {
    const at = performance.now();
    const res = await app.fetch(req, env, ctx);
    if (requests.length >= 10_000) requests.splice(0, 1_000);
    requests.push({
      method: req.method,
      path: new URL(req.url).pathname,
      status: res.status,
      at,
      ms: performance.now() - at,
    });
    return res;
  };

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve(
      // Octokit, the Kubernetes client and the tests share this process: leave the global Request/Response alone.
      { fetch, port: options.port ?? 0, hostname: '127.0.0.1', overrideGlobalObjects: false },
      () => resolve(s as Server),
    ) as Server;
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  urls.api = `http://127.0.0.1:${port}`;

  return {
    url: urls.api,
    graphqlUrl: `${urls.api}/graphql`,
    violations,
    faults,
    state,
    engine,
    webhooks,
    requests,
    assertNoViolations() {
      if (violations.length === 0) return;
      const text = violations
        .map((v) => `${v.kind} ${v.operation}${v.status ? ` ${v.status}` : ''}: ${v.errors.join('; ')}`)
        .join('\n');
      violations.length = 0;
      throw new TetherError('internal', `GitHub emulator saw ${text.split('\n').length} violation(s):\n${text}`);
    },
    async stop() {
      unsubscribe();
      await Promise.all([closeServer(server), webhooks.close()]);
    },
  };
}
