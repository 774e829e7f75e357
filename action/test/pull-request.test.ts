import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EditPlan } from '../../shared/src/plan-edits.ts';
import type { CommitWriter } from '../src/commit-writer.ts';
import type { GitHubOps, OpenPr, PrDecorations } from '../src/github-ops.ts';
import { describedHead, type PrDeps, type PrRequest, syncPullRequest } from '../src/pull-request.ts';

const BASE = 'b'.repeat(40);
const plan: EditPlan = { edits: [{ path: 'a.yaml', newText: 'v2' }], changes: [], skipped: [], unmatched: [] };
const none: PrDecorations = { labels: [], reviewers: [], teamReviewers: [], assignees: [] };

/** GitHub as the lifecycle sees it: one repository's branches, commits and at most one PR. */
class FakeGitHub {
  branches = new Map<string, string>();
  commits = new Map<string, { tree: string; parents: string[]; date: string }>();
  pr: (Omit<OpenPr, 'headSha'> & { requested: string[] }) | undefined;
  calls: string[] = [];
  /** Runs after the named call, to let "another run" act in between. */
  after = new Map<string, () => void>();
  private n = 0;

  commit(tree: string, date: string): string {
    const sha = (++this.n).toString(16).padStart(40, '0');
    this.commits.set(sha, { tree, parents: [BASE], date });
    return sha;
  }
  private did(call: string) {
    this.calls.push(call);
    const hook = this.after.get(call);
    this.after.delete(call);
    hook?.();
  }
  private view(): OpenPr | undefined {
    const pr = this.pr;
    if (!pr) return undefined;
    return { ...pr, headSha: this.branches.get(pr.headRef)!, requestedReviewers: pr.requested };
  }
  async findOpenPr() {
    this.did('find');
    return this.view();
  }
  async findOpenPrLike() {
    return this.findOpenPr();
  }
  async commitTree(sha: string) {
    return this.commits.get(sha)!;
  }
  async createPr(o: { title: string; body: string; head: string }) {
    this.did('create');
    if (this.pr) throw Object.assign(new Error('create pull request: 422 A pull request already exists'), {});
    this.pr = {
      number: 1,
      url: 'https://example/pull/1',
      nodeId: 'PR_1',
      headRef: o.head,
      title: o.title,
      body: o.body,
      labels: [],
      assignees: [],
      requestedTeams: [],
      requested: [],
    };
    return { number: 1, url: this.pr.url, nodeId: 'PR_1', author: 'tether[bot]' };
  }
  async updatePr(_: number, o: { title: string; body: string }) {
    Object.assign(this.pr!, o);
    this.did('update');
  }
  comments: string[] = [];
  async closePr(_: number, comment: string) {
    this.comments.push(comment);
    this.did('close');
  }
  async decoratePr(_: number, o: PrDecorations) {
    this.pr!.labels.push(...o.labels);
    this.pr!.assignees.push(...o.assignees);
    this.pr!.requested.push(...o.reviewers);
    this.did(`decorate ${[...o.labels, ...o.assignees, ...o.reviewers].join(',')}`);
  }
  async enableAutoMerge() {
    return undefined;
  }
  writer(): CommitWriter {
    return {
      commit: async () => this.commit('want', new Date(Date.now()).toISOString()),
      setBranch: async (branch, sha) => {
        this.branches.set(branch, sha);
        this.did('branch');
      },
      fastForward: async () => 'ok',
    };
  }
  /** Another run's full write: its own commit on the branch and a text that names it. */
  otherRun(date: string, tree = 'other'): string {
    const sha = this.commit(tree, date);
    this.branches.set('tether/x', sha);
    if (this.pr) Object.assign(this.pr, { title: `other ${sha.slice(-2)}`, body: text(sha).body });
    return sha;
  }
}

const text = (head: string) => ({ title: `mine ${head.slice(-2)}`, body: `table\n<!-- tether:bump head=${head} -->` });

function setup(gh: FakeGitHub, decorations = none) {
  const req: PrRequest = {
    base: 'main',
    baseSha: BASE,
    branch: 'tether/x',
    plan,
    text,
    commitMessage: 'm',
    draft: false,
    decorations,
    autoMerge: undefined,
    deadlineMs: 60_000,
  };
  let clock = 0;
  const deps: PrDeps = {
    gh: gh as unknown as GitHubOps,
    writer: gh.writer(),
    treeWith: async () => 'want',
    sleep: async (ms) => {
      clock += ms;
    },
    random: () => 0.5,
    now: () => clock,
    info: () => {},
  };
  return { req, deps };
}

test('a branch left without a PR gets its PR; a second run writes nothing', async () => {
  const gh = new FakeGitHub();
  gh.branches.set('tether/x', gh.commit('stale', '2026-01-01T00:00:00Z'));
  const { req, deps } = setup(gh, { ...none, labels: ['deploy'] });
  const r = await syncPullRequest(req, deps);
  assert.equal(r.operation, 'created');
  assert.equal(describedHead(gh.pr!.body), gh.branches.get('tether/x'));
  assert.deepEqual(gh.pr!.labels, ['deploy']);
  gh.calls = [];
  const again = await syncPullRequest(req, deps);
  assert.equal(again.operation, 'unchanged');
  assert.deepEqual(gh.calls, ['find']);
});

test('a rerun adds missing labels and assignees and fixes a text that names another head', async () => {
  const gh = new FakeGitHub();
  const { req, deps } = setup(gh, { ...none, labels: ['deploy'], assignees: ['octocat'], reviewers: ['alice'] });
  await syncPullRequest({ ...req, decorations: none }, deps);
  gh.pr!.body = 'hand-written <!-- tether:bump -->';
  const r = await syncPullRequest(req, deps);
  assert.equal(r.operation, 'updated');
  assert.deepEqual([gh.pr!.labels, gh.pr!.assignees, gh.pr!.requested], [['deploy'], ['octocat'], ['alice']]);
  assert.equal(describedHead(gh.pr!.body), gh.branches.get('tether/x'));
  // Someone reviewed (alice dropped off the requested list) but bob is still requested: nobody is asked again.
  gh.pr!.requested = ['bob'];
  const later = await syncPullRequest({ ...req, decorations: { ...none, reviewers: ['alice', 'bob'] } }, deps);
  assert.equal(later.operation, 'unchanged');
});

test('a newer run that wrote in between wins; this run leaves the PR describing its head', async () => {
  const gh = new FakeGitHub();
  const { req, deps } = setup(gh);
  await syncPullRequest(req, deps);
  let theirs = '';
  // Between this run's writes and its read-back, a newer run writes its branch and text.
  gh.after.set('update', () => {
    theirs = gh.otherRun('2999-01-01T00:00:00Z');
  });
  const r = await syncPullRequest(
    { ...req, plan: { ...plan, edits: [{ path: 'a.yaml', newText: 'v3' }] } },
    {
      ...deps,
      treeWith: async () => 'v3',
    },
  );
  assert.equal(r.commitSha, theirs);
  assert.match(r.warnings[0]!, /Another run updated tether\/x with a newer commit/);
  assert.equal(gh.branches.get('tether/x'), theirs);
  assert.equal(describedHead(gh.pr!.body), theirs);
});

test('an older run that wrote in between is replaced, and the text follows', async () => {
  const gh = new FakeGitHub();
  const { req, deps } = setup(gh);
  await syncPullRequest(req, deps);
  gh.after.set('branch', () => {
    gh.otherRun('2000-01-01T00:00:00Z');
  });
  const r = await syncPullRequest(
    { ...req, plan: { ...plan, edits: [{ path: 'a.yaml', newText: 'v3' }] } },
    {
      ...deps,
      treeWith: async () => 'v3',
    },
  );
  const head = gh.branches.get('tether/x')!;
  assert.equal(r.commitSha, head);
  assert.equal(r.warnings.length, 0);
  assert.equal(describedHead(gh.pr!.body), head);
  assert.equal(gh.pr!.title, text(head).title);
});

test('a run that stopped between its two writes is taken over after a pause', async () => {
  const gh = new FakeGitHub();
  const { req, deps } = setup(gh);
  await syncPullRequest(req, deps);
  // Another run moved the branch and died before writing its text.
  gh.after.set('update', () => {
    gh.branches.set('tether/x', gh.commit('dead', '2999-01-01T00:00:00Z'));
  });
  const r = await syncPullRequest(
    { ...req, plan: { ...plan, edits: [{ path: 'a.yaml', newText: 'v3' }] } },
    {
      ...deps,
      treeWith: async () => 'v3',
    },
  );
  const head = gh.branches.get('tether/x')!;
  assert.equal(r.commitSha, head);
  assert.equal(describedHead(gh.pr!.body), head);
  assert.equal(gh.calls.filter((c) => c === 'branch').length, 3, gh.calls.join(' '));
});

test('only-newer: an open PR proposing newer versions is left as it is, neither closed nor rewritten', async () => {
  const gh = new FakeGitHub();
  const { req, deps } = setup(gh);
  await syncPullRequest(req, deps);
  const head = gh.branches.get('tether/x');
  const newerInPr = async (pr: OpenPr) => [`skipped: a.yaml already at 2.6.0 in #${pr.number}`];
  gh.calls = [];
  // This run's plan would write a head of its own; with nothing to write it would close the PR.
  for (const p of [
    { ...plan, edits: [{ path: 'a.yaml', newText: 'v1' }] },
    { ...plan, edits: [] },
  ]) {
    const r = await syncPullRequest({ ...req, plan: p, newerInPr }, { ...deps, treeWith: async () => 'v1' });
    assert.equal(r.operation, 'unchanged');
    assert.equal(r.leftAsIs, true);
    assert.equal(r.commitSha, head);
    assert.deepEqual(r.warnings, ['skipped: a.yaml already at 2.6.0 in #1']);
  }
  assert.deepEqual(gh.calls, ['find', 'find']);
  assert.equal(gh.branches.get('tether/x'), head);
  // Nothing newer in the PR: the base has the versions (or newer ones, with only-newer), and the PR is closed.
  const kept = { ...plan, edits: [], skipped: [{ path: 'a.yaml', reason: 'already at 2.7.0', kept: '2.7.0' }] };
  const closed = await syncPullRequest({ ...req, plan: kept, newerInPr: async () => [] }, deps);
  assert.equal(closed.operation, 'closed');
  assert.deepEqual(gh.comments, [
    '`main` already has these versions or newer ones, so this pull request is no longer needed. (Tether)',
  ]);
});
