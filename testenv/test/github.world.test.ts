// The GitHub emulator against Octokit (with the retry and throttling plugins Tether uses), the git CLI and a real
// webhook receiver. Every request and answer is checked against GitHub's OpenAPI description: each test ends by
// asserting there were no violations (issue 3, part 3).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { isolatedGitEnv } from '../src/git-ops.ts';
import { type GitServer, startGitServer } from '../src/git-server.ts';
import { type GitHubEmulator, startGitHub } from '../src/github/server.ts';
import type { TokenMap } from '../src/tokens.ts';

const run = promisify(execFile);
const TOKEN = 'ghs_tether';
const tokens: TokenMap = {
  [TOKEN]: { login: 'tether-bot', repos: '*' },
  ghs_reviewer: { login: 'alice', repos: '*' },
  ghs_limited: { login: 'outsider', repos: ['acme/other'] },
};

const ThrottledOctokit = Octokit.plugin(retry, throttling);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Octokit as Tether builds it; retries back off in milliseconds here instead of seconds. */
function octokit(github: GitHubEmulator, options: { token?: string; throttle?: boolean } = {}) {
  return new ThrottledOctokit({
    baseUrl: github.url,
    auth: options.token ?? TOKEN,
    retry: { retryAfterBaseValue: 5 },
    throttle: {
      enabled: options.throttle ?? false,
      retryAfterBaseValue: 5,
      onRateLimit: (_after: number, _options: unknown, _o: unknown, retryCount: number) => retryCount < 2,
      onSecondaryRateLimit: (_after: number, _options: unknown, _o: unknown, retryCount: number) => retryCount < 2,
    },
    log: quiet,
  });
}

async function gitCli(args: string[], cwd?: string): Promise<string> {
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
  const { stdout } = await run('git', ['-c', `http.extraHeader=Authorization: Basic ${basic}`, ...args], {
    cwd,
    env: isolatedGitEnv({
      GIT_AUTHOR_NAME: 'Dev',
      GIT_AUTHOR_EMAIL: 'dev@example.com',
      GIT_COMMITTER_NAME: 'Dev',
      GIT_COMMITTER_EMAIL: 'dev@example.com',
    }),
  });
  return stdout;
}

/** A local webhook receiver that records what it gets. */
async function startReceiver(): Promise<{
  url: string;
  got: Array<{ headers: Record<string, string>; body: string }>;
  server: Server;
}> {
  const got: Array<{ headers: Record<string, string>; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

describe('GitHub emulator', () => {
  let git: GitServer;
  let github: GitHubEmulator;
  let work: string;
  let n = 0;
  /** A fresh repository per test, so tests do not depend on each other. */
  const newRepo = async (files: Record<string, string> = { 'envs/dev/web.yaml': 'image: web:1.0.0\n' }) => {
    n += 1;
    const name = `env${n}`;
    await github.state.createRepo(`acme/${name}`, { files });
    return { owner: 'acme', repo: name };
  };
  /** A branch with one commit changing `files`, made through the Git database API as Tether does. */
  const branchWith = async (
    o: Octokit,
    r: { owner: string; repo: string },
    branch: string,
    files: Record<string, string>,
    base = 'main',
  ) => {
    const tip = (await o.git.getRef({ ...r, ref: `heads/${base}` })).data.object.sha;
    const baseTree = (await o.git.getCommit({ ...r, commit_sha: tip })).data.tree.sha;
    const tree = await o.git.createTree({
      ...r,
      base_tree: baseTree,
      tree: Object.entries(files).map(([path, content]) => ({
        path,
        mode: '100644' as const,
        type: 'blob' as const,
        content,
      })),
    });
    const commit = await o.git.createCommit({
      ...r,
      message: `change ${Object.keys(files).join(', ')}`,
      tree: tree.data.sha,
      parents: [tip],
    });
    await o.git.createRef({ ...r, ref: `refs/heads/${branch}`, sha: commit.data.sha });
    return commit.data.sha;
  };

  before(async () => {
    const t0 = performance.now();
    git = await startGitServer({ tokens });
    github = await startGitHub({ git, tokens });
    const ms = performance.now() - t0;
    process.stderr.write(`# git server + GitHub emulator (with validator) started in ${ms.toFixed(0)} ms\n`);
    work = await mkdtemp(join(tmpdir(), 'tether-github-test-'));
  });
  afterEach(() => github.assertNoViolations());
  after(async () => {
    await github.stop();
    await git.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('git data API: blobs, trees, commits and refs; a non-fast-forward update needs force', async () => {
    const o = octokit(github);
    const r = await newRepo();
    const main = (await o.git.getRef({ ...r, ref: 'heads/main' })).data.object.sha;
    const blob = await o.git.createBlob({
      ...r,
      content: Buffer.from('image: web:2.0.0\n').toString('base64'),
      encoding: 'base64',
    });
    assert.equal(
      (await o.git.getBlob({ ...r, file_sha: blob.data.sha })).data.content.replace(/\n/g, ''),
      Buffer.from('image: web:2.0.0\n').toString('base64'),
    );
    const baseTree = (await o.git.getCommit({ ...r, commit_sha: main })).data.tree.sha;
    const tree = await o.git.createTree({
      ...r,
      base_tree: baseTree,
      tree: [{ path: 'envs/dev/web.yaml', mode: '100644', type: 'blob', sha: blob.data.sha }],
    });
    const listed = await o.git.getTree({ ...r, tree_sha: tree.data.sha, recursive: 'true' });
    assert.deepEqual(
      listed.data.tree.map((e) => `${e.type} ${e.path}`),
      ['tree envs', 'tree envs/dev', 'blob envs/dev/web.yaml'],
    );
    const commit = await o.git.createCommit({ ...r, message: 'bump', tree: tree.data.sha, parents: [main] });
    assert.deepEqual(
      commit.data.parents.map((p) => p.sha),
      [main],
    );

    await o.git.createRef({ ...r, ref: 'refs/heads/bump', sha: commit.data.sha });
    await assert.rejects(o.git.createRef({ ...r, ref: 'refs/heads/bump', sha: commit.data.sha }), {
      status: 422,
      message: /Reference already exists/,
    });
    await assert.rejects(o.git.updateRef({ ...r, ref: 'heads/bump', sha: main }), {
      status: 422,
      message: /Update is not a fast forward/,
    });
    await o.git.updateRef({ ...r, ref: 'heads/bump', sha: main, force: true });
    assert.equal(await github.state.git.repo(`${r.owner}/${r.repo}`).resolve('refs/heads/bump'), main);
    await o.git.updateRef({ ...r, ref: 'heads/bump', sha: commit.data.sha });
    assert.equal((await o.git.listMatchingRefs({ ...r, ref: 'heads/bu' })).data.length, 1);

    const file = await o.repos.getContent({ ...r, path: 'envs/dev/web.yaml', ref: 'bump' });
    assert.ok(!Array.isArray(file.data) && file.data.type === 'file');
    assert.equal(Buffer.from((file.data as { content: string }).content, 'base64').toString(), 'image: web:2.0.0\n');
    await assert.rejects(o.repos.getContent({ ...r, path: 'missing.yaml' }), { status: 404 });
    await o.git.deleteRef({ ...r, ref: 'heads/bump' });
    await assert.rejects(o.git.getRef({ ...r, ref: 'heads/bump' }), { status: 404 });
  });

  test('Octokit creates a pull request and merges it; the base branch points at the merge commit in git log', async () => {
    const o = octokit(github);
    const r = await newRepo();
    const head = await branchWith(o, r, 'tether/bump-web', { 'envs/dev/web.yaml': 'image: web:1.1.0\n' });
    const base = (await o.git.getRef({ ...r, ref: 'heads/main' })).data.object.sha;
    const pr = await o.pulls.create({
      ...r,
      title: 'Bump web to 1.1.0',
      head: 'tether/bump-web',
      base: 'main',
      body: 'by Tether',
    });
    assert.equal(pr.status, 201);
    assert.equal(pr.data.head.sha, head);
    assert.equal(pr.data.base.sha, base);
    assert.equal(pr.data.mergeable, true);
    await assert.rejects(o.pulls.create({ ...r, title: 'again', head: 'tether/bump-web', base: 'main' }), {
      status: 422,
      message: /already exists/,
    });

    await o.pulls.requestReviewers({
      ...r,
      pull_number: pr.data.number,
      reviewers: ['alice'],
      team_reviewers: ['sre'],
    });
    await assert.rejects(o.pulls.requestReviewers({ ...r, pull_number: pr.data.number, reviewers: ['tether-bot'] }), {
      status: 422,
    });
    await o.issues.addLabels({ ...r, issue_number: pr.data.number, labels: ['tether', 'env:dev'] });
    await o.issues.addAssignees({ ...r, issue_number: pr.data.number, assignees: ['alice'] });
    const listed = await o.pulls.list({ ...r, head: `acme:tether/bump-web`, state: 'open' });
    assert.deepEqual(
      listed.data.map((p) => p.number),
      [pr.data.number],
    );
    const got = (await o.pulls.get({ ...r, pull_number: pr.data.number })).data;
    assert.deepEqual(
      got.labels.map((l) => l.name),
      ['tether', 'env:dev'],
    );
    assert.deepEqual(
      got.requested_reviewers?.map((u) => u.login),
      ['alice'],
    );
    assert.deepEqual(
      got.requested_teams?.map((t) => t.slug),
      ['sre'],
    );
    assert.deepEqual(
      got.assignees?.map((u) => u.login),
      ['alice'],
    );

    await assert.rejects(o.pulls.merge({ ...r, pull_number: pr.data.number, sha: base }), { status: 409 });
    const merged = await o.pulls.merge({ ...r, pull_number: pr.data.number, merge_method: 'merge' });
    assert.equal(merged.data.merged, true);

    const bare = git.repo(`${r.owner}/${r.repo}`);
    assert.equal(await bare.resolve('refs/heads/main'), merged.data.sha);
    const log = (await bare.git(['log', '--format=%H %P|%s', '-n', '1', 'main'])).stdout.toString().trim();
    assert.equal(
      log,
      `${merged.data.sha} ${base} ${head}|Merge pull request #${pr.data.number} from acme/tether/bump-web`,
    );
    const after = (await o.pulls.get({ ...r, pull_number: pr.data.number })).data;
    assert.equal(after.merged, true);
    assert.equal(after.state, 'closed');
    assert.equal(after.merge_commit_sha, merged.data.sha);
    assert.equal(after.merged_by?.login, 'tether-bot');
    assert.equal((await o.pulls.checkIfMerged({ ...r, pull_number: pr.data.number })).status, 204);
    await assert.rejects(o.pulls.merge({ ...r, pull_number: pr.data.number }), { status: 405 });

    // A clone sees the merge.
    const dir = join(work, `clone-${r.repo}`);
    await gitCli(['clone', '--quiet', git.cloneUrl(`${r.owner}/${r.repo}`), dir]);
    assert.equal((await gitCli(['rev-parse', 'HEAD'], dir)).trim(), merged.data.sha);
  });

  test("a pull request's title and body, and a comment, over GitHub's limits are refused as GitHub does", async () => {
    const o = octokit(github);
    const r = await newRepo();
    await branchWith(o, r, 'tether/long', { 'envs/dev/web.yaml': 'image: web:1.1.0\n' });
    const create = (title: string, body: string) =>
      o.pulls.create({ ...r, title, body, head: 'tether/long', base: 'main' });
    await assert.rejects(create('t', 'x'.repeat(65_537)), {
      status: 422,
      message: /body is too long \(maximum is 65536 characters\)/,
    });
    await assert.rejects(create('t'.repeat(257), 'x'), {
      status: 422,
      message: /title is too long \(maximum is 256 characters\)/,
    });
    assert.equal((await o.pulls.list({ ...r, state: 'all' })).data.length, 0);
    // At the limits exactly it is taken (an emoji is one character to GitHub, two UTF-16 units to JavaScript).
    const pr = await create('t'.repeat(256), `${'🐛'.repeat(32_768)}`);
    assert.equal(pr.status, 201);
    await assert.rejects(o.pulls.update({ ...r, pull_number: pr.data.number, body: 'y'.repeat(65_537) }), {
      status: 422,
      message: /body is too long \(maximum is 65536 characters\)/,
    });
    await assert.rejects(o.pulls.update({ ...r, pull_number: pr.data.number, title: 'y'.repeat(257) }), {
      status: 422,
      message: /title is too long/,
    });
    const kept = (await o.pulls.get({ ...r, pull_number: pr.data.number })).data;
    assert.equal(kept.title, 't'.repeat(256));
    await o.pulls.update({ ...r, pull_number: pr.data.number, body: 'y'.repeat(65_536) });
    await assert.rejects(o.issues.createComment({ ...r, issue_number: pr.data.number, body: 'z'.repeat(65_537) }), {
      status: 422,
      message: /body is too long \(maximum is 65536 characters\)/,
    });
  });

  test('squash and rebase merges write real commits; conflicts answer 405', async () => {
    const o = octokit(github);
    const r = await newRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const bare = git.repo(`${r.owner}/${r.repo}`);

    await branchWith(o, r, 'squash-me', { 'a.txt': 'a2\n' });
    const sq = await o.pulls.create({ ...r, title: 'Squash', head: 'squash-me', base: 'main' });
    const squashed = await o.pulls.merge({ ...r, pull_number: sq.data.number, merge_method: 'squash' });
    const sc = await bare.readCommit(squashed.data.sha);
    assert.equal(sc.parents.length, 1);
    assert.match(sc.message, /^Squash \(#\d+\)\n/);
    assert.equal((await bare.readBlob((await bare.entryAt(squashed.data.sha, 'a.txt'))!.sha)).toString(), 'a2\n');

    const first = await branchWith(o, r, 'rebase-me', { 'b.txt': 'b2\n' });
    await bare.commitFiles({ branch: 'main', files: { 'c.txt': 'c\n' }, message: 'unrelated change on main' });
    const rb = await o.pulls.create({ ...r, title: 'Rebase', head: 'rebase-me', base: 'main' });
    const mainBefore = (await bare.resolve('refs/heads/main'))!;
    const rebased = await o.pulls.merge({ ...r, pull_number: rb.data.number, merge_method: 'rebase' });
    const rc = await bare.readCommit(rebased.data.sha);
    assert.deepEqual(rc.parents, [mainBefore]);
    assert.notEqual(rebased.data.sha, first);
    assert.equal(rc.message, 'change b.txt');
    for (const [path, want] of [
      ['a.txt', 'a2\n'],
      ['b.txt', 'b2\n'],
      ['c.txt', 'c\n'],
    ]) {
      assert.equal((await bare.readBlob((await bare.entryAt(rebased.data.sha, path!))!.sha)).toString(), want);
    }

    await branchWith(o, r, 'conflict', { 'a.txt': 'theirs\n' });
    await bare.commitFiles({ branch: 'main', files: { 'a.txt': 'ours\n' }, message: 'conflicting change' });
    const cf = await o.pulls.create({ ...r, title: 'Conflict', head: 'conflict', base: 'main' });
    const got = (await o.pulls.get({ ...r, pull_number: cf.data.number })).data;
    assert.equal(got.mergeable, false);
    assert.equal(got.mergeable_state, 'dirty');
    await assert.rejects(o.pulls.merge({ ...r, pull_number: cf.data.number }), {
      status: 405,
      message: /not mergeable/,
    });
  });

  test('commit statuses: created, listed newest first, combined; GitHub limits apply', async () => {
    const o = octokit(github);
    const r = await newRepo();
    const sha = (await o.git.getRef({ ...r, ref: 'heads/main' })).data.object.sha;
    assert.equal((await o.repos.getCombinedStatusForRef({ ...r, ref: 'main' })).data.state, 'pending');

    const created = await o.repos.createCommitStatus({
      ...r,
      sha,
      state: 'pending',
      context: 'tether/dev/web',
      description: 'Syncing',
    });
    assert.equal(created.status, 201);
    await o.repos.createCommitStatus({
      ...r,
      sha,
      state: 'success',
      context: 'tether/dev/web',
      description: 'Synced 3 resources · Healthy',
      target_url: 'https://tether.example.com/dev/web',
    });
    let combined = (await o.repos.getCombinedStatusForRef({ ...r, ref: 'main' })).data;
    assert.equal(combined.state, 'success');
    assert.equal(combined.sha, sha);
    assert.equal(combined.total_count, 1);
    assert.deepEqual(
      combined.statuses.map((s) => [s.context, s.state, s.description]),
      [['tether/dev/web', 'success', 'Synced 3 resources · Healthy']],
    );
    const list = (await o.repos.listCommitStatusesForRef({ ...r, ref: sha })).data;
    assert.deepEqual(
      list.map((s) => s.state),
      ['success', 'pending'],
    );

    await o.repos.createCommitStatus({ ...r, sha, state: 'error', context: 'tether/prod/web' });
    combined = (await o.repos.getCombinedStatusForRef({ ...r, ref: sha })).data;
    assert.equal(combined.state, 'failure');
    assert.equal(combined.total_count, 2);

    await assert.rejects(
      o.repos.createCommitStatus({ ...r, sha, state: 'success', context: 'x', description: 'y'.repeat(141) }),
      { status: 422, message: /description is too long \(maximum is 140 characters\)/ },
    );
    await o.repos.createCommitStatus({ ...r, sha, state: 'success', context: 'x', description: 'y'.repeat(140) });
    await assert.rejects(
      o.repos.createCommitStatus({ ...r, sha, state: 'failure', context: 'x', description: 'Degraded: 🐛 crashed' }),
      { status: 422, message: /description doesn't accept 4-byte Unicode/ },
    );
    await o.repos.createCommitStatus({ ...r, sha, state: 'success', context: 'x', description: 'Synced · Healthy …' });
    await assert.rejects(o.repos.createCommitStatus({ ...r, sha: 'f'.repeat(40), state: 'success' }), { status: 422 });

    // The 1000th status per sha and context is the last one GitHub takes.
    const repo = (await github.state.repo(`${r.owner}/${r.repo}`))!;
    for (let i = repo.statuses.filter((s) => s.context === 'full').length; i < 999; i++) {
      await github.engine.createStatus(repo, sha, 'tether-bot', { state: 'pending', context: 'full' });
    }
    await o.repos.createCommitStatus({ ...r, sha, state: 'success', context: 'full' });
    await assert.rejects(o.repos.createCommitStatus({ ...r, sha, state: 'success', context: 'full' }), {
      status: 422,
      message: /maximum number of statuses/,
    });
  });

  test('pushes over git and merges deliver signed push webhooks', async () => {
    const o = octokit(github);
    const r = await newRepo();
    const receiver = await startReceiver();
    try {
      await github.state.addHook(`${r.owner}/${r.repo}`, { url: receiver.url, secret: 's3cret' });
      const dir = join(work, `push-${r.repo}`);
      await gitCli(['clone', '--quiet', git.cloneUrl(`${r.owner}/${r.repo}`), dir]);
      await writeFile(join(dir, 'envs/dev/web.yaml'), 'image: web:3.0.0\n');
      await gitCli(['commit', '--quiet', '-am', 'bump web to 3.0.0'], dir);
      const before = (await gitCli(['rev-parse', 'HEAD~1'], dir)).trim();
      const after = (await gitCli(['rev-parse', 'HEAD'], dir)).trim();
      await gitCli(['push', '--quiet', 'origin', 'main'], dir);
      await github.webhooks.idle();

      assert.equal(receiver.got.length, 1);
      const { headers, body } = receiver.got[0]!;
      assert.equal(headers['x-github-event'], 'push');
      assert.equal(
        headers['x-hub-signature-256'],
        `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`,
      );
      const payload = JSON.parse(body);
      assert.equal(payload.ref, 'refs/heads/main');
      assert.equal(payload.before, before);
      assert.equal(payload.after, after);
      assert.equal(payload.pusher.name, 'tether-bot');
      assert.deepEqual(
        payload.commits.map((c: { id: string; modified: string[] }) => [c.id, c.modified]),
        [[after, ['envs/dev/web.yaml']]],
      );

      // A merge through the API is a push too.
      await branchWith(o, r, 'feature', { 'x.txt': 'x\n' });
      const pr = await o.pulls.create({ ...r, title: 'Feature', head: 'feature', base: 'main' });
      const merged = await o.pulls.merge({ ...r, pull_number: pr.data.number });
      await github.webhooks.idle();
      const pushes = receiver.got.map((g) => JSON.parse(g.body)).filter((p) => p.ref === 'refs/heads/main');
      assert.equal(pushes.at(-1).after, merged.data.sha);
      assert.equal(pushes.at(-1).head_commit.id, merged.data.sha);

      // A hook created through the REST API is pinged and defaults to form encoding, as on GitHub.
      const count = receiver.got.length;
      await o.repos.createWebhook({ ...r, config: { url: receiver.url, secret: 'other' }, events: ['push'] });
      await github.webhooks.idle();
      assert.equal(receiver.got[count]?.headers['x-github-event'], 'ping');
      assert.match(receiver.got[count]?.body ?? '', /^payload=/);
    } finally {
      await new Promise((res) => receiver.server.close(res));
    }
  });

  test('pull_request webhooks (opened, synchronize, closed, reopened), the files of a PR, comments edited in place', async () => {
    const o = octokit(github);
    const r = await newRepo();
    const receiver = await startReceiver();
    try {
      await github.state.addHook(`${r.owner}/${r.repo}`, {
        url: receiver.url,
        secret: 's3cret',
        events: ['pull_request'],
      });
      const first = await branchWith(o, r, 'bump', {
        'envs/dev/web.yaml': 'image: web:2.0.0\n',
        'envs/dev/new.yaml': 'a: 1\n',
      });
      const pr = await o.pulls.create({ ...r, title: 'Bump', head: 'bump', base: 'main' });
      await github.webhooks.idle();
      const events = () =>
        receiver.got.map(
          (g) =>
            JSON.parse(g.body) as {
              action: string;
              number: number;
              before?: string;
              after?: string;
              pull_request: { head: { sha: string } };
            },
        );
      assert.deepEqual(
        events().map((e) => [e.action, e.number, e.pull_request.head.sha]),
        [['opened', pr.data.number, first]],
      );
      assert.equal(receiver.got[0]!.headers['x-github-event'], 'pull_request');

      const files = await o.paginate(o.pulls.listFiles, { ...r, pull_number: pr.data.number, per_page: 1 });
      assert.deepEqual(files.map((f) => [f.filename, f.status]).sort(), [
        ['envs/dev/new.yaml', 'added'],
        ['envs/dev/web.yaml', 'modified'],
      ]);

      // A push to the head branch is a synchronize naming both heads.
      const tip = (await o.git.getCommit({ ...r, commit_sha: first })).data.tree.sha;
      const tree = await o.git.createTree({
        ...r,
        base_tree: tip,
        tree: [{ path: 'envs/dev/web.yaml', mode: '100644', type: 'blob', content: 'image: web:2.0.1\n' }],
      });
      const second = (await o.git.createCommit({ ...r, message: 'again', tree: tree.data.sha, parents: [first] })).data
        .sha;
      await o.git.updateRef({ ...r, ref: 'heads/bump', sha: second });
      await github.webhooks.idle();
      const sync = events().at(-1)!;
      assert.deepEqual(
        [sync.action, sync.before, sync.after, sync.pull_request.head.sha],
        ['synchronize', first, second, second],
      );

      // Statuses go on any commit, the PR head included; a comment is edited in place.
      await o.repos.createCommitStatus({ ...r, sha: second, state: 'success', context: 'tether/dev/web/plan' });
      const c = await o.issues.createComment({ ...r, issue_number: pr.data.number, body: 'one' });
      await o.issues.updateComment({ ...r, comment_id: c.data.id, body: 'two' });
      const comments = await o.paginate(o.issues.listComments, { ...r, issue_number: pr.data.number });
      assert.deepEqual(
        comments.map((x) => [x.id, x.body]),
        [[c.data.id, 'two']],
      );
      await assert.rejects(o.issues.updateComment({ ...r, comment_id: 999_999, body: 'x' }), { status: 404 });

      await o.pulls.update({ ...r, pull_number: pr.data.number, state: 'closed' });
      await o.pulls.update({ ...r, pull_number: pr.data.number, state: 'open' });
      await github.webhooks.idle();
      assert.deepEqual(
        events().map((e) => e.action),
        ['opened', 'synchronize', 'closed', 'reopened'],
      );
    } finally {
      await new Promise((res) => receiver.server.close(res));
    }
  });

  test('auth as GitHub: 401 without or with an unknown token, 404 without access; rate-limit headers always', async () => {
    const r = await newRepo();
    const path = `${github.url}/repos/${r.owner}/${r.repo}`;
    const none = await fetch(path);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { message: string }).message, 'Requires authentication');
    assert.ok(none.headers.get('x-ratelimit-limit'));
    const bad = await fetch(path, { headers: { authorization: 'token nope' } });
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { message: string }).message, 'Bad credentials');
    await assert.rejects(octokit(github, { token: 'ghs_limited' }).repos.get(r), { status: 404 });
    const ok = await octokit(github).repos.get(r);
    for (const h of [
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-ratelimit-used',
      'x-ratelimit-resource',
    ]) {
      assert.ok(ok.headers[h], `${h} is set`);
    }
    assert.equal(Number(ok.headers['x-ratelimit-limit']), 5000);
  });

  test('fault knobs: 500/502 are retried, secondary rate limits (403, 429) are waited out', async () => {
    const r = await newRepo();
    const o = octokit(github, { throttle: true });
    const repoPath = new RegExp(`^GET /repos/acme/${r.repo}$`);
    github.faults.failNext(1, { status: 500, match: repoPath }).failNext(1, { status: 502, match: repoPath });
    assert.equal((await o.repos.get(r)).status, 200);
    assert.equal(github.faults.pending, 0);

    github.faults.secondaryRateLimitNext(1, { status: 403, retryAfter: 0, match: repoPath });
    github.faults.secondaryRateLimitNext(1, { status: 429, retryAfter: 0, match: repoPath });
    assert.equal((await o.repos.get(r)).status, 200);
    assert.equal(github.faults.pending, 0);

    // Without the plugins the faults surface as GitHub would send them.
    const plain = new Octokit({ baseUrl: github.url, auth: TOKEN, log: quiet });
    github.faults.secondaryRateLimitNext(1, { retryAfter: 7, match: repoPath });
    await assert.rejects(
      plain.repos.get(r),
      (err: { status: number; response: { headers: Record<string, string> }; message: string }) => {
        assert.equal(err.status, 403);
        assert.equal(err.response.headers['retry-after'], '7');
        assert.match(err.message, /secondary rate limit/);
        return true;
      },
    );
    github.faults.primaryRateLimitNext(1, { match: repoPath });
    await assert.rejects(
      plain.repos.get(r),
      (err: { status: number; response: { headers: Record<string, string> } }) => {
        assert.equal(err.status, 403);
        assert.equal(err.response.headers['x-ratelimit-remaining'], '0');
        return true;
      },
    );
  });

  test('a malformed emulator answer is caught by the OpenAPI validator', async () => {
    // No retry plugin here: it would retry the 500 and hide it (the violation would still fail the test).
    const o = new Octokit({ baseUrl: github.url, auth: TOKEN, log: quiet });
    const r = await newRepo();
    await branchWith(o, r, 'feature', { 'x.txt': 'x\n' });
    const pr = await o.pulls.create({ ...r, title: 'Feature', head: 'feature', base: 'main' });
    github.faults.malformNext(1, (body) => {
      const { number: _dropped, ...rest } = body as Record<string, unknown>;
      return { ...rest, state: 'merged' };
    });
    await assert.rejects(
      o.pulls.get({ ...r, pull_number: pr.data.number }),
      (err: { status: number; response: { headers: Record<string, string> } }) => {
        assert.equal(err.status, 500);
        assert.match(
          err.response.headers['x-emulator-violation'] ?? '',
          /pulls\/\{pull_number\} 200: .*number.*state|state.*number/,
        );
        return true;
      },
    );
    assert.equal(github.violations.length, 1);
    assert.equal(github.violations[0]!.kind, 'response');
    assert.throws(() => github.assertNoViolations(), /1 violation/);

    // A request GitHub would refuse is a violation too.
    await assert.rejects(
      o.request('POST /repos/{owner}/{repo}/statuses/{sha}', {
        ...r,
        sha: pr.data.head.sha,
        state: 'great' as 'success',
      }),
      { status: 422 },
    );
    assert.equal(github.violations[0]?.kind, 'request');
    github.violations.length = 0;
  });

  test('GraphQL enablePullRequestAutoMerge waits for required checks, then merges', async () => {
    const o = octokit(github);
    const r = await newRepo();
    await github.state.protectBranch(`${r.owner}/${r.repo}`, 'main', { requiredContexts: ['tether/dev/web'] });
    const head = await branchWith(o, r, 'auto', { 'x.txt': 'x\n' });
    const pr = await o.pulls.create({ ...r, title: 'Auto', head: 'auto', base: 'main' });
    assert.equal((await o.pulls.get({ ...r, pull_number: pr.data.number })).data.mergeable_state, 'blocked');
    await assert.rejects(o.pulls.merge({ ...r, pull_number: pr.data.number }), {
      status: 405,
      message: /Required status check "tether\/dev\/web" is expected/,
    });

    const mutation = `mutation($id: ID!, $mergeMethod: PullRequestMergeMethod) {
      enablePullRequestAutoMerge(input: { pullRequestId: $id, mergeMethod: $mergeMethod }) {
        pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
      }
    }`;
    const res = await o.graphql<{
      enablePullRequestAutoMerge: {
        pullRequest: { number: number; autoMergeRequest: { mergeMethod: string; enabledBy: { login: string } } };
      };
    }>(mutation, { id: pr.data.node_id, mergeMethod: 'SQUASH' });
    assert.deepEqual(res.enablePullRequestAutoMerge.pullRequest, {
      number: pr.data.number,
      autoMergeRequest: { mergeMethod: 'SQUASH', enabledBy: { login: 'tether-bot' } },
    });
    assert.equal((await o.pulls.get({ ...r, pull_number: pr.data.number })).data.auto_merge?.merge_method, 'squash');

    await o.repos.createCommitStatus({ ...r, sha: head, state: 'success', context: 'tether/dev/web' });
    const merged = (await o.pulls.get({ ...r, pull_number: pr.data.number })).data;
    assert.equal(merged.merged, true);
    assert.equal(await git.repo(`${r.owner}/${r.repo}`).resolve('refs/heads/main'), merged.merge_commit_sha);

    // GitHub refuses auto-merge on a pull request that could merge right now.
    await branchWith(o, r, 'clean', { 'y.txt': 'y\n' });
    const clean = await o.pulls.create({ ...r, title: 'Clean', head: 'clean', base: 'main' });
    await o.repos.createCommitStatus({ ...r, sha: clean.data.head.sha, state: 'success', context: 'tether/dev/web' });
    await assert.rejects(o.graphql(mutation, { id: clean.data.node_id }), /Pull request is in clean status/);

    // A query GitHub's schema does not allow is a violation.
    await assert.rejects(o.graphql('{ repository(owner: "acme", name: "x") { noSuchField } }'));
    assert.equal(github.violations.length, 1);
    assert.equal(github.violations[0]!.operation, 'POST /graphql');
    github.violations.length = 0;
  });
});

test('stop() closes the emulator port', async () => {
  const git = await startGitServer({ tokens });
  const github = await startGitHub({ git, tokens });
  const port = Number(new URL(github.url).port);
  assert.equal((await fetch(`${github.url}/repos/a/b`)).status, 401);
  await github.stop();
  await git.stop();
  await assert.rejects(
    new Promise((resolve, reject) => connect(port, '127.0.0.1').once('connect', resolve).once('error', reject)),
    { code: 'ECONNREFUSED' },
  );
  assert.deepEqual(git.liveProcesses(), []);
});
