import { TetherError } from '../../shared/src/errors.ts';
import type { GitHubClient } from '../../shared/src/github.ts';
import type { CommitWithStatuses, StatusEntry } from './status-gate.ts';

/** An open PR as the Action needs it. */
export interface OpenPr {
  number: number;
  url: string;
  nodeId: string;
  headSha: string;
}

/** The target repository. */
export interface Repo {
  owner: string;
  repo: string;
}

/** GitHub's answer as a readable error: its status and message, never a stack trace or a token. */
export function githubError(what: string, err: unknown): TetherError {
  const e = err as { status?: number; message?: string; response?: { data?: { message?: string } } };
  const message = e.response?.data?.message ?? e.message ?? String(err);
  const hint =
    e.status === 404
      ? ' (missing repository or branch, or the token cannot see it)'
      : e.status === 403
        ? ' (the token lacks permission)'
        : '';
  return new TetherError('github', `${what}: ${e.status ? `${e.status} ` : ''}${message}${hint}`, { cause: err });
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw githubError(what, err);
  }
}

/** The repository's default branch. */
export async function defaultBranch(gh: GitHubClient, r: Repo): Promise<string> {
  return call(`repository ${r.owner}/${r.repo}`, async () => (await gh.rest.repos.get({ ...r })).data.default_branch);
}

/** The open PR whose head is `branch` in the same repository, if any. */
export async function findOpenPr(gh: GitHubClient, r: Repo, branch: string, base: string): Promise<OpenPr | undefined> {
  const { data } = await call('list pull requests', () =>
    gh.rest.pulls.list({ ...r, head: `${r.owner}:${branch}`, base, state: 'open', per_page: 5 }),
  );
  const pr = data.find((p) => p.head.ref === branch);
  return pr ? { number: pr.number, url: pr.html_url, nodeId: pr.node_id, headSha: pr.head.sha } : undefined;
}

/** The open PR into `base` whose head branch matches `pattern` (one list call). */
export async function findOpenPrLike(
  gh: GitHubClient,
  r: Repo,
  pattern: RegExp,
  base: string,
): Promise<OpenPr | undefined> {
  const { data } = await call('list pull requests', () =>
    gh.rest.pulls.list({ ...r, base, state: 'open', per_page: 100 }),
  );
  const pr = data.find((p) => p.head.repo?.full_name === `${r.owner}/${r.repo}` && pattern.test(p.head.ref));
  return pr ? { number: pr.number, url: pr.html_url, nodeId: pr.node_id, headSha: pr.head.sha } : undefined;
}

/** The tree of a commit (through the Git Data API). */
export async function commitTree(gh: GitHubClient, r: Repo, sha: string): Promise<{ tree: string; parents: string[] }> {
  const { data } = await call(`commit ${sha.slice(0, 7)}`, () => gh.rest.git.getCommit({ ...r, commit_sha: sha }));
  return { tree: data.tree.sha, parents: data.parents.map((p) => p.sha) };
}

/**
 * One commit through the Git Data API (verified when the token is an App's or the workflow's): a tree on top of the
 * parent's with the new file contents inline (no separate blob requests), then the commit.
 */
export async function commitViaApi(
  gh: GitHubClient,
  r: Repo,
  options: { parent: string; baseTree: string; files: readonly { path: string; text: string }[]; message: string },
): Promise<{ commit: string; tree: string }> {
  const tree = await call('create tree', () =>
    gh.rest.git.createTree({
      ...r,
      base_tree: options.baseTree,
      tree: options.files.map((f) => ({
        path: f.path,
        mode: '100644' as const,
        type: 'blob' as const,
        content: f.text,
      })),
    }),
  );
  const commit = await call('create commit', () =>
    gh.rest.git.createCommit({ ...r, message: options.message, tree: tree.data.sha, parents: [options.parent] }),
  );
  return { commit: commit.data.sha, tree: tree.data.sha };
}

/** Points Tether's own PR branch at `sha`, creating it when missing (force: the branch is Tether's). */
export async function setPrBranch(
  gh: GitHubClient,
  r: Repo,
  branch: string,
  sha: string,
  exists: boolean,
): Promise<void> {
  if (exists) {
    await call(`update branch ${branch}`, () =>
      gh.rest.git.updateRef({ ...r, ref: `heads/${branch}`, sha, force: true }),
    );
    return;
  }
  try {
    await gh.rest.git.createRef({ ...r, ref: `refs/heads/${branch}`, sha });
  } catch (err) {
    // A branch left behind by a closed PR: take it over.
    if ((err as { status?: number }).status === 422) {
      await call(`update branch ${branch}`, () =>
        gh.rest.git.updateRef({ ...r, ref: `heads/${branch}`, sha, force: true }),
      );
    } else throw githubError(`create branch ${branch}`, err);
  }
}

/** Fast-forwards `base` to `sha`; `conflict` when another writer moved it (GitHub's 422 non-fast-forward). */
export async function fastForward(gh: GitHubClient, r: Repo, base: string, sha: string): Promise<'ok' | 'conflict'> {
  try {
    await gh.rest.git.updateRef({ ...r, ref: `heads/${base}`, sha, force: false });
    return 'ok';
  } catch (err) {
    if ((err as { status?: number }).status === 422) return 'conflict';
    throw githubError(`update ${base}`, err);
  }
}

/** Commits on `base` that touched `path`, newest first, each with its statuses (newest first). */
export async function commitsTouching(
  gh: GitHubClient,
  r: Repo,
  base: string,
  path: string,
  limit = 20,
): Promise<CommitWithStatuses[]> {
  const { data } = await call(`commits touching ${path}`, () =>
    gh.rest.repos.listCommits({ ...r, sha: base, path, per_page: limit }),
  );
  const out: CommitWithStatuses[] = [];
  for (const c of data) {
    out.push({ sha: c.sha, message: c.commit.message, statuses: await statuses(gh, r, c.sha) });
  }
  return out;
}

/** A commit's statuses, newest first. */
export async function statuses(gh: GitHubClient, r: Repo, sha: string): Promise<StatusEntry[]> {
  const { data } = await call(`statuses of ${sha.slice(0, 7)}`, () =>
    gh.rest.repos.listCommitStatusesForRef({ ...r, ref: sha, per_page: 100 }),
  );
  return data.map((s) => ({
    context: s.context,
    state: s.state,
    description: s.description,
    target_url: s.target_url,
    created_at: s.created_at,
  }));
}

/** Closes a PR with a comment saying why. */
export async function closePr(gh: GitHubClient, r: Repo, number: number, comment: string): Promise<void> {
  await call(`comment on #${number}`, () =>
    gh.rest.issues.createComment({ ...r, issue_number: number, body: comment }),
  );
  await call(`close #${number}`, () => gh.rest.pulls.update({ ...r, pull_number: number, state: 'closed' }));
}

/** Labels, reviewers, team reviewers and assignees; each only when asked for. */
export async function decoratePr(
  gh: GitHubClient,
  r: Repo,
  number: number,
  o: { labels: string[]; reviewers: string[]; teamReviewers: string[]; assignees: string[] },
): Promise<void> {
  if (o.labels.length)
    await call('add labels', () => gh.rest.issues.addLabels({ ...r, issue_number: number, labels: o.labels }));
  if (o.reviewers.length || o.teamReviewers.length) {
    await call('request reviewers', () =>
      gh.rest.pulls.requestReviewers({
        ...r,
        pull_number: number,
        reviewers: o.reviewers,
        team_reviewers: o.teamReviewers,
      }),
    );
  }
  if (o.assignees.length)
    await call('add assignees', () =>
      gh.rest.issues.addAssignees({ ...r, issue_number: number, assignees: o.assignees }),
    );
}

/** Enables auto-merge through GraphQL; returns the reason when GitHub refuses (the caller warns, not fails). */
export async function enableAutoMerge(
  gh: GitHubClient,
  nodeId: string,
  method: 'merge' | 'squash' | 'rebase',
): Promise<string | undefined> {
  try {
    await gh.graphql(
      `mutation($id: ID!, $method: PullRequestMergeMethod!) {
        enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) { pullRequest { number } }
      }`,
      { id: nodeId, method: method.toUpperCase() },
    );
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
