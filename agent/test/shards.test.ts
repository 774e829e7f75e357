import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.ts';
import {
  fairShare,
  fmix64,
  fnv1a64,
  jumpHash,
  planShardMoves,
  type ShardObservation,
  STALE_MEMBER_DURATIONS,
  shardOf,
  staleMembers,
} from '../src/core/shards.ts';

const names = Array.from({ length: 10_000 }, (_, i) => `app-${i}`);

test('FNV-1a 64 matches the published test vectors', () => {
  // From the FNV reference (http://www.isthe.com/chongo/tech/comp/fnv/): "" and "a".
  assert.equal(fnv1a64(''), 0xcbf29ce484222325n);
  assert.equal(fnv1a64('a'), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64('foobar'), 0x85944171f73967e8n);
});

test('jump hash: every key lands in range, and one bucket takes everything', () => {
  for (const n of names.slice(0, 500)) {
    assert.equal(shardOf(n, 1), 0);
    const s = shardOf(n, 7);
    assert.ok(s >= 0 && s < 7);
  }
  assert.throws(() => jumpHash(1n, 0), RangeError);
});

test('apps spread evenly over the shards (10,000 names, 16 shards: each within 10% of the mean)', () => {
  const counts = new Array<number>(16).fill(0);
  for (const n of names) counts[shardOf(n, 16)]!++;
  const mean = names.length / 16;
  for (const [s, c] of counts.entries()) assert.ok(Math.abs(c - mean) < mean * 0.1, `shard ${s} has ${c}`);
});

test('growing from 16 to 17 shards moves only about 1/17 of the apps, all to the new shard', () => {
  let moved = 0;
  for (const n of names) {
    const before = shardOf(n, 16);
    const after = shardOf(n, 17);
    if (before !== after) {
      moved++;
      assert.equal(after, 16, `${n} moved from ${before} to ${after}`);
    }
  }
  const expected = names.length / 17;
  assert.ok(Math.abs(moved - expected) < expected * 0.15, `${moved} moved, about ${Math.round(expected)} expected`);
});

test('an app keeps its shard whatever other apps exist: the assignment depends on its name alone', () => {
  assert.equal(shardOf('web', 16), shardOf('web', 16));
  // Pinned: every replica and every version must agree, or two replicas would sync one app.
  assert.deepEqual(
    ['web', 'api', 'payments', 'app-0'].map((n) => shardOf(n, 16)),
    ['web', 'api', 'payments', 'app-0'].map((n) => jumpHash(fmix64(fnv1a64(n)), 16)),
  );
  assert.equal(shardOf('web', 16), 7);
});

test('fair share is ceil(shards / replicas)', () => {
  assert.equal(fairShare(16, 1), 16);
  assert.equal(fairShare(16, 3), 6);
  assert.equal(fairShare(16, 16), 1);
  assert.equal(fairShare(16, 40), 1);
  assert.equal(fairShare(16, 0), 16);
});

function observe(mine: number[], taken: number[], shards = 16): ShardObservation[] {
  return Array.from({ length: shards }, (_, shard) => ({
    shard,
    mine: mine.includes(shard),
    free: !mine.includes(shard) && !taken.includes(shard),
  }));
}

test('a lone replica takes every free shard', () => {
  const m = planShardMoves('a', observe([], []), 1);
  assert.equal(m.acquire.length, 16);
  assert.deepEqual(m.release, []);
});

test('a replica holding more than its share lets the excess go and takes nothing', () => {
  const all = Array.from({ length: 16 }, (_, i) => i);
  const m = planShardMoves('a', observe(all, []), 3);
  assert.equal(m.release.length, 10);
  assert.deepEqual(m.acquire, []);
  // It keeps the same six across rounds (its preference order is stable).
  const kept = all.filter((s) => !m.release.includes(s));
  assert.deepEqual(planShardMoves('a', observe(kept, []), 3), { acquire: [], release: [] });
});

test('a replica takes free shards only up to its share, never a shard another holds', () => {
  const m = planShardMoves('c', observe([], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 3);
  assert.equal(m.acquire.length, 4);
  for (const s of m.acquire) assert.ok(s >= 12);
});

test('three replicas reaching for free shards prefer different ones', () => {
  const free = observe([], []);
  const firsts = ['a-1', 'b-2', 'c-3'].map((id) => planShardMoves(id, free, 3).acquire);
  const overlap = firsts[0]!.filter((s) => firsts[1]!.includes(s) && firsts[2]!.includes(s));
  assert.ok(overlap.length < 6, `all three want the same shards: ${overlap}`);
});

test('simulated rounds: 3 replicas converge to a cover of all shards, none held twice, and rebalance when one joins', () => {
  const holder = new Map<number, string>();
  const round = (ids: string[]) => {
    for (const id of ids) {
      const obs = Array.from({ length: 16 }, (_, shard) => ({
        shard,
        mine: holder.get(shard) === id,
        free: !holder.has(shard),
      }));
      const m = planShardMoves(id, obs, ids.length);
      for (const s of m.release) holder.delete(s);
      for (const s of m.acquire) if (!holder.has(s)) holder.set(s, id);
    }
  };
  for (let i = 0; i < 3; i++) round(['a', 'b']);
  assert.equal(holder.size, 16);
  for (let i = 0; i < 4; i++) round(['a', 'b', 'c']);
  assert.equal(holder.size, 16);
  const per = ['a', 'b', 'c'].map((id) => [...holder.values()].filter((h) => h === id).length);
  for (const n of per) assert.ok(n >= 4 && n <= 6, `shares ${per}`);
  // One dies: its shards come free and the other two take them.
  for (const [s, h] of holder) if (h === 'c') holder.delete(s);
  for (let i = 0; i < 2; i++) round(['a', 'b']);
  assert.equal(holder.size, 16);
});

test('config: sharding defaults, and it cannot be combined with leader election', () => {
  const base = {
    cluster: 'prod-eu',
    apps: [{ name: 'web', repo: 'https://github.com/acme/env.git', path: 'envs/prod/web' }],
  };
  const c = parseConfig({ ...base, sharding: {} });
  assert.deepEqual(c.sharding, {
    enabled: true,
    shards: 16,
    namespace: 'tether-system',
    leaseDuration: 8000,
    renewInterval: 2000,
  });
  assert.equal(parseConfig(base).sharding, undefined);
  assert.throws(
    () => parseConfig({ ...base, sharding: {}, leaderElection: { enabled: true } }),
    /sharding: sharding and leaderElection are exclusive/,
  );
  assert.throws(
    () => parseConfig({ ...base, sharding: { leaseDuration: '3s', renewInterval: '2s' } }),
    /sharding\.renewInterval: must be shorter/,
  );
});

test('stale membership leases: unrenewed for more than five lease durations as observed here, never the own one', () => {
  assert.equal(STALE_MEMBER_DURATIONS, 5);
  const lease = 8000;
  const observed = [
    { name: 'x-member-own', unchangedMs: 10 * lease },
    { name: 'x-member-live', unchangedMs: 1500 },
    { name: 'x-member-slow', unchangedMs: 5 * lease },
    { name: 'x-member-dead', unchangedMs: 5 * lease + 1 },
  ];
  assert.deepEqual(staleMembers(observed, lease, 'x-member-own'), ['x-member-dead']);
  assert.deepEqual(staleMembers([], lease, 'x-member-own'), []);
});
