// The shared Git adapter against a real smart-HTTP server (git http-backend): fetch, filtered reads, symlinks,
// commits and pushes, and no credential in any message.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import type { HttpClient } from 'isomorphic-git';
import { type GitServer, startGitServer } from '../../testenv/src/git-server.ts';
import { TetherError } from '../src/errors.ts';
import { GitRepo } from '../src/git/git-repo.ts';

const TOKEN = 'ghs_reader_secret_1234';
const credentials = () => ({ username: 'x-access-token', password: TOKEN });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('GitRepo', () => {
  let server: GitServer;
  let tmp: string;
  let url: string;

  before(async () => {
    server = await startGitServer({ tokens: { [TOKEN]: { login: 'reader', repos: '*' } } });
    tmp = await mkdtemp(join(tmpdir(), 'tether-git-repo-'));
    const bare = await server.createRepo('acme/env');
    const files: [string, string, string][] = [
      ['100644', 'envs/dev/web/deploy.yaml', 'kind: Deployment\n'],
      ['100644', 'envs/dev/web/svc.yaml', 'kind: Service\n'],
      ['100644', 'envs/dev/web/sub/cm.yaml', 'kind: ConfigMap\n'],
      ['100644', 'envs/dev/webby/other.yaml', 'kind: Other\n'],
      ['100644', 'envs/staging/web/deploy.yaml', 'kind: Deployment\n'],
      ['120000', 'envs/dev/web/link.yaml', '../../staging/web/deploy.yaml'],
      ['100644', 'README.md', '# env\n'],
    ];
    let stream = 'commit refs/heads/main\ncommitter T <t@tether.invalid> 1700000000 +0000\ndata 5\nfirst\n';
    for (const [mode, path, body] of files)
      stream += `M ${mode} inline ${path}\ndata ${Buffer.byteLength(body)}\n${body}\n`;
    await bare.git(['fast-import', '--quiet'], { input: stream });
    url = server.cloneUrl('acme/env');
  });
  after(async () => {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('reads only the files under a path, in path order, without following symlinks', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'a'), url, credentials });
    const sha = await repo.fetch('main');
    const read = await repo.readFiles(sha, { under: './envs/dev/web/' });
    assert.deepEqual(
      read.files.map((f) => [f.path, text(f.content)]),
      [
        ['envs/dev/web/deploy.yaml', 'kind: Deployment\n'],
        ['envs/dev/web/sub/cm.yaml', 'kind: ConfigMap\n'],
        ['envs/dev/web/svc.yaml', 'kind: Service\n'],
      ],
    );
    assert.deepEqual(read.symlinks, ['envs/dev/web/link.yaml']);
    assert.ok(repo.bytesFetched > 0);
    await assert.rejects(repo.readFiles(sha, { under: 'envs/prod' }), /path 'envs\/prod' does not exist/);
  });

  test('applies the path filter before reading and lists files without reading blobs', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'b'), url, credentials });
    const sha = await repo.fetch('main');
    const read = await repo.readFiles(sha, { select: (p) => p.endsWith('deploy.yaml') });
    assert.deepEqual(
      read.files.map((f) => f.path),
      ['envs/dev/web/deploy.yaml', 'envs/staging/web/deploy.yaml'],
    );
    const listed = await repo.listFiles(sha, { under: 'envs' });
    assert.equal(listed.length, 6);
    assert.equal(listed.find((f) => f.path === 'envs/dev/web/link.yaml')?.mode, '120000');
  });

  test('tree ids: equal for equal content, undefined for a missing or non-directory path', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'c'), url, credentials });
    const sha = await repo.fetch('main');
    const web = await repo.treeHash(sha, 'envs/dev/web');
    assert.match(web ?? '', /^[0-9a-f]{40}$/);
    assert.equal(await repo.treeHash(sha, 'envs//dev/web/'), web);
    assert.equal(await repo.treeHash(sha, 'envs/nope'), undefined);
    assert.equal(await repo.treeHash(sha, 'README.md'), undefined);
    assert.equal(await repo.treeHash(sha, ''), await repo.treeOf(sha));
  });

  test('reads see loose objects written after the fetch, and a pushed commit lands', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'd'), url, credentials });
    const sha = await repo.fetch('main');
    const { commit } = await repo.writeCommit({
      parent: sha,
      files: [{ path: 'envs/dev/web/svc.yaml', text: 'kind: Service # edited\n' }],
      message: 'edit',
      author: { name: 'T', email: 't@tether.invalid' },
    });
    const read = await repo.readFiles(commit, { under: 'envs/dev/web' });
    assert.equal(text(read.files.find((f) => f.path === 'envs/dev/web/svc.yaml')!.content), 'kind: Service # edited\n');
    assert.deepEqual(await repo.push(commit, 'feature', { force: false }), { ok: true });
    const other = await GitRepo.open({ gitdir: join(tmp, 'e'), url, credentials });
    assert.equal(await other.fetch('feature'), commit);
  });

  test("a server silent for longer than the 5 s socket timeout of Node's global agent still answers the fetch", async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'silent'), url, credentials });
    server.faults.holdNext(1, { ms: 6_000, match: /^POST .*git-upload-pack$/ });
    const tip = await repo.fetch('main');
    assert.equal(server.faults.pending, 0, 'the pack request was held');
    const read = await repo.readFiles(tip, { under: 'envs/dev/web' });
    assert.ok(read.files.some((f) => f.path === 'envs/dev/web/deploy.yaml'));
  });

  test('a fetch of a branch whose tip is already here only lists refs; a moved tip is fetched', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'tip'), url, credentials });
    const first = await repo.fetch('main');
    const packRequests = () => server.requests.filter((r) => r.path.includes('git-upload-pack') && r.method === 'POST');
    const before = packRequests().length;
    assert.equal(await repo.fetch('main'), first);
    assert.equal(packRequests().length, before, 'no pack negotiation for an unchanged tip');
    const moved = await server
      .repo('acme/env')
      .commitFiles({ branch: 'main', files: { 'envs/dev/web/new.yaml': 'kind: New\n' }, message: 'more' });
    assert.equal(await repo.fetch('main'), moved);
    assert.ok(packRequests().length > before, 'a moved tip is fetched');
    const read = await repo.readFiles(moved, { under: 'envs/dev/web' });
    assert.ok(read.files.some((f) => f.path === 'envs/dev/web/new.yaml'));
  });

  test('a first fetch into a new store lists refs once, credentials sent with the first request', async () => {
    const from = server.requests.length;
    const repo = await GitRepo.open({ gitdir: join(tmp, 'fresh'), url, credentials });
    await repo.fetch('main');
    const seen = server.requests.slice(from).map((r) => `${r.method} ${r.path.replace(/\?.*/, '')} ${r.status}`);
    assert.deepEqual(seen, ['GET /acme/env.git/info/refs 200', 'POST /acme/env.git/git-upload-pack 200']);
    // A store reopened later may hold the tip already: its fetch lists refs first, and needs nothing more.
    const again = await GitRepo.open({ gitdir: join(tmp, 'fresh'), url, credentials });
    const next = server.requests.length;
    await again.fetch('main');
    assert.deepEqual(
      server.requests.slice(next).map((r) => `${r.method} ${r.status}`),
      ['GET 200'],
    );
  });

  test('the remote tip of a ref is read from the ref listing alone: branches, tags (peeled), full names', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'remote-tip'), url, credentials });
    const bare = server.repo('acme/env');
    const main = (await bare.resolve('refs/heads/main'))!;
    await bare.git(['tag', 'light', main]);
    await bare.git(['-c', 'user.name=T', '-c', 'user.email=t@tether.invalid', 'tag', '-a', '-m', 'v1', 'v1', main]);
    const requests = server.requests.length;
    assert.equal(await repo.remoteTip('main'), main);
    assert.equal(await repo.remoteTip('refs/heads/main'), main);
    assert.equal(await repo.remoteTip('light'), main);
    assert.equal(await repo.remoteTip('v1'), main, 'an annotated tag gives the commit it points at');
    assert.equal(await repo.remoteTip(main), main);
    await assert.rejects(repo.remoteTip('nope'), /ref 'nope' not found/);
    const asked = server.requests.slice(requests);
    assert.ok(asked.length > 0);
    assert.ok(
      asked.every((r) => r.method === 'GET' && r.path.includes('/info/refs')),
      `only ref listings: ${asked.map((r) => `${r.method} ${r.path}`)}`,
    );
    assert.equal(await repo.hasCommit(main), false, 'nothing was fetched into the store');
    // Without credentials, even when the server asks for them: this server refuses, and got no second request.
    const anonymous = server.requests.length;
    await assert.rejects(repo.remoteTip('main', { credentials: false }));
    assert.deepEqual(
      server.requests.slice(anonymous).map((r) => r.status),
      [401],
    );
    const bad = await GitRepo.open({
      gitdir: join(tmp, 'remote-tip-bad'),
      url,
      credentials: () => ({ username: 'x-access-token', password: 'ghs_wrong_token_5678' }),
    });
    await assert.rejects(bad.remoteTip('main'), (err: Error) => {
      assert.doesNotMatch(err.message, /ghs_/);
      assert.match(err.message, /^list refs of http:\/\/127\.0\.0\.1:\d+\/acme\/env\.git main: /);
      return true;
    });
  });

  test('a missing ref and refused credentials are errors without the token or userinfo', async () => {
    const repo = await GitRepo.open({ gitdir: join(tmp, 'f'), url, credentials });
    await assert.rejects(repo.fetch('nope'), (err: Error) => /nope/.test(err.message) && !err.message.includes(TOKEN));
    const withUserinfo = url.replace('://', '://x-access-token:ghs_wrong_in_url_0000@');
    const bad = await GitRepo.open({
      gitdir: join(tmp, 'g'),
      url: withUserinfo,
      credentials: () => ({ username: 'x-access-token', password: 'ghs_wrong_token_5678' }),
    });
    await assert.rejects(bad.fetch('main'), (err: Error) => {
      assert.doesNotMatch(err.message, /ghs_/);
      assert.match(err.message, /fetch http:\/\/127\.0\.0\.1:\d+\/acme\/env\.git main/);
      return true;
    });
  });

  test('every error, causes included, is redacted text: util.inspect prints no token, header or userinfo', async () => {
    const password = 'ghs_wrong_token_5678';
    const inUrl = 'ghs_in_url_0000';
    const withUserinfo = url.replace('://', `://x-access-token:${inUrl}@`);
    const leaks = (printed: string) => {
      for (const secret of [
        'ghs_',
        'x-access-token:',
        // isomorphic-git sends a URL's userinfo as Basic auth, and the credentials otherwise.
        Buffer.from(`x-access-token:${password}`).toString('base64'),
        Buffer.from(`x-access-token:${inUrl}`).toString('base64'),
      ])
        assert.ok(!printed.includes(secret), `${secret} in\n${printed}`);
    };
    const creds = () => ({ username: 'x-access-token', password });
    // An HTTP client whose errors quote the request, as many do: the URL and the Authorization header.
    const quoting: HttpClient = {
      request: async (req) => {
        throw Object.assign(new Error(`${req.method ?? 'GET'} ${req.url} failed (${JSON.stringify(req.headers)})`), {
          code: 'ECONNRESET',
          request: { url: req.url, headers: req.headers },
        });
      },
    };
    for (const [name, u] of [
      ['r1', withUserinfo],
      ['r2', url],
    ]) {
      const failing = await GitRepo.open({ gitdir: join(tmp, name), url: u, credentials: creds, http: quoting });
      const fetchError = await failing.fetch('main').then(
        () => assert.fail('fetched'),
        (err: unknown) => err,
      );
      leaks(inspect(fetchError, { depth: Number.POSITIVE_INFINITY }));
      assert.equal((fetchError as Error & { cause: { code?: string } }).cause.code, 'ECONNRESET', 'retries read it');
      const listError = await failing.remoteTip('main').then(
        () => assert.fail('listed'),
        (err: unknown) => err,
      );
      leaks(inspect(listError, { depth: Number.POSITIVE_INFINITY }));
      const pushed = await failing.push('a'.repeat(40), 'tether/x', { force: false });
      assert.equal(pushed.ok, false);
      leaks(inspect(pushed, { depth: Number.POSITIVE_INFINITY }));
    }
    // And the real server refusing the credentials.
    const refused = await GitRepo.open({ gitdir: join(tmp, 'r3'), url: withUserinfo, credentials: creds });
    const refusedError = await refused.fetch('main').then(
      () => assert.fail('fetched'),
      (err: unknown) => err,
    );
    leaks(inspect(refusedError, { depth: Number.POSITIVE_INFINITY }));
  });

  test('errors of the local object store have the shape of remote ones: text, name and code, no raw cause', async () => {
    const gitdir = join(tmp, 'local-errors');
    const sha = await (await GitRepo.open({ gitdir, url, credentials })).fetch('main');
    /** The error `p` rejects with, checked for the shape every error of GitRepo has; returns its cause. */
    const shaped = async (p: Promise<unknown>, code: string) => {
      const err = await p.then(
        () => assert.fail('no error'),
        (e: unknown) => e,
      );
      const printed = inspect(err, { depth: Number.POSITIVE_INFINITY });
      assert.ok(err instanceof TetherError, printed);
      assert.equal(err.code, 'git');
      // Every cause is an Error with a message, a name and a code (and an HTTP status) only: none of what the raw
      // one worked on (isomorphic-git's `caller` and `data`, a path, the bytes read, an open file).
      for (let c = err.cause as Error | undefined; c; c = c.cause as Error | undefined) {
        assert.ok(c instanceof Error, printed);
        const extra = Object.keys(c).filter((k) => !['name', 'code', 'data'].includes(k));
        assert.deepEqual(extra, [], printed);
      }
      assert.doesNotMatch(printed, /Buffer|Uint8Array|FileHandle|caller|syscall/, printed);
      assert.equal((err.cause as { code?: string }).code, code, printed);
      return err;
    };
    const repo = await GitRepo.open({ gitdir, url, credentials });
    const missing = 'f'.repeat(40);
    const failed = await shaped(repo.treeOf(missing), 'NotFoundError');
    // What was asked of which store, as a remote failure names the remote.
    assert.match(failed.message, /^read commit f{40} \(http:\/\/127\.0\.0\.1:\d+\/acme\/env\.git\): Could not find/);
    await shaped(repo.readFiles(missing), 'NotFoundError');
    await shaped(repo.listFiles(missing), 'NotFoundError');
    await shaped(
      repo.writeCommit({ parent: missing, files: [], message: 'm', author: { name: 'T', email: 't@tether.invalid' } }),
      'NotFoundError',
    );

    // A store whose objects fail to read, as a disk does: the error holds the handle and the bytes read so far.
    const handle = await fs.promises.open(join(gitdir, 'HEAD'));
    try {
      const failing = {
        promises: {
          ...fs.promises,
          readFile: async (...a: Parameters<typeof fs.promises.readFile>) => {
            if (!String(a[0]).includes('/objects/')) return fs.promises.readFile(...a);
            throw Object.assign(new Error('EIO: i/o error, read'), {
              code: 'EIO',
              syscall: 'read',
              handle,
              partial: Buffer.from('PACK partial bytes'),
            });
          },
        },
      };
      const broken = await GitRepo.open({ gitdir, url, credentials, fs: failing });
      await shaped(broken.treeOf(sha), 'EIO');
      await shaped(broken.readFiles(sha, { under: 'envs/dev/web' }), 'EIO');
    } finally {
      await handle.close();
    }
  });

  test('reuses an existing store and keeps working with an injected fs', async () => {
    const gitdir = join(tmp, 'h');
    let reads = 0;
    const counting = {
      promises: {
        ...fs.promises,
        readFile: (...a: Parameters<typeof fs.promises.readFile>) => {
          reads++;
          return fs.promises.readFile(...a);
        },
      },
    };
    const first = await GitRepo.open({ gitdir, url, credentials, fs: counting });
    const sha = await first.fetch('main');
    const again = await GitRepo.open({ gitdir, url, credentials, fs: counting });
    assert.equal(await again.hasCommit(sha), true);
    assert.ok(reads > 0);
  });
});
