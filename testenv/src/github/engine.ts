// What the GitHub emulator does, apart from HTTP: moving refs (and announcing pushes), pull requests and their
// merges, auto-merge and commit statuses. The REST app and the GraphQL endpoint both call into this, so a merge
// through either behaves the same. Messages and status codes follow api.github.com.
import { type CommitInfo, type GitSignature, signatureNow, ZERO_SHA } from '../git-ops.ts';
import type { PushEvent } from '../git-server.ts';
import { combinedState, type PullDetails, pullRequestPayloadJson, type Urls } from './responses.ts';
import {
  type GitHubState,
  isoNow,
  type MergeMethod,
  nodeId,
  type PullRecord,
  type RepoRecord,
  type StatusRecord,
} from './state.ts';
import { pushPayload, type WebhookDispatcher } from './webhooks.ts';

/** An answer GitHub gives instead of doing the work: a status, its message, and extra body fields. */
export class ApiError extends Error {
  readonly status: number;
  readonly extra: Record<string, unknown>;
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.extra = extra;
  }
}

/** GitHub's 422 "Validation Failed" with its `errors` list. */
export function validationFailed(...errors: Array<Record<string, unknown>>): ApiError {
  return new ApiError(422, 'Validation Failed', { errors });
}

/** The longest commit status description GitHub accepts. */
export const MAX_STATUS_DESCRIPTION = 140;
/** How many statuses GitHub keeps per commit and context before refusing more. */
export const MAX_STATUSES_PER_CONTEXT = 1000;
/** The longest pull request (issue) title and body, and issue comment body, GitHub accepts, in characters. */
export const MAX_PULL_TITLE = 256;
export const MAX_PULL_BODY = 65_536;

/**
 * Refuses a pull request title or body (or an issue comment body, `resource: 'IssueComment'`) over GitHub's limits,
 * as GitHub does: 422 with the field named on the `Issue` resource. GitHub counts characters (code points), so an
 * emoji counts once here, where JavaScript's `length` counts it twice.
 */
export function checkIssueText(
  text: { title?: unknown; body?: unknown },
  resource: 'Issue' | 'IssueComment' = 'Issue',
): void {
  const limits = [
    ['title', text.title, MAX_PULL_TITLE],
    ['body', text.body, MAX_PULL_BODY],
  ] as const;
  for (const [field, value, max] of limits) {
    if (typeof value === 'string' && [...value].length > max)
      throw validationFailed({
        resource,
        code: 'custom',
        field,
        message: `${field} is too long (maximum is ${max} characters)`,
      });
  }
}

/** Mergeability as GitHub computes it for a pull request's `mergeable` and `mergeable_state`. */
export interface Mergeability {
  mergeable: boolean | null;
  state: 'clean' | 'dirty' | 'blocked' | 'unstable' | 'draft' | 'unknown';
  /** For `blocked`: why, in GitHub's words. */
  reason?: string;
}

/** The committer GitHub writes on merges made through the API. */
const WEB_FLOW = { name: 'GitHub', email: 'noreply@github.com' };

/** The emulator's behaviour over its state and the bare repositories. */
export class GitHubEngine {
  constructor(
    readonly state: GitHubState,
    readonly urls: Urls,
    readonly webhooks: WebhookDispatcher,
  ) {}

  /** A git signature for a user, with GitHub's no-reply address. */
  signatureOf(login: string, date: Date = new Date()): GitSignature {
    const u = this.state.user(login);
    return signatureNow(u.login, `${u.id}+${u.login}@users.noreply.github.com`, date);
  }

  /**
   * Moves a ref as GitHub's API does, with an old-value check so racing writers lose cleanly, and announces it
   * like a push. `expected` null means the ref must not exist; `ZERO_SHA` as `sha` deletes it.
   */
  async moveRef(repo: RepoRecord, ref: string, sha: string, expected: string | null, pusher: string): Promise<boolean> {
    const ok =
      sha === ZERO_SHA
        ? expected !== null && (await repo.bare.deleteRef(ref, expected))
        : await repo.bare.updateRef(ref, sha, expected);
    if (ok) await this.handlePush(repo, { repo: repo.fullName, ref, before: expected ?? ZERO_SHA, after: sha, pusher });
    return ok;
  }

  /**
   * Everything a moved branch or tag sets off, whether it moved over Git or through the API: pull requests follow
   * their head, close when it is deleted and count as merged when their head lands in the base; then `push`
   * webhooks go out.
   */
  async handlePush(repo: RepoRecord, event: PushEvent): Promise<void> {
    if (!event.ref.startsWith('refs/heads/') && !event.ref.startsWith('refs/tags/')) return;
    const now = isoNow();
    repo.pushedAt = now;
    const branch = event.ref.startsWith('refs/heads/') ? event.ref.slice('refs/heads/'.length) : undefined;
    const pullEvents: Array<{ pr: PullRecord; action: 'synchronize' | 'closed'; before?: string }> = [];
    for (const pr of repo.pulls.values()) {
      if (pr.state !== 'open' || branch === undefined) continue;
      if (pr.headRef === branch) {
        if (event.after === ZERO_SHA) {
          Object.assign(pr, { state: 'closed', closedAt: now, updatedAt: now, headSha: event.before });
          pullEvents.push({ pr, action: 'closed' });
        } else {
          const before = pr.headSha;
          pr.headSha = event.after;
          pr.updatedAt = now;
          await repo.bare.git(['update-ref', `refs/pull/${pr.number}/head`, event.after]);
          pullEvents.push({ pr, action: 'synchronize', before });
        }
      } else if (pr.baseRef === branch && event.after !== ZERO_SHA) {
        pr.baseSha = event.after;
        // Pushing the head into the base merges the pull request, as on GitHub.
        if (await repo.bare.isAncestor(pr.headSha, event.after)) {
          Object.assign(pr, {
            state: 'closed',
            closedAt: now,
            updatedAt: now,
            mergedAt: now,
            mergedBy: event.pusher,
            mergeCommitSha: event.after,
            autoMerge: null,
          });
          pullEvents.push({ pr, action: 'closed' });
        }
      }
    }
    const payload = await pushPayload(this.urls, this.state, repo, event);
    this.webhooks.dispatch(repo, 'push', payload);
    for (const e of pullEvents) await this.announcePull(repo, e.pr, e.action, event.pusher, e.before);
  }

  /**
   * Sends the `pull_request` webhook for `action` (opened, synchronize, closed, reopened), as GitHub does after the
   * pull request changed; `before` is the previous head of a synchronize.
   */
  async announcePull(
    repo: RepoRecord,
    pr: PullRecord,
    action: 'opened' | 'synchronize' | 'closed' | 'reopened',
    sender: string,
    before?: string,
  ): Promise<void> {
    if (!repo.hooks.some((h) => h.active && (h.events.includes('pull_request') || h.events.includes('*')))) return;
    const details = await this.pullDetails(repo, pr);
    const payload = pullRequestPayloadJson(this.urls, this.state, repo, pr, details, {
      action,
      sender,
      ...(action === 'synchronize' && before ? { before, after: pr.headSha } : {}),
    });
    this.webhooks.dispatch(repo, 'pull_request', payload, `pull-request-${action}`);
  }

  /** Creates a pull request from `head` (`branch` or `owner:branch`) into `base`. */
  async createPull(
    repo: RepoRecord,
    login: string,
    input: {
      title: string;
      head: string;
      base: string;
      body?: string | null;
      draft?: boolean;
      maintainerCanModify?: boolean;
    },
  ): Promise<PullRecord> {
    checkIssueText(input);
    const colon = input.head.indexOf(':');
    const headOwner = colon < 0 ? repo.owner : input.head.slice(0, colon);
    const headRef = colon < 0 ? input.head : input.head.slice(colon + 1);
    // Forks are not emulated: a head in another owner's repository does not exist here.
    const headSha =
      headOwner.toLowerCase() === repo.owner.toLowerCase()
        ? await repo.bare.resolve(`refs/heads/${headRef}`, { peel: 'commit' })
        : undefined;
    if (!headSha) throw validationFailed({ resource: 'PullRequest', field: 'head', code: 'invalid' });
    const baseSha = await repo.bare.resolve(`refs/heads/${input.base}`, { peel: 'commit' });
    if (!baseSha) throw validationFailed({ resource: 'PullRequest', field: 'base', code: 'invalid' });
    for (const pr of repo.pulls.values()) {
      if (pr.state === 'open' && pr.headRef === headRef && pr.baseRef === input.base) {
        throw validationFailed({
          resource: 'PullRequest',
          code: 'custom',
          message: `A pull request already exists for ${repo.owner}:${headRef}.`,
        });
      }
    }
    if (await repo.bare.isAncestor(headSha, baseSha)) {
      throw validationFailed({
        resource: 'PullRequest',
        code: 'custom',
        message: `No commits between ${input.base} and ${headRef}`,
      });
    }
    const number = repo.nextNumber++;
    const id = this.state.nextId();
    const now = isoNow();
    const pr: PullRecord = {
      number,
      id,
      issueId: this.state.nextId(),
      nodeId: nodeId('PR', repo.id, number),
      title: input.title,
      body: input.body ?? null,
      state: 'open',
      draft: input.draft ?? false,
      user: login,
      headRef,
      baseRef: input.base,
      headSha,
      baseSha,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      mergedAt: null,
      mergeCommitSha: null,
      mergedBy: null,
      labels: [],
      assignees: [],
      requestedReviewers: [],
      requestedTeams: [],
      maintainerCanModify: input.maintainerCanModify ?? true,
      autoMerge: null,
    };
    repo.pulls.set(number, pr);
    this.state.pullNodes.set(pr.nodeId, { repo, number });
    // GitHub keeps the head of every pull request at refs/pull/N/head, and clients fetch it.
    await repo.bare.git(['update-ref', `refs/pull/${number}/head`, headSha]);
    await this.announcePull(repo, pr, 'opened', login);
    return pr;
  }

  /** Re-reads an open pull request's head and base tips from the repository. */
  async refreshPull(repo: RepoRecord, pr: PullRecord): Promise<void> {
    if (pr.state !== 'open') return;
    const head = await repo.bare.resolve(`refs/heads/${pr.headRef}`, { peel: 'commit' });
    const base = await repo.bare.resolve(`refs/heads/${pr.baseRef}`, { peel: 'commit' });
    if (head) pr.headSha = head;
    if (base) pr.baseSha = base;
  }

  /** Whether and how a pull request can be merged now. */
  async mergeability(repo: RepoRecord, pr: PullRecord): Promise<Mergeability> {
    if (pr.state !== 'open') return { mergeable: null, state: 'unknown' };
    await this.refreshPull(repo, pr);
    const merge = await repo.bare.mergeTree(pr.baseSha, pr.headSha);
    if (!merge.clean) return { mergeable: false, state: 'dirty' };
    if (pr.draft) return { mergeable: true, state: 'draft' };
    const latest = this.state.latestStatuses(repo, pr.headSha);
    const required = repo.protection.get(pr.baseRef)?.requiredContexts ?? [];
    for (const context of required) {
      const s = latest.find((x) => x.context === context);
      if (!s) return { mergeable: true, state: 'blocked', reason: `Required status check "${context}" is expected.` };
      if (s.state !== 'success') {
        const word = s.state === 'pending' ? 'in progress' : 'failing';
        return { mergeable: true, state: 'blocked', reason: `Required status check "${context}" is ${word}.` };
      }
    }
    const others = latest.filter((s) => !required.includes(s.context));
    if (others.length > 0 && combinedState(others) !== 'success') return { mergeable: true, state: 'unstable' };
    return { mergeable: true, state: 'clean' };
  }

  /** The fields of a single pull request that need git work. */
  async pullDetails(repo: RepoRecord, pr: PullRecord): Promise<PullDetails> {
    const m = await this.mergeability(repo, pr);
    const bare = repo.bare;
    // For a merged pull request the base has moved past the head; count against the base it was merged into.
    const baseTip = pr.mergeCommitSha && pr.mergedAt ? `${pr.mergeCommitSha}^1` : pr.baseSha;
    const base = (await bare.resolve(baseTip, { peel: 'commit' })) ?? pr.baseSha;
    const commits = await bare.revList({ include: [pr.headSha], exclude: [base] });
    const mergeBase = (await bare.git(['merge-base', base, pr.headSha], { okCodes: [0, 1] })).stdout
      .toString('utf8')
      .trim();
    const files = mergeBase ? await bare.diffFiles(mergeBase, pr.headSha) : [];
    return {
      mergeable: m.mergeable,
      mergeableState: m.state,
      commits: commits.length,
      additions: files.reduce((n, f) => n + f.additions, 0),
      deletions: files.reduce((n, f) => n + f.deletions, 0),
      changedFiles: files.length,
    };
  }

  /** Merges a pull request (`PUT …/pulls/{n}/merge`): real commits in the bare repository, then the base moves. */
  async mergePull(
    repo: RepoRecord,
    pr: PullRecord,
    merger: string,
    input: { method?: MergeMethod; sha?: string; title?: string; message?: string },
  ): Promise<{ sha: string }> {
    const method = input.method ?? 'merge';
    if (pr.state !== 'open') throw new ApiError(405, 'Pull Request is not mergeable');
    await this.refreshPull(repo, pr);
    if (input.sha !== undefined && input.sha !== pr.headSha) {
      throw new ApiError(409, 'Head branch was modified. Review and try the merge again.');
    }
    const allowed = { merge: repo.allowMergeCommit, squash: repo.allowSquashMerge, rebase: repo.allowRebaseMerge };
    if (!allowed[method]) {
      const what = { merge: 'Merge commits', squash: 'Squash merges', rebase: 'Rebase merges' }[method];
      throw new ApiError(405, `${what} are not allowed on this repository.`);
    }
    const m = await this.mergeability(repo, pr);
    if (m.state === 'dirty') throw new ApiError(405, 'Pull Request is not mergeable');
    if (m.state === 'draft') throw new ApiError(405, 'Pull Request is still a draft');
    if (m.state === 'blocked') throw new ApiError(405, m.reason ?? 'Pull Request is not mergeable');

    const bare = repo.bare;
    const base = pr.baseSha;
    const head = pr.headSha;
    const now = new Date();
    const committer = signatureNow(WEB_FLOW.name, WEB_FLOW.email, now);
    const headCommits = await bare.revList({ include: [head], exclude: [base], reverse: true });
    let result: string;
    if (method === 'rebase') {
      let onto = base;
      for (const sha of headCommits) {
        const c = await bare.readCommit(sha);
        if (c.parents.length > 1) continue; // GitHub's rebase drops merge commits and replays the rest.
        const picked = await bare.cherryPickTree(c, onto);
        if (!picked.clean) throw new ApiError(405, 'This branch can\u2019t be rebased');
        onto = await bare.commitTree({
          tree: picked.tree,
          parents: [onto],
          message: c.message,
          author: c.author,
          committer,
        });
      }
      result = onto;
    } else {
      const merged = await bare.mergeTree(base, head);
      if (!merged.clean) throw new ApiError(405, 'Pull Request is not mergeable');
      const commits: CommitInfo[] = [];
      for (const sha of headCommits) commits.push(await bare.readCommit(sha));
      const defaults =
        method === 'merge'
          ? { title: `Merge pull request #${pr.number} from ${repo.owner}/${pr.headRef}`, message: pr.title }
          : {
              title: `${pr.title} (#${pr.number})`,
              message: commits.map((c) => `* ${c.message.trim()}`).join('\n\n'),
            };
      const title = input.title ?? defaults.title;
      const message = input.message ?? defaults.message;
      result = await bare.commitTree({
        tree: merged.tree,
        parents: method === 'merge' ? [base, head] : [base],
        message: message ? `${title}\n\n${message}\n` : `${title}\n`,
        author: this.signatureOf(method === 'squash' ? pr.user : merger, now),
        committer,
      });
    }
    const moved = await bare.updateRef(`refs/heads/${pr.baseRef}`, result, base);
    if (!moved) throw new ApiError(409, 'Base branch was modified. Review and try the merge again.');
    const at = isoNow(now);
    Object.assign(pr, {
      state: 'closed',
      closedAt: at,
      updatedAt: at,
      mergedAt: at,
      mergedBy: merger,
      mergeCommitSha: result,
      autoMerge: null,
    });
    await this.announcePull(repo, pr, 'closed', merger);
    await this.handlePush(repo, {
      repo: repo.fullName,
      ref: `refs/heads/${pr.baseRef}`,
      before: base,
      after: result,
      pusher: merger,
    });
    if (repo.deleteBranchOnMerge) await this.moveRef(repo, `refs/heads/${pr.headRef}`, ZERO_SHA, head, merger);
    return { sha: result };
  }

  /**
   * Enables auto-merge (GraphQL `enablePullRequestAutoMerge`). Like GitHub, this is refused when the pull request
   * could merge right now ("clean" or "unstable" status): auto-merge is for waiting on required checks.
   */
  async enableAutoMerge(
    repo: RepoRecord,
    pr: PullRecord,
    login: string,
    input: { method: MergeMethod; title?: string; message?: string; expectedHeadOid?: string },
  ): Promise<void> {
    if (!repo.allowAutoMerge) throw new ApiError(422, 'Auto merge is not allowed for this repository');
    if (pr.state !== 'open') throw new ApiError(422, 'Pull request is closed');
    const m = await this.mergeability(repo, pr);
    if (input.expectedHeadOid !== undefined && input.expectedHeadOid !== pr.headSha) {
      throw new ApiError(422, 'Head sha didn\u2019t match expected head oid');
    }
    if (m.state === 'clean' || m.state === 'unstable' || m.state === 'dirty') {
      throw new ApiError(422, `Pull request Pull request is in ${m.state} status`);
    }
    pr.autoMerge = {
      enabledBy: login,
      method: input.method,
      title: input.title ?? '',
      message: input.message ?? '',
      enabledAt: isoNow(),
    };
    pr.updatedAt = isoNow();
  }

  /** Disables auto-merge. */
  disableAutoMerge(pr: PullRecord): void {
    pr.autoMerge = null;
    pr.updatedAt = isoNow();
  }

  /** Merges pull requests waiting on auto-merge whose requirements are now met. */
  async runAutoMerge(repo: RepoRecord, headSha?: string): Promise<void> {
    for (const pr of repo.pulls.values()) {
      if (pr.state !== 'open' || !pr.autoMerge || (headSha !== undefined && pr.headSha !== headSha)) continue;
      const m = await this.mergeability(repo, pr);
      if (m.state !== 'clean' && m.state !== 'unstable') continue;
      const am = pr.autoMerge;
      await this.mergePull(repo, pr, am.enabledBy, {
        method: am.method,
        title: am.title || undefined,
        message: am.message || undefined,
      });
    }
  }

  /** Records a commit status (`POST /repos/{owner}/{repo}/statuses/{sha}`) with GitHub's limits. */
  async createStatus(
    repo: RepoRecord,
    sha: string,
    creator: string,
    input: { state: StatusRecord['state']; targetUrl?: string | null; description?: string | null; context?: string },
  ): Promise<StatusRecord> {
    if (!/^[0-9a-f]{40}$/.test(sha) || (await repo.bare.objectType(sha)) !== 'commit') {
      throw new ApiError(422, `No commit found for SHA: ${sha}`);
    }
    const description = input.description ?? null;
    if (description !== null && description.length > MAX_STATUS_DESCRIPTION) {
      throw validationFailed({
        resource: 'Status',
        code: 'custom',
        field: 'description',
        message: `description is too long (maximum is ${MAX_STATUS_DESCRIPTION} characters)`,
      });
    }
    // GitHub stores descriptions in a column that holds no 4-byte UTF-8 character (an emoji, a character outside the
    // Basic Multilingual Plane): such a description is refused, however short.
    if (description !== null && /[\u{10000}-\u{10FFFF}]|[\uD800-\uDFFF]/u.test(description)) {
      throw validationFailed({
        resource: 'Status',
        code: 'custom',
        field: 'description',
        message: "description doesn't accept 4-byte Unicode",
      });
    }
    const context = input.context ?? 'default';
    const count = repo.statuses.filter((s) => s.sha === sha && s.context === context).length;
    if (count >= MAX_STATUSES_PER_CONTEXT) {
      throw validationFailed({
        resource: 'Status',
        code: 'custom',
        field: 'context',
        message: 'This SHA and context has reached the maximum number of statuses.',
      });
    }
    const id = this.state.nextId();
    const now = isoNow();
    const status: StatusRecord = {
      id,
      nodeId: nodeId('SC', id),
      sha,
      state: input.state,
      description,
      targetUrl: input.targetUrl ?? null,
      context,
      creator,
      createdAt: now,
      updatedAt: now,
    };
    repo.statuses.push(status);
    await this.runAutoMerge(repo, sha);
    return status;
  }
}
