// Fetches whose pack the Git adapter receives, indexes and stores itself, against a real smart-HTTP server (git
// http-backend): git accepts the store, deepening works, a cut answer leaves nothing behind, and a large file is
// sized without being read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type GitServer, startGitServer } from '../../testenv/src/git-server.ts';
import { GitRepo } from '../src/git/git-repo.ts';

const TOKEN = 'ghs_reader_secret_9876';
const credentials = () => ({ username: 'x-access-token', password: TOKEN });
const MIB = 1024 * 1024;

describe('GitRepo fetches: the pack received, indexed and stored', () => {
  let server: GitServer;
  let tmp: string;
  let url: string;
  const commits: string[] = [];

  before(async () => {
    server = await startGitServer({ tokens: { [TOKEN]: { login: 'reader', repos: '*' } } });
    tmp = await mkdtemp(join(tmpdir(), 'tether-pack-receiver-'));
    await server.createRepo('acme/env');
    const repo = server.repo('acme/env');
    for (let rev = 0; rev < 5; rev++) {
      const files: Record<string, string | Uint8Array> = {};
      for (let i = 0; i < 20; i++)
        files[`envs/dev/app-${i}/cm.yaml`] = `kind: ConfigMap\nrev: "${rev}"\n${'x: y\n'.repeat(i * 50)}`;
      // Incompressible bytes, so that the pack is large enough to be cut inside it.
      files['envs/dev/blob.bin'] = randomBytes(300_000);
      commits.push(await repo.commitFiles({ branch: 'main', files, message: `rev ${rev}` }));
    }
    await repo.commitFiles({ branch: 'big', files: { 'envs/dev/huge.yaml': ' '.repeat(50 * MIB) }, message: 'huge' });
    url = server.cloneUrl('acme/env');
  });
  after(async () => {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const packFiles = (gitdir: string) => readdirSync(join(gitdir, 'objects/pack')).sort();

  test('the stored pack has the index git writes for it, git fsck accepts the store, and reads work', async () => {
    const gitdir = join(tmp, 'a');
    const repo = await GitRepo.open({ gitdir, url, credentials });
    const sha = await repo.fetch('main');
    assert.equal(sha, commits.at(-1));
    const files = packFiles(gitdir);
    assert.equal(files.length, 2, files.join(', '));
    const pack = join(gitdir, 'objects/pack', files.find((f) => f.endsWith('.pack'))!);
    execFileSync('git', ['index-pack', '-o', join(tmp, 'a.idx'), pack]);
    assert.ok(readFileSync(join(tmp, 'a.idx')).equals(readFileSync(pack.replace(/\.pack$/, '.idx'))), 'idx bytes');
    execFileSync('git', ['--git-dir', gitdir, 'fsck', '--no-dangling'], { stdio: 'pipe' });
    const read = await repo.readFiles(sha, { under: 'envs/dev/app-3' });
    assert.equal(
      new TextDecoder().decode(read.files[0]!.content),
      `kind: ConfigMap\nrev: "4"\n${'x: y\n'.repeat(150)}`,
    );
  });

  test('deepening for an older commit adds packs that git and the reads accept', async () => {
    const gitdir = join(tmp, 'b');
    const repo = await GitRepo.open({ gitdir, url, credentials });
    await repo.fetch('main');
    assert.equal(await repo.hasCommit(commits[0]!), false);
    await repo.ensureCommit(commits[0]!, 'main');
    assert.equal(await repo.hasCommit(commits[0]!), true);
    assert.ok(packFiles(gitdir).filter((f) => f.endsWith('.idx')).length >= 2, 'a second pack was stored');
    execFileSync('git', ['--git-dir', gitdir, 'fsck', '--no-dangling'], { stdio: 'pipe' });
    const read = await repo.readFiles(commits[0]!, { under: 'envs/dev/app-19' });
    assert.match(new TextDecoder().decode(read.files[0]!.content), /^kind: ConfigMap\nrev: "0"\n/);
  });

  test('an answer cut inside the pack is an error naming the repository and leaves no pack behind', async () => {
    const gitdir = join(tmp, 'c');
    const repo = await GitRepo.open({ gitdir, url, credentials });
    server.faults.cutNext(1, { match: /git-upload-pack$/, afterBytes: 100_000 });
    try {
      await assert.rejects(repo.fetch('main'), (err: Error) => {
        assert.match(err.message, /^fetch http:\/\/127\.0\.0\.1:\d+\/acme\/env\.git main: /);
        assert.doesNotMatch(err.message, /ghs_/);
        return true;
      });
    } finally {
      server.faults.reset();
    }
    assert.deepEqual(packFiles(gitdir), [], 'no pack, index or temporary file');
    assert.equal(await repo.fetch('main'), commits.at(-1), 'the next fetch succeeds');
  });

  test('a 50 MB file is sized from its header and left unread', async () => {
    const gitdir = join(tmp, 'd');
    const repo = await GitRepo.open({ gitdir, url, credentials });
    const sha = await repo.fetch('big');
    const read = await repo.readFiles(sha, { under: 'envs/dev', maxFileBytes: 8 * MIB });
    assert.deepEqual(read.oversized, [{ path: 'envs/dev/huge.yaml', size: 50 * MIB }]);
    assert.deepEqual(read.files, []);
    const whole = await repo.readFiles(sha, { select: (p) => p === 'envs/dev/huge.yaml' });
    assert.equal(whole.files[0]?.content.length, 50 * MIB, 'read when no limit is given');
  });
});
