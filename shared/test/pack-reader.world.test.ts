// The pack reader against packs git itself wrote (with deltas, by `git gc --aggressive`) and against a pack
// isomorphic-git fetched: every object reads back exactly as isomorphic-git reads it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import git from 'isomorphic-git';
import { isolatedGitEnv } from '../../testenv/src/git-ops.ts';
import { PackBytes } from '../src/git/pack-format.ts';
import { PackReader } from '../src/git/pack-reader.ts';

describe('PackReader', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tether-pack-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const run = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      env: isolatedGitEnv({
        GIT_AUTHOR_NAME: 'T',
        GIT_AUTHOR_EMAIL: 't@x',
        GIT_COMMITTER_NAME: 'T',
        GIT_COMMITTER_EMAIL: 't@x',
      }),
    }).toString();

  test('reads every object of a deltified pack as isomorphic-git does', async () => {
    const work = join(tmp, 'work');
    mkdirSync(join(work, 'envs/dev'), { recursive: true });
    run(work, 'init', '-q', '-b', 'main');
    // Similar files and several revisions of each: git stores most of them as deltas, some chained.
    const big = 'x'.repeat(70_000);
    for (let rev = 0; rev < 4; rev++) {
      for (let i = 0; i < 40; i++) {
        writeFileSync(
          join(work, `envs/dev/cm-${i}.yaml`),
          `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}}\ndata:\n  rev: "${rev}"\n  big: ${big.slice(0, 1000 * i)}\n`,
        );
      }
      writeFileSync(join(work, 'large.txt'), `${big}${rev}\n${big}`);
      run(work, 'add', '-A');
      run(work, 'commit', '-q', '-m', `rev ${rev}`);
    }
    run(work, 'gc', '-q', '--aggressive');
    const gitdir = join(work, '.git');
    const packs = await PackReader.open(fs, gitdir);
    const oids = run(work, 'rev-list', '--objects', '--all')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]!);
    const deltas = run(
      work,
      'verify-pack',
      '-v',
      ...fs
        .readdirSync(join(gitdir, 'objects/pack'))
        .filter((n) => n.endsWith('.idx'))
        .map((n) => join(gitdir, 'objects/pack', n)),
    );
    assert.match(deltas, /chain length = [2-9]/, 'the fixture has delta chains');
    assert.ok(oids.length > 150);
    for (const oid of oids) {
      const mine = packs.read(oid);
      const theirs = await git.readObject({ fs, gitdir, oid, format: 'content' });
      assert.ok(mine, `${oid} is in the pack`);
      assert.equal(mine.type, theirs.type, oid);
      assert.ok(Buffer.from(mine.content).equals(Buffer.from(theirs.object as Uint8Array)), `${oid} content`);
    }
    assert.equal(packs.read('0'.repeat(40)), undefined);
    assert.equal(packs.read('nonsense'), undefined);
  });

  test('a pack that does not match its index is refused', async () => {
    const gitdir = join(tmp, 'work/.git');
    const pack = fs.readdirSync(join(gitdir, 'objects/pack')).find((n) => n.endsWith('.pack'))!;
    const path = join(gitdir, 'objects/pack', pack);
    const bytes = fs.readFileSync(path);
    fs.chmodSync(path, 0o644);
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(path, bytes);
    await assert.rejects(PackReader.open(fs, gitdir), /does not match its index/);
  });

  test('a pack this process indexed is taken from memory as verified; one found on disk is checked', async () => {
    const gitdir = join(tmp, 'work/.git');
    const dir = join(gitdir, 'objects/pack');
    const name = fs.readdirSync(dir).find((n) => n.endsWith('.idx'))!;
    // The file on disk is the damaged one of the test above; the indexer's own (undamaged) bytes stand instead.
    const bytes = fs.readFileSync(join(dir, name.replace(/\.idx$/, '.pack')));
    await assert.rejects(PackReader.open(fs, gitdir), /does not match its index/);
    bytes[100] = bytes[100]! ^ 0xff;
    const idx = fs.readFileSync(join(dir, name));
    const reader = await PackReader.open(fs, gitdir, [{ name, idx, pack: PackBytes.fromBuffer(bytes) }]);
    // The last revision of cm-1.yaml, as the first test wrote it, and its blob id.
    const good = Buffer.from(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-1}\ndata:\n  rev: "3"\n  big: ${'x'.repeat(1000)}\n`,
    );
    const oid = createHash('sha1').update(`blob ${good.length}\0`).update(good).digest('hex');
    assert.deepEqual(Buffer.from(reader.read(oid)!.content), good);
  });
});
