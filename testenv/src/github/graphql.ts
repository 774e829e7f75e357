// The GitHub emulator's GraphQL endpoint: queries are parsed, validated and executed against GitHub's real schema
// (`@octokit/graphql-schema`), so a query Tether sends that GitHub would reject is rejected here too. Only what
// Tether needs resolves to data: `enablePullRequestAutoMerge` / `disablePullRequestAutoMerge`, and reading pull
// requests through `repository`, `node` and `viewer`.
import { readFile } from 'node:fs/promises';
import { buildClientSchema, type GraphQLError, type GraphQLSchema, graphql } from 'graphql';
import { canAccess as canSee, type Principal } from '../tokens.ts';
import type { Reply } from './app.ts';
import { ApiError, type GitHubEngine } from './engine.ts';
import type { Violation } from './openapi.ts';
import type { MergeMethod, PullRecord, RepoRecord } from './state.ts';

let schemaPromise: Promise<GraphQLSchema> | undefined;

/** GitHub's GraphQL schema, built once per process (the introspection JSON is ~5 MB). */
export function loadGitHubSchema(): Promise<GraphQLSchema> {
  schemaPromise ??= (async () => {
    // The package's entry builds a second copy of the schema when imported; reading its JSON directly avoids that.
    const file = new URL('./schema.json', import.meta.resolve('@octokit/graphql-schema'));
    const json = JSON.parse(await readFile(file, 'utf8'));
    return buildClientSchema(json.data ?? json);
  })();
  return schemaPromise;
}

const ERROR_TYPES: Record<number, string> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  422: 'UNPROCESSABLE',
};

/** Serves `POST /graphql` for one principal. */
export async function handleGraphQL(
  engine: GitHubEngine,
  violations: Violation[],
  principal: Principal,
  body: unknown,
): Promise<Reply> {
  const request = (body ?? {}) as { query?: unknown; variables?: Record<string, unknown>; operationName?: string };
  if (typeof request.query !== 'string') {
    return { status: 400, body: { message: 'A query attribute must be specified and must be a string.' } };
  }
  const schema = await loadGitHubSchema();
  const result = await graphql({
    schema,
    source: request.query,
    variableValues: request.variables ?? {},
    operationName: request.operationName,
    rootValue: rootValue(engine, principal),
  });
  const errors = result.errors ?? [];
  // No data at all means the query did not parse or validate against GitHub's schema: a client bug.
  if (errors.length > 0 && result.data === undefined) {
    violations.push({ kind: 'request', operation: 'POST /graphql', errors: errors.map((e) => e.message) });
  }
  const out: Record<string, unknown> = {};
  if (result.data !== undefined) out['data'] = result.data;
  if (errors.length > 0) out['errors'] = errors.map(formatError);
  return { status: 200, body: out };
}

function formatError(e: GraphQLError): Record<string, unknown> {
  const original = e.originalError;
  const out: Record<string, unknown> = { message: e.message };
  if (original instanceof ApiError) out['type'] = ERROR_TYPES[original.status] ?? 'UNPROCESSABLE';
  if (e.path) out['path'] = e.path;
  if (e.locations) out['locations'] = e.locations;
  return out;
}

type Resolved = Record<string, unknown>;

function actor(engine: GitHubEngine, login: string): Resolved {
  const u = engine.state.user(login);
  return {
    __typename: u.type === 'Bot' ? 'Bot' : u.type === 'Organization' ? 'Organization' : 'User',
    id: u.nodeId,
    login: u.login,
    url: `${engine.urls.web}/${u.login}`,
    resourcePath: `/${u.login}`,
    avatarUrl: () => `${engine.urls.web}/avatars/u/${u.id}?v=4`,
  };
}

const METHODS: Record<string, MergeMethod> = { MERGE: 'merge', SQUASH: 'squash', REBASE: 'rebase' };

function pullObject(engine: GitHubEngine, repo: RepoRecord, pr: PullRecord): Resolved {
  return {
    __typename: 'PullRequest',
    id: pr.nodeId,
    number: pr.number,
    title: pr.title,
    body: pr.body ?? '',
    url: `${engine.urls.web}/${repo.fullName}/pull/${pr.number}`,
    state: pr.mergedAt ? 'MERGED' : pr.state === 'open' ? 'OPEN' : 'CLOSED',
    closed: pr.state === 'closed',
    merged: pr.mergedAt !== null,
    mergedAt: pr.mergedAt,
    createdAt: pr.createdAt,
    updatedAt: pr.updatedAt,
    isDraft: pr.draft,
    headRefName: pr.headRef,
    baseRefName: pr.baseRef,
    headRefOid: pr.headSha,
    baseRefOid: pr.baseSha,
    author: actor(engine, pr.user),
    mergeable: async () => {
      const m = await engine.mergeability(repo, pr);
      return m.mergeable === null ? 'UNKNOWN' : m.mergeable ? 'MERGEABLE' : 'CONFLICTING';
    },
    mergeStateStatus: async () => (await engine.mergeability(repo, pr)).state.toUpperCase(),
    autoMergeRequest: pr.autoMerge
      ? {
          enabledAt: pr.autoMerge.enabledAt,
          enabledBy: actor(engine, pr.autoMerge.enabledBy),
          mergeMethod: pr.autoMerge.method.toUpperCase(),
          commitHeadline: pr.autoMerge.title || null,
          commitBody: pr.autoMerge.message || null,
          authorEmail: null,
        }
      : null,
    repository: repoObject(engine, repo),
  };
}

function repoObject(engine: GitHubEngine, repo: RepoRecord): Resolved {
  return {
    __typename: 'Repository',
    id: repo.nodeId,
    name: repo.name,
    nameWithOwner: repo.fullName,
    url: `${engine.urls.web}/${repo.fullName}`,
    isPrivate: repo.private,
    autoMergeAllowed: repo.allowAutoMerge,
    owner: () => actor(engine, repo.owner),
    defaultBranchRef: { __typename: 'Ref', name: repo.defaultBranch, prefix: 'refs/heads/' },
    pullRequest: ({ number }: { number: number }) => {
      const pr = repo.pulls.get(number);
      if (!pr) throw new ApiError(404, `Could not resolve to a PullRequest with the number of ${number}.`);
      return pullObject(engine, repo, pr);
    },
  };
}

function pullByNodeId(engine: GitHubEngine, principal: Principal, id: string): { repo: RepoRecord; pr: PullRecord } {
  const ref = engine.state.pullNodes.get(id);
  const pr = ref?.repo.pulls.get(ref.number);
  if (!ref || !pr || !canSee(principal, ref.repo.fullName))
    throw new ApiError(404, `Could not resolve to a node with the global id of '${id}'`);
  return { repo: ref.repo, pr };
}

interface AutoMergeInput {
  pullRequestId: string;
  mergeMethod?: string;
  commitHeadline?: string;
  commitBody?: string;
  expectedHeadOid?: string;
  clientMutationId?: string;
}

function rootValue(engine: GitHubEngine, principal: Principal): Resolved {
  return {
    viewer: () => actor(engine, principal.login),
    repository: async ({ owner, name }: { owner: string; name: string }) => {
      const repo = canSee(principal, `${owner}/${name}`) ? await engine.state.repo(`${owner}/${name}`) : undefined;
      if (!repo) throw new ApiError(404, `Could not resolve to a Repository with the name '${owner}/${name}'.`);
      return repoObject(engine, repo);
    },
    node: ({ id }: { id: string }) => {
      const { repo, pr } = pullByNodeId(engine, principal, id);
      return pullObject(engine, repo, pr);
    },
    enablePullRequestAutoMerge: async ({ input }: { input: AutoMergeInput }) => {
      const { repo, pr } = pullByNodeId(engine, principal, input.pullRequestId);
      await engine.enableAutoMerge(repo, pr, principal.login, {
        method: METHODS[input.mergeMethod ?? 'MERGE'] ?? 'merge',
        title: input.commitHeadline,
        message: input.commitBody,
        expectedHeadOid: input.expectedHeadOid,
      });
      return {
        clientMutationId: input.clientMutationId ?? null,
        actor: actor(engine, principal.login),
        pullRequest: pullObject(engine, repo, pr),
      };
    },
    disablePullRequestAutoMerge: ({ input }: { input: AutoMergeInput }) => {
      const { repo, pr } = pullByNodeId(engine, principal, input.pullRequestId);
      engine.disableAutoMerge(pr);
      return {
        clientMutationId: input.clientMutationId ?? null,
        actor: actor(engine, principal.login),
        pullRequest: pullObject(engine, repo, pr),
      };
    },
  };
}
