// The pack indexer against Git's own: packs written by `git pack-objects` (OFS and REF deltas, a thin pack, a large
// object) are indexed, and the index must be byte for byte what `git index-pack` writes for the same pack.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PackBytes } from '../src/git/pack-format.ts';
import { type BaseObject, indexPack } from '../src/git/pack-index.ts';
import { PackReader } from '../src/git/pack-reader.ts';

const git = (cwd: string, args: string[], input?: string | Buffer) =>
  execFileSync('git', args, {
    cwd,
    input,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'T',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 'T',
      GIT_COMMITTER_EMAIL: 't@t',
    },
    maxBuffer: 256 * 1024 * 1024,
  });

describe('indexPack', () => {
  let tmp: string;
  let work: string;
  let revs: string[];

  /** Packs the objects `revs` lists with `git pack-objects`; returns the pack's path (its .idx is Git's). */
  function pack(name: string, args: string[], revList: string): string {
    const sha = git(work, ['pack-objects', '-q', ...args, join(tmp, name)], revList)
      .toString()
      .trim();
    return join(tmp, `${name}-${sha}.pack`);
  }

  function gitIdx(packPath: string): Buffer {
    return readFileSync(packPath.replace(/\.pack$/, '.idx'));
  }

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tether-pack-index-'));
    work = join(tmp, 'work');
    mkdirSync(work);
    git(work, ['init', '-q', '-b', 'main']);
    revs = [];
    // Similar files over several revisions: most become deltas, some chained.
    for (let rev = 0; rev < 4; rev++) {
      for (let i = 0; i < 30; i++) {
        writeFileSync(
          join(work, `cm-${i}.yaml`),
          `kind: ConfigMap\ndata:\n  rev: "${rev}"\n  big: ${'x'.repeat(200 * i)}\n`,
        );
      }
      writeFileSync(join(work, 'random.bin'), randomBytes(20_000));
      git(work, ['add', '-A']);
      git(work, ['commit', '-q', '-m', `rev ${rev}`]);
      revs.push(git(work, ['rev-parse', 'HEAD']).toString().trim());
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const all = () => git(work, ['rev-list', '--objects', '--all']).toString();

  for (const [kind, args] of [
    ['OFS deltas', ['--delta-base-offset']],
    ['REF deltas', []],
  ] as const) {
    test(`${kind}: the index equals git index-pack's, from memory and read by ranges`, async () => {
      const path = pack(kind.startsWith('OFS') ? 'ofs' : 'ref', [...args], all());
      const verify = git(tmp, ['verify-pack', '-v', path.replace(/\.pack$/, '.idx')]).toString();
      assert.match(verify, /chain length = [2-9]/, 'the fixture has delta chains');
      for (const inMemory of [Number.MAX_SAFE_INTEGER, 1000]) {
        const r = await indexPack(PackBytes.openFile(path, inMemory), { keepObjects: true });
        assert.ok(r.idx.equals(gitIdx(path)), `idx bytes (pack in memory: ${inMemory > 1000})`);
        assert.equal(r.packSha, /-([0-9a-f]{40})\.pack$/.exec(path)?.[1], 'the pack is named by its checksum');
        // The objects kept for a first read are the objects git holds.
        assert.equal(r.objects?.size, r.count);
        for (const [oid, obj] of r.objects!) {
          assert.ok(Buffer.from(obj.content).equals(git(work, ['cat-file', obj.type, oid])), oid);
        }
      }
      // With a budget too small for any object, nothing is kept and the index is the same.
      const lean = await indexPack(PackBytes.openFile(path), { keepObjects: true, keepBytes: 0 });
      assert.ok(lean.idx.equals(gitIdx(path)));
      assert.equal(lean.objects?.size, 0);
    });
  }

  test('a large object is hashed through the streaming inflate and indexed the same', async () => {
    const dir = join(tmp, 'large');
    mkdirSync(dir);
    git(dir, ['init', '-q', '-b', 'main']);
    // 9 MiB: over the default 8 MiB, half random so that it does not compress to nothing.
    writeFileSync(
      join(dir, 'huge.yaml'),
      Buffer.concat([randomBytes(4.5 * 1024 * 1024), Buffer.alloc(4.5 * 1024 * 1024, 32)]),
    );
    writeFileSync(join(dir, 'small.yaml'), 'a: 1\n');
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', 'large']);
    const sha = git(dir, ['pack-objects', '-q', join(tmp, 'large')], git(dir, ['rev-list', '--objects', '--all']))
      .toString()
      .trim();
    const path = join(tmp, `large-${sha}.pack`);
    for (const inMemory of [Number.MAX_SAFE_INTEGER, 64 * 1024]) {
      const r = await indexPack(PackBytes.openFile(path, inMemory));
      assert.ok(r.idx.equals(gitIdx(path)), 'idx bytes');
    }
    // Streaming every object, small ones included, gives the same index.
    const r = await indexPack(PackBytes.openFile(path), { largeObjectBytes: 1 });
    assert.ok(r.idx.equals(gitIdx(path)));
  });

  test('a thin pack: deltas on objects outside it are resolved through the lookup given', async () => {
    // A thin pack cannot be indexed by git without adding its bases (--fix-thin rewrites it), so the index is
    // checked against the objects the pack was made of.
    const thin = git(
      work,
      ['pack-objects', '-q', '--thin', '--delta-base-offset', '--revs', '--stdout'],
      `${revs[3]}\n^${revs[2]}\n`,
    );
    const store = join(work, '.git');
    const asked: string[] = [];
    const external = async (oid: string): Promise<BaseObject | undefined> => {
      asked.push(oid);
      const type = git(store, ['cat-file', '-t', oid]).toString().trim() as BaseObject['type'];
      return { type, content: git(store, ['cat-file', type, oid]) };
    };
    const r = await indexPack(PackBytes.fromBuffer(thin), { external });
    assert.ok(asked.length > 0, 'the thin pack has deltas on objects it does not hold');
    const wanted = git(work, ['rev-list', '--objects', revs[3]!, `^${revs[2]}`])
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.slice(0, 40))
      .sort();
    const names = Array.from({ length: r.count }, (_, i) => r.idx.toString('hex', 1032 + i * 20, 1052 + i * 20));
    assert.deepEqual(names, wanted);
    await assert.rejects(indexPack(PackBytes.fromBuffer(thin)), /neither in the pack nor the store/);
  });

  test('a truncated or corrupted pack is refused', async () => {
    const path = pack('bad', ['--delta-base-offset'], all());
    const bytes = readFileSync(path);
    for (const cut of [bytes.length - 1, bytes.length - 21, Math.floor(bytes.length / 2), 40]) {
      await assert.rejects(
        indexPack(PackBytes.fromBuffer(bytes.subarray(0, cut))),
        /truncated|does not inflate|checksum/,
      );
    }
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 30] = flipped[flipped.length - 30]! ^ 0xff;
    await assert.rejects(indexPack(PackBytes.fromBuffer(flipped)), /corrupt|does not inflate|inflates to/);
    await assert.rejects(indexPack(PackBytes.fromBuffer(Buffer.from('nonsense, not a pack at all'))), /truncated|PACK/);
  });

  test('PackReader reads the indexed pack and sizes objects without reading them', async () => {
    const path = pack('reader', ['--delta-base-offset'], all());
    const store = join(tmp, 'store');
    mkdirSync(join(store, 'objects/pack'), { recursive: true });
    const r = await indexPack(PackBytes.openFile(path));
    writeFileSync(join(store, 'objects/pack', `pack-${r.packSha}.pack`), readFileSync(path));
    writeFileSync(join(store, 'objects/pack', `pack-${r.packSha}.idx`), r.idx);
    const reader = await PackReader.open(await import('node:fs'), store);
    const objects = git(work, ['cat-file', '--batch-check', '--batch-all-objects']).toString().trim().split('\n');
    assert.ok(objects.length > 100);
    for (const line of objects) {
      const [oid, type, size] = line.split(' ');
      assert.equal(reader.sizeOf(oid!), Number(size), `size of ${oid}`);
      const obj = reader.read(oid!);
      assert.equal(obj?.type, type);
      assert.equal(obj?.content.length, Number(size));
    }
  });
});
