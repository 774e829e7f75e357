// The GitHub emulator's HTTP face (issue 3, part 3): a Hono app serving the REST endpoints Tether needs, with
// GitHub's auth rules, rate-limit headers, fault knobs, and OpenAPI validation of every request and answer.
// Routes are declared with GitHub's own path templates, so each is validated against exactly that operation.
import { randomUUID } from 'node:crypto';
import { type Context, Hono } from 'hono';
import type { Faults } from '../faults.ts';
import { type CommitInfo, type GitSignature, type TreeChange, type TreeEntryType, ZERO_SHA } from '../git-ops.ts';
import { bearerToken, canAccess, type Principal, principalFor } from '../tokens.ts';
import { ApiError, checkIssueText, type GitHubEngine, validationFailed } from './engine.ts';
import type { OpenApiValidator, Violation } from './openapi.ts';
import {
  blobJson,
  combinedStatusJson,
  commentJson,
  commitJson,
  contentJson,
  errorJson,
  fileChangeJson,
  gitCommitJson,
  hookJson,
  issueJson,
  labelJson,
  pingPayloadJson,
  pullJson,
  refJson,
  repoJson,
  statusJson,
  teamJson,
  treeJson,
  userJson,
} from './responses.ts';
import {
  type GitHubState,
  isoNow,
  type LabelRecord,
  type MergeMethod,
  nodeId,
  type PullRecord,
  type RepoRecord,
} from './state.ts';

/** HTTP methods the emulator serves. */
export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** What a route handler gets. */
export interface RouteInput {
  engine: GitHubEngine;
  state: GitHubState;
  principal: Principal;
  repo: RepoRecord;
  params: Record<string, string>;
  query: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: request bodies are checked against GitHub's schema before handlers run
  body: any;
  url: URL;
}

/** What a route handler answers: a status, a JSON body, extra headers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Route {
  method: Method;
  /** GitHub's path template, as in its OpenAPI description. */
  path: string;
  handler: (input: RouteInput) => Promise<Reply>;
}

/** Everything the app needs from the emulator. */
export interface AppContext {
  engine: GitHubEngine;
  faults: Faults;
  violations: Violation[];
  /** Present when validation is on. */
  validator?: OpenApiValidator;
  /** The GraphQL endpoint (`POST /graphql`). */
  graphql: (principal: Principal, body: unknown) => Promise<Reply>;
}

const DOCS = 'https://docs.github.com/rest';
const API_VERSION = '2022-11-28';

// ---------------------------------------------------------------------------------------------------------------
// Helpers shared by handlers

const ok = (body: unknown, status = 200, headers?: Record<string, string>): Reply => ({ status, body, headers });
const noContent = (): Reply => ({ status: 204 });
const notFound = (): ApiError => new ApiError(404, 'Not Found');

function perPage(query: Record<string, string>): { page: number; perPage: number } {
  const perPage = Math.min(100, Math.max(1, Number.parseInt(query['per_page'] ?? '30', 10) || 30));
  const page = Math.max(1, Number.parseInt(query['page'] ?? '1', 10) || 1);
  return { page, perPage };
}

/** One page of `items`, with GitHub's `Link` header for the others (Octokit's paginate follows it). */
function paginate<T>(items: readonly T[], input: RouteInput, map: (item: T) => unknown): Reply {
  const { page, perPage: size } = perPage(input.query);
  const last = Math.max(1, Math.ceil(items.length / size));
  const link = (p: number, rel: string) => {
    const u = new URL(input.url);
    u.searchParams.set('per_page', String(size));
    u.searchParams.set('page', String(p));
    return `<${u}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  const headers = links.length > 0 ? { link: links.join(', ') } : undefined;
  return ok(items.slice((page - 1) * size, page * size).map(map), 200, headers);
}

async function commitOf(input: RouteInput, ref: string, missing: ApiError): Promise<string> {
  const sha = await input.repo.bare.resolve(ref, { peel: 'commit' });
  if (!sha) throw missing;
  return sha;
}

function pullOf(input: RouteInput, key: 'pull_number' | 'issue_number'): PullRecord {
  const pr = input.repo.pulls.get(Number(input.params[key]));
  if (!pr) throw notFound();
  return pr;
}

async function fullPull(input: RouteInput, pr: PullRecord, status = 200): Promise<Reply> {
  const details = await input.engine.pullDetails(input.repo, pr);
  return ok(pullJson(input.engine.urls, input.state, input.repo, pr, details), status);
}

function signatureFrom(
  person: { name?: string; email?: string; date?: string } | undefined,
  fallback: GitSignature,
): GitSignature {
  if (!person) return fallback;
  const when = person.date ? Date.parse(person.date) : Number.NaN;
  return {
    name: person.name ?? fallback.name,
    email: person.email ?? fallback.email,
    timestamp: Number.isNaN(when) ? fallback.timestamp : Math.floor(when / 1000),
    timezone: '+0000',
  };
}

/** `heads/main` → `refs/heads/main`, refusing names git would refuse. */
function fullRef(ref: string): string {
  const full = ref.startsWith('refs/') ? ref : `refs/${ref}`;
  if (/\.\.|[\s~^:?*[\\]|\/\/|\/$|\.lock$|@\{/.test(full)) throw new ApiError(422, 'Reference name is invalid');
  return full;
}

function ensureLabel(input: RouteInput, name: string): LabelRecord {
  const key = name.toLowerCase();
  let label = input.repo.labels.get(key);
  if (!label) {
    const id = input.state.nextId();
    // GitHub creates missing labels when they are added to an issue, with a default grey.
    label = { id, nodeId: nodeId('LA', id), name, color: 'ededed', description: null };
    input.repo.labels.set(key, label);
  }
  return label;
}

function labelNames(body: unknown): string[] {
  const raw = Array.isArray(body) ? body : (body as { labels?: unknown } | undefined)?.labels;
  if (!Array.isArray(raw)) return [];
  return raw.map((l) => (typeof l === 'string' ? l : String((l as { name?: unknown }).name ?? '')));
}

function labelList(input: RouteInput, pr: PullRecord): Reply {
  const labels = pr.labels.flatMap((n) => {
    const l = input.repo.labels.get(n.toLowerCase());
    return l ? [labelJson(input.engine.urls, input.repo, l)] : [];
  });
  return ok(labels);
}

const uniq = (xs: string[]): string[] => [...new Set(xs)];

// ---------------------------------------------------------------------------------------------------------------
// Routes, in GitHub's own path templates

const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}',
    handler: async (i) => ok(repoJson(i.engine.urls, i.state, i.repo)),
  },

  // Git database: refs
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/git/ref/{ref}',
    handler: async (i) => {
      const ref = fullRef(i.params['ref']!);
      const sha = (await i.repo.bare.refs(ref)).get(ref);
      if (!sha) throw notFound();
      return ok(refJson(i.engine.urls, i.repo, ref, sha, (await i.repo.bare.objectType(sha)) ?? 'commit'));
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/git/matching-refs/{ref}',
    handler: async (i) => {
      const prefix = `refs/${i.params['ref']}`;
      const refs = [...(await i.repo.bare.refs()).entries()].filter(
        ([r]) => r.startsWith(prefix) && !r.startsWith('refs/pull/'),
      );
      const out = [];
      for (const [r, sha] of refs)
        out.push(refJson(i.engine.urls, i.repo, r, sha, (await i.repo.bare.objectType(sha)) ?? 'commit'));
      return ok(out);
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/git/refs',
    handler: async (i) => {
      const ref = String(i.body.ref);
      if (!ref.startsWith('refs/') || ref.split('/').length < 3) {
        throw new ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.");
      }
      fullRef(ref);
      const type = await i.repo.bare.objectType(String(i.body.sha));
      if (!type) throw new ApiError(422, 'Object does not exist');
      if ((await i.repo.bare.refs(ref)).has(ref)) throw new ApiError(422, 'Reference already exists');
      if (!(await i.engine.moveRef(i.repo, ref, i.body.sha, null, i.principal.login))) {
        throw new ApiError(422, 'Reference already exists');
      }
      const body = refJson(i.engine.urls, i.repo, ref, i.body.sha, type);
      return ok(body, 201, { location: String(body['url']) });
    },
  },
  {
    method: 'PATCH',
    path: '/repos/{owner}/{repo}/git/refs/{ref}',
    handler: async (i) => {
      const ref = fullRef(i.params['ref']!);
      const current = (await i.repo.bare.refs(ref)).get(ref);
      if (!current) throw new ApiError(422, 'Reference does not exist');
      const sha = String(i.body.sha);
      const type = await i.repo.bare.objectType(sha);
      if (!type || !/^[0-9a-f]{40}$/.test(sha)) throw new ApiError(422, 'Object does not exist');
      // GitHub refuses to rewind a branch unless asked to force.
      if (
        i.body.force !== true &&
        sha !== current &&
        !(await i.repo.bare.isAncestor(current, sha).catch(() => false))
      ) {
        throw new ApiError(422, 'Update is not a fast forward');
      }
      if (sha !== current && !(await i.engine.moveRef(i.repo, ref, sha, current, i.principal.login))) {
        throw new ApiError(422, 'Reference cannot be updated');
      }
      return ok(refJson(i.engine.urls, i.repo, ref, sha, type));
    },
  },
  {
    method: 'DELETE',
    path: '/repos/{owner}/{repo}/git/refs/{ref}',
    handler: async (i) => {
      const ref = fullRef(i.params['ref']!);
      const current = (await i.repo.bare.refs(ref)).get(ref);
      if (!current) throw new ApiError(422, 'Reference does not exist');
      await i.engine.moveRef(i.repo, ref, ZERO_SHA, current, i.principal.login);
      return noContent();
    },
  },

  // Git database: commits, trees, blobs
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/git/commits/{commit_sha}',
    handler: async (i) => {
      const sha = i.params['commit_sha']!;
      if ((await i.repo.bare.objectType(sha)) !== 'commit') throw notFound();
      const full = (await i.repo.bare.resolve(sha))!;
      return ok(gitCommitJson(i.engine.urls, i.repo, await i.repo.bare.readCommit(full)));
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/git/commits',
    handler: async (i) => {
      const bare = i.repo.bare;
      if ((await bare.objectType(i.body.tree)) !== 'tree') throw new ApiError(422, 'Tree SHA does not exist');
      const parents: string[] = i.body.parents ?? [];
      for (const p of parents) {
        if ((await bare.objectType(p)) !== 'commit') {
          throw new ApiError(422, 'Parent SHA does not exist or is not a commit object');
        }
      }
      const me = i.engine.signatureOf(i.principal.login);
      const author = signatureFrom(i.body.author, me);
      const committer = signatureFrom(i.body.committer, i.body.author ? author : me);
      const sha = await bare.commitTree({
        tree: i.body.tree,
        parents,
        message: String(i.body.message),
        author,
        committer,
      });
      const body = gitCommitJson(i.engine.urls, i.repo, await bare.readCommit(sha));
      return ok(body, 201, { location: String(body['url']) });
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/git/trees/{tree_sha}',
    handler: async (i) => {
      const sha = await i.repo.bare.resolve(i.params['tree_sha']!, { peel: 'tree' });
      if (!sha) throw notFound();
      const recursive = i.query['recursive'] !== undefined;
      const entries = await i.repo.bare.readTree(sha, { recursive, withTrees: true });
      return ok(treeJson(i.engine.urls, i.repo, sha, entries));
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/git/trees',
    handler: async (i) => {
      const bare = i.repo.bare;
      let base: string | undefined;
      if (i.body.base_tree) {
        base = await bare.resolve(i.body.base_tree, { peel: 'tree' });
        if (!base) throw new ApiError(422, 'Invalid tree info');
      }
      const changes: TreeChange[] = [];
      for (const e of i.body.tree as Array<{
        path: string;
        mode: string;
        type: TreeEntryType;
        sha?: string | null;
        content?: string;
      }>) {
        if (e.content !== undefined) {
          changes.push({ path: e.path, mode: e.mode, type: 'blob', sha: await bare.writeBlob(e.content) });
        } else if (e.sha === null) {
          changes.push({ path: e.path, mode: e.mode, type: e.type, sha: null });
        } else {
          const t = e.type === 'commit' ? 'commit' : await bare.objectType(String(e.sha));
          if (t !== e.type) throw new ApiError(422, `tree.sha ${e.sha} is not a valid ${e.type}`);
          changes.push({ path: e.path, mode: e.mode, type: e.type, sha: String(e.sha) });
        }
      }
      const sha = await bare.writeTreeWithChanges(base, changes);
      const body = treeJson(i.engine.urls, i.repo, sha, await bare.readTree(sha));
      return ok(body, 201, { location: String(body['url']) });
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/git/blobs/{file_sha}',
    handler: async (i) => {
      const sha = i.params['file_sha']!;
      if ((await i.repo.bare.objectType(sha)) !== 'blob') throw notFound();
      const full = (await i.repo.bare.resolve(sha))!;
      return ok(blobJson(i.engine.urls, i.repo, full, await i.repo.bare.readBlob(full)));
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/git/blobs',
    handler: async (i) => {
      const encoding = i.body.encoding ?? 'utf-8';
      const bytes =
        encoding === 'base64' ? Buffer.from(String(i.body.content), 'base64') : Buffer.from(String(i.body.content));
      const sha = await i.repo.bare.writeBlob(bytes);
      const url = `${i.engine.urls.api}/repos/${i.repo.fullName}/git/blobs/${sha}`;
      return ok({ url, sha }, 201, { location: url });
    },
  },

  // Contents
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/contents/{path}',
    handler: async (i) => {
      const ref = i.query['ref'] || i.repo.defaultBranch;
      const commit = await commitOf(i, ref, new ApiError(404, `No commit found for the ref ${ref}`));
      const path = (i.params['path'] ?? '').replace(/^\/+|\/+$/g, '');
      const entry = await i.repo.bare.entryAt(commit, path);
      if (!entry) throw notFound();
      const urls = i.engine.urls;
      if (entry.type === 'blob') {
        return ok(contentJson(urls, i.repo, ref, entry, path, await i.repo.bare.readBlob(entry.sha)));
      }
      if (entry.type !== 'tree') return ok(contentJson(urls, i.repo, ref, entry, path));
      const items = await i.repo.bare.readTree(entry.sha);
      return ok(items.map((e) => contentJson(urls, i.repo, ref, e, path ? `${path}/${e.path}` : e.path)));
    },
  },
  {
    method: 'PUT',
    path: '/repos/{owner}/{repo}/contents/{path}',
    handler: async (i) => {
      const bare = i.repo.bare;
      const path = (i.params['path'] ?? '').replace(/^\/+|\/+$/g, '');
      const branch = i.body.branch ?? i.repo.defaultBranch;
      const ref = `refs/heads/${branch}`;
      const tip = await bare.resolve(ref, { peel: 'commit' });
      const tipCommit = tip ? await bare.readCommit(tip) : undefined;
      const existing = tip ? await bare.entryAt(tip, path) : undefined;
      if (existing && i.body.sha === undefined) throw new ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.');
      if (existing && i.body.sha !== existing.sha) throw new ApiError(409, `${path} does not match ${i.body.sha}`);
      const blob = await bare.writeBlob(Buffer.from(String(i.body.content), 'base64'));
      const tree = await bare.writeTreeWithChanges(tipCommit?.tree, [
        { path, mode: '100644', type: 'blob', sha: blob },
      ]);
      const me = i.engine.signatureOf(i.principal.login);
      const committer = signatureFrom(i.body.committer, me);
      const author = signatureFrom(i.body.author, committer);
      const message = String(i.body.message);
      const sha = await bare.commitTree({ tree, parents: tip ? [tip] : [], message, author, committer });
      if (!(await i.engine.moveRef(i.repo, ref, sha, tip ?? null, i.principal.login))) {
        throw new ApiError(409, `${branch} moved while the file was written; try again`);
      }
      const entry = (await bare.entryAt(sha, path))!;
      const { content: _c, encoding: _e, ...content } = contentJson(i.engine.urls, i.repo, branch, entry, path);
      const commit = gitCommitJson(i.engine.urls, i.repo, await bare.readCommit(sha));
      return ok({ content, commit }, existing ? 200 : 201);
    },
  },

  // Commits and statuses
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/commits',
    handler: async (i) => {
      if ((await i.repo.bare.refs('refs/heads/')).size === 0) throw new ApiError(409, 'Git Repository is empty.');
      const from = i.query['sha'] || i.repo.defaultBranch;
      const tip = await commitOf(i, from, new ApiError(404, `No commit found for SHA: ${from}`));
      const shas = await i.repo.bare.revList({ include: [tip], path: i.query['path'] || undefined });
      const { page, perPage: size } = perPage(i.query);
      const commits = new Map<string, CommitInfo>();
      for (const sha of shas.slice((page - 1) * size, page * size)) commits.set(sha, await i.repo.bare.readCommit(sha));
      return paginate(shas, i, (sha) => {
        const c = commits.get(sha);
        return c ? commitJson(i.engine.urls, i.state, i.repo, c) : undefined;
      });
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/commits/{ref}',
    handler: async (i) => {
      const ref = i.params['ref']!;
      const sha = await commitOf(i, ref, new ApiError(422, `No commit found for SHA: ${ref}`));
      const c = await i.repo.bare.readCommit(sha);
      const files = await i.repo.bare.diffFiles(c.parents[0], sha);
      return ok(commitJson(i.engine.urls, i.state, i.repo, c, files));
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/commits/{ref}/status',
    handler: async (i) => {
      const ref = i.params['ref']!;
      const sha = await commitOf(i, ref, new ApiError(404, `No commit found for SHA: ${ref}`));
      return ok(combinedStatusJson(i.engine.urls, i.state, i.repo, sha, i.state.latestStatuses(i.repo, sha)));
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/commits/{ref}/statuses',
    handler: async (i) => {
      const ref = i.params['ref']!;
      const sha = await commitOf(i, ref, new ApiError(404, `No commit found for SHA: ${ref}`));
      const list = i.repo.statuses.filter((s) => s.sha === sha).reverse();
      return paginate(list, i, (s) => statusJson(i.engine.urls, i.state, i.repo, s));
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/statuses/{sha}',
    handler: async (i) => {
      const status = await i.engine.createStatus(i.repo, i.params['sha']!, i.principal.login, {
        state: i.body.state,
        targetUrl: i.body.target_url,
        description: i.body.description,
        context: i.body.context,
      });
      const body = statusJson(i.engine.urls, i.state, i.repo, status);
      return ok(body, 201, { location: String(body['url']) });
    },
  },

  // Pull requests
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/pulls',
    handler: async (i) => {
      const want = i.query['state'] ?? 'open';
      let pulls = [...i.repo.pulls.values()];
      for (const pr of pulls) await i.engine.refreshPull(i.repo, pr);
      if (want !== 'all') pulls = pulls.filter((p) => p.state === want);
      if (i.query['head']) {
        const [owner, branch] = i.query['head'].includes(':')
          ? i.query['head'].split(':', 2)
          : [i.repo.owner, i.query['head']];
        pulls = pulls.filter((p) => owner!.toLowerCase() === i.repo.owner.toLowerCase() && p.headRef === branch);
      }
      if (i.query['base']) pulls = pulls.filter((p) => p.baseRef === i.query['base']);
      const sort = i.query['sort'] ?? 'created';
      const key = (p: PullRecord) =>
        sort === 'updated' ? `${p.updatedAt}/${String(p.number).padStart(9, '0')}` : String(p.number).padStart(9, '0');
      pulls.sort((a, b) => key(a).localeCompare(key(b)));
      if ((i.query['direction'] ?? 'desc') === 'desc') pulls.reverse();
      return paginate(pulls, i, (p) => pullJson(i.engine.urls, i.state, i.repo, p));
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/pulls',
    handler: async (i) => {
      if (typeof i.body.title !== 'string')
        throw validationFailed({ resource: 'PullRequest', field: 'title', code: 'missing_field' });
      const pr = await i.engine.createPull(i.repo, i.principal.login, {
        title: i.body.title,
        head: i.body.head,
        base: i.body.base,
        body: i.body.body,
        draft: i.body.draft,
        maintainerCanModify: i.body.maintainer_can_modify,
      });
      const reply = await fullPull(i, pr, 201);
      reply.headers = { location: String((reply.body as Record<string, unknown>)['url']) };
      return reply;
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}',
    handler: async (i) => fullPull(i, pullOf(i, 'pull_number')),
  },
  {
    method: 'PATCH',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      const now = isoNow();
      checkIssueText(i.body);
      if (i.body.base !== undefined && i.body.base !== pr.baseRef) {
        if (!(await i.repo.bare.resolve(`refs/heads/${i.body.base}`))) {
          throw validationFailed({ resource: 'PullRequest', field: 'base', code: 'invalid' });
        }
        pr.baseRef = i.body.base;
      }
      if (i.body.title !== undefined) pr.title = i.body.title;
      if (i.body.body !== undefined) pr.body = i.body.body;
      if (i.body.maintainer_can_modify !== undefined) pr.maintainerCanModify = i.body.maintainer_can_modify;
      const wasOpen = pr.state === 'open';
      if (i.body.state === 'closed' && pr.state === 'open')
        Object.assign(pr, { state: 'closed', closedAt: now, autoMerge: null });
      if (i.body.state === 'open' && pr.state === 'closed') {
        if (pr.mergedAt)
          throw validationFailed({
            resource: 'PullRequest',
            code: 'custom',
            message: 'Cannot reopen a merged pull request',
          });
        if (!(await i.repo.bare.resolve(`refs/heads/${pr.headRef}`))) {
          throw validationFailed({
            resource: 'PullRequest',
            code: 'custom',
            message: 'state cannot be changed. The head branch was deleted.',
          });
        }
        Object.assign(pr, { state: 'open', closedAt: null });
      }
      pr.updatedAt = now;
      await i.engine.refreshPull(i.repo, pr);
      if (wasOpen !== (pr.state === 'open')) {
        await i.engine.announcePull(i.repo, pr, wasOpen ? 'closed' : 'reopened', i.principal.login);
      }
      return fullPull(i, pr);
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/files',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      await i.engine.refreshPull(i.repo, pr);
      const base = pr.mergedAt && pr.mergeCommitSha ? `${pr.mergeCommitSha}^1` : pr.baseSha;
      // GitHub lists the changes of the three-dot diff: from the merge base to the head.
      const mergeBase = (await i.repo.bare.git(['merge-base', base, pr.headSha], { okCodes: [0, 1] })).stdout
        .toString('utf8')
        .trim();
      const files = mergeBase ? await i.repo.bare.diffFiles(mergeBase, pr.headSha) : [];
      return paginate(files, i, (f) => fileChangeJson(i.engine.urls, i.repo, pr.headSha, f));
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/commits',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      await i.engine.refreshPull(i.repo, pr);
      const base = pr.mergedAt && pr.mergeCommitSha ? `${pr.mergeCommitSha}^1` : pr.baseSha;
      const shas = await i.repo.bare.revList({ include: [pr.headSha], exclude: [base], reverse: true });
      const commits: CommitInfo[] = [];
      for (const sha of shas) commits.push(await i.repo.bare.readCommit(sha));
      return paginate(commits, i, (c) => commitJson(i.engine.urls, i.state, i.repo, c));
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/merge',
    handler: async (i) => (pullOf(i, 'pull_number').mergedAt ? noContent() : { status: 404 }),
  },
  {
    method: 'PUT',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/merge',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      const { sha } = await i.engine.mergePull(i.repo, pr, i.principal.login, {
        method: i.body?.merge_method as MergeMethod | undefined,
        sha: i.body?.sha,
        title: i.body?.commit_title,
        message: i.body?.commit_message,
      });
      return ok({ sha, merged: true, message: 'Pull Request successfully merged' });
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      const urls = i.engine.urls;
      return ok({
        users: pr.requestedReviewers.map((l) => userJson(urls, i.state.user(l))),
        teams: pr.requestedTeams.map((t) => teamJson(urls, i.state, i.state.team(i.repo.owner, t))),
      });
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      const reviewers: string[] = i.body.reviewers ?? [];
      if (reviewers.some((r) => r.toLowerCase() === pr.user.toLowerCase())) {
        throw new ApiError(422, 'Review cannot be requested from pull request author.');
      }
      pr.requestedReviewers = uniq([...pr.requestedReviewers, ...reviewers.map((r) => i.state.user(r, 'User').login)]);
      pr.requestedTeams = uniq([...pr.requestedTeams, ...(i.body.team_reviewers ?? [])]);
      pr.updatedAt = isoNow();
      return ok(pullJson(i.engine.urls, i.state, i.repo, pr), 201);
    },
  },
  {
    method: 'DELETE',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers',
    handler: async (i) => {
      const pr = pullOf(i, 'pull_number');
      const drop = new Set<string>((i.body.reviewers ?? []).map((r: string) => r.toLowerCase()));
      const dropTeams = new Set<string>(i.body.team_reviewers ?? []);
      pr.requestedReviewers = pr.requestedReviewers.filter((r) => !drop.has(r.toLowerCase()));
      pr.requestedTeams = pr.requestedTeams.filter((t) => !dropTeams.has(t));
      pr.updatedAt = isoNow();
      return ok(pullJson(i.engine.urls, i.state, i.repo, pr));
    },
  },

  // Issues (the issue side of pull requests: labels and assignees)
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/issues/{issue_number}',
    handler: async (i) => ok(issueJson(i.engine.urls, i.state, i.repo, pullOf(i, 'issue_number'))),
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      return paginate(pr.comments ?? [], i, (c) => commentJson(i.engine.urls, i.state, i.repo, pr, c));
    },
  },
  {
    method: 'PATCH',
    path: '/repos/{owner}/{repo}/issues/comments/{comment_id}',
    handler: async (i) => {
      const id = Number(i.params['comment_id']);
      for (const pr of i.repo.pulls.values()) {
        const c = pr.comments?.find((x) => x.id === id);
        if (!c) continue;
        if (typeof i.body?.body !== 'string' || i.body.body === '')
          throw validationFailed({ resource: 'IssueComment', field: 'body', code: 'missing_field' });
        checkIssueText({ body: i.body.body }, 'IssueComment');
        // Only the author (or an admin, which the emulator does not model) may edit a comment.
        if (c.user.toLowerCase() !== i.principal.login.toLowerCase())
          throw new ApiError(403, 'Resource not accessible by integration');
        c.body = i.body.body;
        c.updatedAt = isoNow();
        return ok(commentJson(i.engine.urls, i.state, i.repo, pr, c));
      }
      throw notFound();
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      if (typeof i.body?.body !== 'string' || i.body.body === '')
        throw validationFailed({ resource: 'IssueComment', field: 'body', code: 'missing_field' });
      checkIssueText({ body: i.body.body }, 'IssueComment');
      const c = { id: i.state.nextId(), user: i.principal.login, body: i.body.body as string, createdAt: isoNow() };
      pr.comments = [...(pr.comments ?? []), c];
      pr.updatedAt = c.createdAt;
      return ok(commentJson(i.engine.urls, i.state, i.repo, pr, c), 201);
    },
  },
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/labels',
    handler: async (i) => labelList(i, pullOf(i, 'issue_number')),
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/labels',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      const names = labelNames(i.body).map((n) => ensureLabel(i, n).name);
      pr.labels = uniq([
        ...pr.labels,
        ...names.filter((n) => !pr.labels.some((l) => l.toLowerCase() === n.toLowerCase())),
      ]);
      pr.updatedAt = isoNow();
      return labelList(i, pr);
    },
  },
  {
    method: 'PUT',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/labels',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      pr.labels = uniq(labelNames(i.body).map((n) => ensureLabel(i, n).name));
      pr.updatedAt = isoNow();
      return labelList(i, pr);
    },
  },
  {
    method: 'DELETE',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/labels',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      pr.labels = [];
      pr.updatedAt = isoNow();
      return noContent();
    },
  },
  {
    method: 'DELETE',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      const name = i.params['name']!.toLowerCase();
      if (!pr.labels.some((l) => l.toLowerCase() === name)) throw new ApiError(404, 'Label does not exist');
      pr.labels = pr.labels.filter((l) => l.toLowerCase() !== name);
      pr.updatedAt = isoNow();
      return labelList(i, pr);
    },
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/assignees',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      const add: string[] = (i.body.assignees ?? []).map((a: string) => i.state.user(a, 'User').login);
      pr.assignees = uniq([...pr.assignees, ...add]).slice(0, 10);
      pr.updatedAt = isoNow();
      return ok(issueJson(i.engine.urls, i.state, i.repo, pr), 201);
    },
  },
  {
    method: 'DELETE',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/assignees',
    handler: async (i) => {
      const pr = pullOf(i, 'issue_number');
      const drop = new Set<string>((i.body?.assignees ?? []).map((a: string) => a.toLowerCase()));
      pr.assignees = pr.assignees.filter((a) => !drop.has(a.toLowerCase()));
      pr.updatedAt = isoNow();
      return ok(issueJson(i.engine.urls, i.state, i.repo, pr));
    },
  },

  // Webhooks
  {
    method: 'GET',
    path: '/repos/{owner}/{repo}/hooks',
    handler: async (i) => paginate(i.repo.hooks, i, (h) => hookJson(i.engine.urls, i.repo, h)),
  },
  {
    method: 'POST',
    path: '/repos/{owner}/{repo}/hooks',
    handler: async (i) => {
      const config = i.body.config ?? {};
      const hook = await i.state.addHook(i.repo.fullName, {
        url: String(config.url),
        secret: config.secret,
        events: i.body.events ?? ['push'],
        // GitHub's default content type for hooks made through the API is form-encoded.
        contentType: config.content_type === 'json' ? 'json' : 'form',
      });
      if (i.body.active === false) hook.active = false;
      const urls = i.engine.urls;
      i.engine.webhooks.send(i.repo, hook, 'ping', pingPayloadJson(urls, i.state, i.repo, hook, i.principal.login));
      const body = hookJson(urls, i.repo, hook);
      return ok(body, 201, { location: String(body['url']) });
    },
  },
  {
    method: 'DELETE',
    path: '/repos/{owner}/{repo}/hooks/{hook_id}',
    handler: async (i) => {
      const idx = i.repo.hooks.findIndex((h) => h.id === Number(i.params['hook_id']));
      if (idx < 0) throw notFound();
      i.repo.hooks.splice(idx, 1);
      return noContent();
    },
  },
];

/** The operations the emulator serves, as `METHOD /path/template` (what the validator must load). */
export const GITHUB_OPERATIONS: readonly string[] = ROUTES.map((r) => `${r.method} ${r.path}`);

/** GitHub's path template as a Hono path; a trailing `{ref}` or `{path}` takes slashes, as GitHub's does. */
function honoPath(template: string): string {
  return template.replace(/\{(\w+)\}(\/?)/g, (_m, name: string, slash: string) => {
    const greedy = !slash && (name === 'ref' || name === 'path') && !template.includes('/commits/{ref}');
    return greedy ? `:${name}{.+}${slash}` : `:${name}${slash}`;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Rate limits

interface Bucket {
  used: number;
  reset: number;
}

/** GitHub's per-token hourly budget; counted for the headers, never enforced (a fault knob does that). */
class RateLimits {
  readonly #buckets = new Map<string, Bucket>();

  take(key: string, resource: 'core' | 'graphql'): Record<string, string> {
    const now = Math.floor(Date.now() / 1000);
    const id = `${resource}:${key}`;
    let b = this.#buckets.get(id);
    if (!b || b.reset <= now) {
      b = { used: 0, reset: now + 3600 };
      this.#buckets.set(id, b);
    }
    b.used += 1;
    const limit = key === 'anonymous' ? 60 : 5000;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - b.used)),
      'x-ratelimit-reset': String(b.reset),
      'x-ratelimit-used': String(b.used),
      'x-ratelimit-resource': resource,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The app

/** Builds the Hono app of the emulator. */
export function buildGitHubApp(ctx: AppContext): Hono {
  const app = new Hono();
  const limits = new RateLimits();
  const { engine, faults, violations, validator } = ctx;

  /** Runs the common pipeline around one request: latency, faults, auth, validation, answer headers. */
  async function serve(
    c: Context,
    operation: string | undefined,
    inner: (principal: Principal, body: unknown) => Promise<Reply>,
  ) {
    await faults.delay();
    const url = new URL(c.req.url);
    const method = c.req.method;
    const hold = faults.take(method, url.pathname, ['hold']);
    // 499 (nginx's "client closed request") is what the request log records; the client reads no answer.
    if (hold?.kind === 'hold' && !(await heldUntilServed(hold.ms, c.req.raw.signal)))
      return new Response(null, { status: 499 });
    const token = bearerToken(c.req.header('authorization'));
    const principal = principalFor(engine.state.tokens, token);
    const resource = url.pathname === '/graphql' ? 'graphql' : 'core';
    const headers: Record<string, string> = {
      'x-github-request-id': randomUUID().toUpperCase(),
      'x-github-api-version-selected': API_VERSION,
      'x-github-media-type': 'github.v3; format=json',
      ...limits.take(principal?.login ?? 'anonymous', resource),
    };
    const docs = (operation && validator?.documentationUrl(operation)) || DOCS;
    const send = (reply: Reply, validate: boolean): Response => {
      let body = reply.body;
      const malform = faults.take(method, url.pathname, ['malform']);
      if (malform?.kind === 'malform' && body !== undefined) body = malform.mutate(structuredClone(body));
      const all = { ...headers, ...reply.headers };
      if (validate && validator && operation) {
        const errors = validator.validateResponse(operation, reply.status, body);
        if (errors.length > 0) {
          violations.push({ kind: 'response', operation, status: reply.status, errors });
          const message = `emulator answer violates GitHub's OpenAPI description: ${operation} ${reply.status}: ${errors.join('; ')}`;
          return json({ message, documentation_url: docs, status: '500' }, 500, {
            ...all,
            'x-emulator-violation': message.slice(0, 2000),
          });
        }
      }
      return body === undefined
        ? new Response(null, { status: reply.status, headers: all })
        : json(body, reply.status, all);
    };

    const fault = faults.take(method, url.pathname, ['status', 'secondary-rate-limit', 'primary-rate-limit']);
    if (fault?.kind === 'status') {
      const message = fault.status === 502 ? 'Server Error' : fault.status >= 500 ? 'Server Error' : 'Injected fault';
      return send({ status: fault.status, body: errorJson(message, fault.status, docs) }, false);
    }
    if (fault?.kind === 'secondary-rate-limit') {
      const message =
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.';
      return send(
        {
          status: fault.status,
          body: errorJson(
            message,
            fault.status,
            'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
          ),
          headers: { 'retry-after': String(fault.retryAfter) },
        },
        false,
      );
    }
    if (fault?.kind === 'primary-rate-limit') {
      const reset = String(Math.floor(Date.now() / 1000) + fault.resetAfter);
      const message = `API rate limit exceeded for user ID ${principal ? engine.state.user(principal.login).id : 0}.`;
      return send(
        {
          status: 403,
          body: errorJson(
            message,
            403,
            'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits',
          ),
          headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
        },
        false,
      );
    }

    if (!principal) {
      const message = token === undefined ? 'Requires authentication' : 'Bad credentials';
      return send({ status: 401, body: errorJson(message, 401, DOCS) }, false);
    }

    let body: unknown;
    const text = await c.req.text();
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return send({ status: 400, body: errorJson('Problems parsing JSON', 400, docs) }, true);
      }
    }
    try {
      return send(await inner(principal, body), true);
    } catch (err) {
      if (err instanceof ApiError)
        return send({ status: err.status, body: errorJson(err.message, err.status, docs, err.extra) }, true);
      throw err;
    }
  }

  for (const route of ROUTES) {
    const operation = `${route.method} ${route.path}`;
    const handler = (c: Context) =>
      serve(c, operation, async (principal, body) => {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(c.req.param() as Record<string, string>)) params[k] = v;
        if (route.path.endsWith('/contents/{path}') && params['path'] === undefined) params['path'] = '';
        const url = new URL(c.req.url);
        const query: Record<string, string> = {};
        for (const [k, v] of url.searchParams) query[k] = v;
        const fullName = `${params['owner']}/${params['repo']}`;
        // GitHub hides repositories a token may not see: "Not Found", not "Forbidden".
        const repo = canAccess(principal, fullName) ? await engine.state.repo(fullName) : undefined;
        if (!repo) throw notFound();
        if (validator) {
          const errors = validator.validateRequest(operation, { params, query, body });
          if (errors.length > 0) {
            violations.push({ kind: 'request', operation, errors });
            return {
              status: 422,
              body: errorJson(`Invalid request.\n\n${errors.join('\n')}`, 422, DOCS),
              headers: { 'x-emulator-violation': `request violates ${operation}: ${errors.join('; ')}`.slice(0, 2000) },
            };
          }
        }
        return route.handler({ engine, state: engine.state, principal, repo, params, query, body, url });
      });
    const path = honoPath(route.path);
    app.on(route.method, path, handler);
    // `contents/` with an empty path lists the root directory.
    if (route.path.endsWith('/contents/{path}')) app.on(route.method, path.replace('/:path{.+}', ''), handler);
  }

  app.post('/graphql', (c) => serve(c, undefined, (principal, body) => ctx.graphql(principal, body)));

  app.notFound((c) => {
    const operation = `${c.req.method} ${new URL(c.req.url).pathname}`;
    const message = `not implemented by the emulator: ${operation}`;
    violations.push({ kind: 'unimplemented', operation, errors: [message] });
    return json({ message: 'Not Found', documentation_url: DOCS, status: '404' }, 404, {
      'x-emulator-violation': message,
    });
  });

  app.onError((err, c) => {
    const message = `emulator error: ${err instanceof Error ? err.message : String(err)}`;
    violations.push({
      kind: 'response',
      operation: `${c.req.method} ${new URL(c.req.url).pathname}`,
      status: 500,
      errors: [message],
    });
    return json({ message, documentation_url: DOCS, status: '500' }, 500, {
      'x-emulator-violation': message.slice(0, 2000),
    });
  });

  return app;
}

/** Waits `ms`; false when the client went away meanwhile (its request is then not served). */
async function heldUntilServed(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
  return !signal.aborted;
}

function json(body: unknown, status: number, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
  });
}
