// Every GitHub call the Action makes goes through GitHubOps: one place to see what is asked of GitHub, how its
// errors read, and what a test has to provide.
import { TetherError } from '../../shared/src/errors.ts';
import type { FastForwardResult } from './commit-writer.ts';
import type { ActionOctokit } from './octokit.ts';
import { type CommitWithStatuses, mergeWindowStatuses, type StatusEntry, statusWindows } from './status-gate.ts';

/** An open PR as the Action needs it. */
export interface OpenPr {
  number: number;
  url: string;
  nodeId: string;
  headSha: string;
  /** The head branch. */
  headRef: string;
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
  requestedReviewers: string[];
  requestedTeams: string[];
}

/** The target repository. */
export interface Repo {
  owner: string;
  repo: string;
}

/** A PR just created. */
export interface CreatedPr {
  number: number;
  url: string;
  nodeId: string;
  /** Login that opened it (`github-actions[bot]` means the workflow's GITHUB_TOKEN). */
  author: string;
}

/** Who may be asked to look at a PR, and what it is tagged with; each only when non-empty. */
export interface PrDecorations {
  labels: readonly string[];
  reviewers: readonly string[];
  teamReviewers: readonly string[];
  assignees: readonly string[];
}

/** GitHub's answer as a readable error: its status and message, never a stack trace or a token. */
function githubError(what: string, err: unknown): TetherError {
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

function statusOf(err: unknown): number | undefined {
  return (err as { status?: number }).status;
}

/** The fields of a listed PR the lifecycle compares with what it wants. */
interface ListedPr {
  number: number;
  html_url: string;
  node_id: string;
  title: string;
  body: string | null;
  head: { sha: string; ref: string };
  labels: { name?: string }[];
  assignees?: { login: string }[] | null;
  requested_reviewers?: { login: string }[] | null;
  requested_teams?: { slug: string }[] | null;
}

function openPr(p: ListedPr): OpenPr {
  return {
    number: p.number,
    url: p.html_url,
    nodeId: p.node_id,
    headSha: p.head.sha,
    headRef: p.head.ref,
    title: p.title,
    body: p.body ?? '',
    labels: p.labels.flatMap((l) => (l.name ? [l.name] : [])),
    assignees: (p.assignees ?? []).map((a) => a.login),
    requestedReviewers: (p.requested_reviewers ?? []).map((r) => r.login),
    requestedTeams: (p.requested_teams ?? []).map((t) => t.slug),
  };
}

/** The Action's GitHub operations on one repository; errors name the step. */
export class GitHubOps {
  constructor(
    private readonly gh: ActionOctokit,
    readonly repo: Repo,
  ) {}

  /** The repository's default branch and clone URL. */
  async repository(): Promise<{ defaultBranch: string; cloneUrl: string }> {
    const r = this.repo;
    const { data } = await call(`repository ${r.owner}/${r.repo}`, () => this.gh.rest.repos.get({ ...r }));
    return { defaultBranch: data.default_branch, cloneUrl: data.clone_url };
  }

  /** The open PR whose head is `branch` in the same repository, if any. */
  async findOpenPr(branch: string, base: string): Promise<OpenPr | undefined> {
    const r = this.repo;
    const { data } = await call('list pull requests', () =>
      this.gh.rest.pulls.list({ ...r, head: `${r.owner}:${branch}`, base, state: 'open', per_page: 5 }),
    );
    const pr = data.find((p) => p.head.ref === branch);
    return pr ? openPr(pr) : undefined;
  }

  /**
   * The open PR into `base` whose head branch matches `pattern`: page by page through every open PR of the base (a
   * busy repository has more than one page of them), stopping at the first match.
   */
  async findOpenPrLike(pattern: RegExp, base: string): Promise<OpenPr | undefined> {
    const r = this.repo;
    return call('list pull requests', async () => {
      const pages = this.gh.paginate.iterator(this.gh.rest.pulls.list, { ...r, base, state: 'open', per_page: 100 });
      for await (const { data } of pages) {
        const pr = data.find((p) => p.head.repo?.full_name === `${r.owner}/${r.repo}` && pattern.test(p.head.ref));
        if (pr) return openPr(pr);
      }
      return undefined;
    });
  }

  /** The tree, parents and committer date (ISO 8601) of a commit (through the Git Data API). */
  async commitTree(sha: string): Promise<{ tree: string; parents: string[]; date: string }> {
    const { data } = await call(`commit ${sha.slice(0, 7)}`, () =>
      this.gh.rest.git.getCommit({ ...this.repo, commit_sha: sha }),
    );
    return { tree: data.tree.sha, parents: data.parents.map((p) => p.sha), date: data.committer.date };
  }

  /**
   * One commit through the Git Data API (verified when the token is an App's or the workflow's): a tree on top of
   * the parent's with the new file contents inline (no separate blob requests), then the commit.
   */
  async commitViaApi(options: {
    parent: string;
    baseTree: string;
    /** `executable`: written with mode 100755 instead of 100644. */
    files: readonly { path: string; text: string; executable?: boolean }[];
    message: string;
  }): Promise<{ commit: string; tree: string }> {
    const r = this.repo;
    const tree = await call('create tree', () =>
      this.gh.rest.git.createTree({
        ...r,
        base_tree: options.baseTree,
        tree: options.files.map((f) => ({
          path: f.path,
          mode: f.executable ? ('100755' as const) : ('100644' as const),
          type: 'blob' as const,
          content: f.text,
        })),
      }),
    );
    const commit = await call('create commit', () =>
      this.gh.rest.git.createCommit({ ...r, message: options.message, tree: tree.data.sha, parents: [options.parent] }),
    );
    return { commit: commit.data.sha, tree: tree.data.sha };
  }

  /**
   * Points Tether's own PR branch at `sha`, creating it when missing (force: the branch is Tether's). A 422 means
   * the branch appeared, vanished or was moved by a concurrent run between our read and our write: look again.
   */
  async setPrBranch(branch: string, sha: string, exists: boolean): Promise<void> {
    const r = this.repo;
    for (let attempt = 1; ; attempt++) {
      try {
        if (exists) await this.gh.rest.git.updateRef({ ...r, ref: `heads/${branch}`, sha, force: true });
        else await this.gh.rest.git.createRef({ ...r, ref: `refs/heads/${branch}`, sha });
        return;
      } catch (err) {
        if (statusOf(err) !== 422 || attempt >= 5)
          throw githubError(`${exists ? 'update' : 'create'} branch ${branch}`, err);
        // Created meanwhile (or left behind by a closed PR): update it; deleted meanwhile: create it.
        const message = String((err as { message?: string }).message);
        if (!exists) exists = true;
        else if (/does not exist/i.test(message)) exists = false;
        await new Promise((done) => setTimeout(done, 50 + Math.random() * 250 * attempt));
      }
    }
  }

  /**
   * Fast-forwards `base` to `sha`; refused on GitHub's 422, with its message: "not a fast forward" when another
   * writer moved it, but a protected branch is refused with a 422 too.
   */
  async fastForward(base: string, sha: string): Promise<FastForwardResult> {
    try {
      await this.gh.rest.git.updateRef({ ...this.repo, ref: `heads/${base}`, sha, force: false });
      return 'ok';
    } catch (err) {
      if (statusOf(err) === 422) return { refused: githubError(`update ${base}`, err).message };
      throw githubError(`update ${base}`, err);
    }
  }

  /**
   * Commits on `branch` that touched `path`, newest first, each with the statuses that speak for it: its own and
   * those of the later commits that did not touch `path` (see statusWindows), merged newest first.
   */
  async commitsTouching(
    branch: string,
    path: string,
    options: { limit?: number; relevant?: (context: string) => boolean } = {},
  ): Promise<CommitWithStatuses[]> {
    const limit = options.limit ?? 20;
    const relevant = options.relevant ?? (() => true);
    const r = this.repo;
    const { data } = await call(`commits touching ${path}`, () =>
      this.gh.rest.repos.listCommits({ ...r, sha: branch, path, per_page: limit }),
    );
    const { data: history } = await call(`commits of ${branch}`, () =>
      this.gh.rest.repos.listCommits({ ...r, sha: branch, per_page: 100 }),
    );
    const windows = statusWindows(
      data.map((c) => c.sha),
      history.map((c) => c.sha),
    );
    const out: CommitWithStatuses[] = [];
    for (const c of data) {
      const lists = new Map<string, StatusEntry[]>();
      for (const sha of windows.get(c.sha) ?? [c.sha]) {
        const statuses = await this.statuses(sha);
        // The branch's list is not a line when it holds merges: a commit listed between c and the next change to
        // `path` may lie on another line of history and hold what `path` had before c. Its statuses speak for c
        // only when c is the last change to `path` in its own history (asked only of commits whose statuses matter).
        if (
          sha !== c.sha &&
          statuses.some((st) => relevant(st.context)) &&
          (await this.lastTouching(sha, path)) !== c.sha
        )
          continue;
        lists.set(sha, statuses);
      }
      out.push({ sha: c.sha, message: c.commit.message, statuses: mergeWindowStatuses(c.sha, lists) });
    }
    return out;
  }

  /** The newest commit that touched `path` in the history of `sha`. */
  private async lastTouching(sha: string, path: string): Promise<string | undefined> {
    const { data } = await call(`commits touching ${path} from ${sha.slice(0, 7)}`, () =>
      this.gh.rest.repos.listCommits({ ...this.repo, sha, path, per_page: 1 }),
    );
    return data[0]?.sha;
  }

  /**
   * The latest status of every context on a commit (GitHub's combined status, every page of it). Not the list of
   * all statuses: its first page holds the newest 100 of them, and a context that posted often (an app whose health
   * moved) pushes another context's older `failure` off it, which the gate would then never see.
   */
  async statuses(sha: string): Promise<StatusEntry[]> {
    const out: StatusEntry[] = [];
    const perPage = 100;
    for (let page = 1; ; page++) {
      const { data } = await call(`statuses of ${sha.slice(0, 7)}`, () =>
        this.gh.rest.repos.getCombinedStatusForRef({ ...this.repo, ref: sha, per_page: perPage, page }),
      );
      for (const s of data.statuses)
        out.push({
          context: s.context,
          state: s.state,
          description: s.description,
          target_url: s.target_url,
          created_at: s.created_at,
        });
      if (data.statuses.length < perPage || out.length >= data.total_count) break;
    }
    return out.sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
  }

  /** Opens a PR from `head` into `base`. */
  async createPr(o: { title: string; body: string; head: string; base: string; draft: boolean }): Promise<CreatedPr> {
    const { data } = await call('create pull request', () => this.gh.rest.pulls.create({ ...this.repo, ...o }));
    return { number: data.number, url: data.html_url, nodeId: data.node_id, author: data.user?.login ?? '' };
  }

  /** Rewrites a PR's title and body. */
  async updatePr(number: number, o: { title: string; body: string }): Promise<void> {
    await call(`update #${number}`, () => this.gh.rest.pulls.update({ ...this.repo, pull_number: number, ...o }));
  }

  /** Closes a PR with a comment saying why. */
  async closePr(number: number, comment: string): Promise<void> {
    const r = this.repo;
    await call(`comment on #${number}`, () =>
      this.gh.rest.issues.createComment({ ...r, issue_number: number, body: comment }),
    );
    await call(`close #${number}`, () => this.gh.rest.pulls.update({ ...r, pull_number: number, state: 'closed' }));
  }

  /** Labels, reviewers, team reviewers and assignees; each only when asked for. */
  async decoratePr(number: number, o: PrDecorations): Promise<void> {
    const r = this.repo;
    if (o.labels.length)
      await call('add labels', () =>
        this.gh.rest.issues.addLabels({ ...r, issue_number: number, labels: [...o.labels] }),
      );
    if (o.reviewers.length || o.teamReviewers.length) {
      await call('request reviewers', () =>
        this.gh.rest.pulls.requestReviewers({
          ...r,
          pull_number: number,
          reviewers: [...o.reviewers],
          team_reviewers: [...o.teamReviewers],
        }),
      );
    }
    if (o.assignees.length)
      await call('add assignees', () =>
        this.gh.rest.issues.addAssignees({ ...r, issue_number: number, assignees: [...o.assignees] }),
      );
  }

  /** Enables auto-merge through GraphQL; returns the reason when GitHub refuses (the caller warns, not fails). */
  async enableAutoMerge(nodeId: string, method: 'merge' | 'squash' | 'rebase'): Promise<string | undefined> {
    try {
      await this.gh.graphql(
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
}
