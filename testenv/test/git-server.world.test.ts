// The Git server against real clients: the git CLI and isomorphic-git clone, fetch and push over smart HTTP with
// GitHub-style token auth; fault knobs; and a clean stop (issue 3, part 2).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { isolatedGitEnv, ZERO_SHA } from '../src/git-ops.ts';
import { type GitServer, type PushEvent, startGitServer } from '../src/git-server.ts';
import type { TokenMap } from '../src/tokens.ts';

const run = promisify(execFile);
const TOKEN = 'ghs_writer';
const tokens: TokenMap = {
  [TOKEN]: { login: 'tether-bot', repos: '*' },
  ghs_other: { login: 'outsider', repos: ['acme/other'] },
};

/** Runs the git CLI as a client with the token sent the way GitHub Actions does (an extra Basic header). */
async function gitCli(args: string[], options: { cwd?: string; token?: string } = {}): Promise<string> {
  const token = options.token ?? TOKEN;
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  const { stdout } = await run('git', ['-c', `http.extraHeader=Authorization: Basic ${basic}`, ...args], {
    cwd: options.cwd,
    env: isolatedGitEnv({
      GIT_AUTHOR_NAME: 'Dev',
      GIT_AUTHOR_EMAIL: 'dev@example.com',
      GIT_COMMITTER_NAME: 'Dev',
      GIT_COMMITTER_EMAIL: 'dev@example.com',
    }),
  });
  return stdout;
}

const onAuth = () => ({ username: 'x-access-token', password: TOKEN });

describe('git server', () => {
  let server: GitServer;
  let work: string;
  const pushes: PushEvent[] = [];

  before(async () => {
    server = await startGitServer({ tokens });
    server.onPush((e) => {
      pushes.push(e);
    });
    work = await mkdtemp(join(tmpdir(), 'tether-git-client-'));
    await server.createRepo('acme/env', { files: { 'envs/dev/web.yaml': 'image: web:1.0.0\n' } });
  });
  after(async () => {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('the git CLI clones, pushes and fetches; the push is reported', async () => {
    const dir = join(work, 'cli');
    await gitCli(['clone', '--quiet', server.cloneUrl('acme/env'), dir]);
    assert.equal(fs.readFileSync(join(dir, 'envs/dev/web.yaml'), 'utf8'), 'image: web:1.0.0\n');
    const oldHead = (await gitCli(['rev-parse', 'HEAD'], { cwd: dir })).trim();

    fs.writeFileSync(join(dir, 'envs/dev/web.yaml'), 'image: web:1.1.0\n');
    await gitCli(['commit', '--quiet', '-am', 'bump web to 1.1.0'], { cwd: dir });
    const newHead = (await gitCli(['rev-parse', 'HEAD'], { cwd: dir })).trim();
    pushes.length = 0;
    await gitCli(['push', '--quiet', 'origin', 'main', 'main:refs/heads/feature'], { cwd: dir });

    assert.equal(await server.repo('acme/env').resolve('refs/heads/main'), newHead);
    const byRef = new Map(pushes.map((p) => [p.ref, p]));
    assert.deepEqual(byRef.get('refs/heads/main'), {
      repo: 'acme/env',
      ref: 'refs/heads/main',
      before: oldHead,
      after: newHead,
      pusher: 'tether-bot',
    });
    assert.equal(byRef.get('refs/heads/feature')?.before, ZERO_SHA);

    // Fetch sees a commit made on the server side.
    await server.repo('acme/env').commitFiles({ branch: 'main', files: { 'b.txt': 'b' }, message: 'server side' });
    await gitCli(['fetch', '--quiet', 'origin'], { cwd: dir });
    const log = await gitCli(['log', '--format=%s', 'origin/main'], { cwd: dir });
    assert.deepEqual(log.trim().split('\n'), ['server side', 'bump web to 1.1.0', 'Initial commit']);
  });

  test('isomorphic-git clones shallow and pushes a commit written without a work tree', async () => {
    const dir = join(work, 'iso');
    await git.clone({
      fs,
      http,
      dir,
      url: server.cloneUrl('acme/env'),
      onAuth,
      depth: 1,
      singleBranch: true,
      noCheckout: true,
      noTags: true,
      ref: 'main',
    });
    const head = await git.resolveRef({ fs, dir, ref: 'refs/heads/main' });
    assert.equal(head, await server.repo('acme/env').resolve('refs/heads/main'));
    const { blob } = await git.readBlob({ fs, dir, oid: head, filepath: 'envs/dev/web.yaml' });
    assert.match(Buffer.from(blob).toString('utf8'), /^image: web:/);

    const blobOid = await git.writeBlob({ fs, dir, blob: Buffer.from('image: web:2.0.0\n') });
    const devTree = await git.writeTree({
      fs,
      dir,
      tree: [{ mode: '100644', path: 'web.yaml', oid: blobOid, type: 'blob' }],
    });
    const envsTree = await git.writeTree({
      fs,
      dir,
      tree: [{ mode: '040000', path: 'dev', oid: devTree, type: 'tree' }],
    });
    const { tree: rootTree } = await git.readTree({ fs, dir, oid: head });
    const tree = await git.writeTree({
      fs,
      dir,
      tree: [
        ...rootTree.filter((e) => e.path !== 'envs'),
        { mode: '040000', path: 'envs', oid: envsTree, type: 'tree' },
      ],
    });
    const who = { name: 'Tether', email: 'tether@example.com', timestamp: 1_700_000_000, timezoneOffset: 0 };
    const commit = await git.writeCommit({
      fs,
      dir,
      commit: { message: 'bump web to 2.0.0\n', tree, parent: [head], author: who, committer: who },
    });
    await git.writeRef({ fs, dir, ref: 'refs/heads/main', value: commit, force: true });
    pushes.length = 0;
    const result = await git.push({ fs, http, dir, ref: 'main', remoteRef: 'main', onAuth });
    assert.equal(result.ok, true);

    const bare = server.repo('acme/env');
    assert.equal(await bare.resolve('refs/heads/main'), commit);
    assert.equal(
      (await bare.readBlob((await bare.entryAt(commit, 'envs/dev/web.yaml'))!.sha)).toString(),
      'image: web:2.0.0\n',
    );
    assert.deepEqual(
      pushes.map((p) => [p.ref, p.before, p.after]),
      [['refs/heads/main', head, commit]],
    );
  });

  test('auth works as on GitHub: no or unknown token 401, a token without access 404', async () => {
    const infoRefs = `${server.cloneUrl('acme/env')}/info/refs?service=git-upload-pack`;
    const basic = (t: string) => ({ authorization: `Basic ${Buffer.from(`x-access-token:${t}`).toString('base64')}` });
    const none = await fetch(infoRefs);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal((await fetch(infoRefs, { headers: basic('ghs_nope') })).status, 401);
    assert.equal((await fetch(infoRefs, { headers: basic('ghs_other') })).status, 404);
    assert.equal(
      (await fetch(`${server.url}/acme/missing.git/info/refs?service=git-upload-pack`, { headers: basic(TOKEN) }))
        .status,
      404,
    );
    const ok = await fetch(infoRefs, { headers: basic(TOKEN) });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'application/x-git-upload-pack-advertisement');
    // The token as user name (no password) is accepted too.
    const asUser = await fetch(infoRefs, {
      headers: { authorization: `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}` },
    });
    assert.equal(asUser.status, 200);
    await assert.rejects(gitCli(['ls-remote', server.cloneUrl('acme/env')], { token: 'ghs_other' }), /not found/i);
  });

  test('a gzip-encoded upload-pack request is inflated', async () => {
    const head = (await server.repo('acme/env').resolve('refs/heads/main'))!;
    const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;
    const body = gzipSync(Buffer.from(`${pkt(`want ${head}\n`)}0000${pkt('done\n')}`));
    const res = await fetch(`${server.cloneUrl('acme/env')}/git-upload-pack`, {
      method: 'POST',
      body,
      headers: {
        authorization: `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`,
        'content-type': 'application/x-git-upload-pack-request',
        'content-encoding': 'gzip',
      },
    });
    assert.equal(res.status, 200);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.ok(bytes.includes('PACK'), 'the answer carries a packfile');
  });

  test('fault knobs: failing statuses, latency and an answer cut mid-body', async () => {
    const url = server.cloneUrl('acme/env');
    server.faults.failNext(1, { status: 500 });
    await assert.rejects(git.getRemoteInfo({ http, url, onAuth }), /500/);
    assert.ok((await git.getRemoteInfo({ http, url, onAuth })).refs);

    server.faults.latencyMs = 150;
    const t0 = performance.now();
    await git.getRemoteInfo({ http, url, onAuth });
    assert.ok(performance.now() - t0 >= 150, 'latency was added');
    server.faults.latencyMs = 0;

    server.faults.cutNext(1, { match: /git-upload-pack$/, afterBytes: 100 });
    const dir = join(work, 'cut');
    await assert.rejects(git.clone({ fs, http, dir, url, onAuth, singleBranch: true, noCheckout: true }));
    assert.equal(server.faults.pending, 0);
    await rm(dir, { recursive: true, force: true });
    await git.clone({ fs, http, dir, url, onAuth, singleBranch: true, noCheckout: true });
  });
});

test('stop() ends running git processes, closes the port and removes the repositories', async () => {
  const server = await startGitServer({ tokens });
  await server.createRepo('acme/env', { files: { a: 'a' } });
  const port = Number(new URL(server.url).port);
  // A push whose body never finishes keeps `git http-backend` running.
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.on('error', () => {});
  const auth = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
  socket.write(
    'POST /acme/env.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-receive-pack-request\r\n' +
      `Authorization: Basic ${auth}\r\nContent-Length: 100000\r\n\r\n0000`,
  );
  let pids: number[] = [];
  for (let i = 0; i < 100 && pids.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    pids = server.liveProcesses();
  }
  assert.equal(pids.length, 1, 'git http-backend is running');

  await server.stop();
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is gone`);
  assert.deepEqual(server.liveProcesses(), []);
  await assert.rejects(
    new Promise((resolve, reject) => connect(port, '127.0.0.1').once('connect', resolve).once('error', reject)),
    { code: 'ECONNREFUSED' },
  );
  assert.equal(fs.existsSync(server.root), false);
  socket.destroy();
});
