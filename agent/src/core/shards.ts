// Sharding apps across agent replicas: which shard an app is in, how many shards each replica should hold, and
// which shards a replica takes or lets go of in one round. Pure: the leases themselves live in
// reconcile/shard-leases.ts.
import { createHash } from 'node:crypto';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** The 64-bit FNV-1a hash of a string's UTF-8 bytes: stable across processes, versions and platforms. */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * FNV_PRIME) & MASK64;
  }
  return h;
}

/**
 * Jump consistent hash (Lamping and Veach's algorithm): maps a 64-bit key to one of `buckets`
 * buckets evenly, and when the number of buckets grows from n to n+1 only 1/(n+1) of the keys move (all to the new
 * bucket). No table to keep in step between replicas: every replica computes the same answer.
 */
export function jumpHash(key: bigint, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`buckets must be a positive integer: ${buckets}`);
  let k = key & MASK64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
}

/**
 * MurmurHash3's 64-bit finalizer: FNV-1a alone barely changes its high bits between names that differ in their
 * last character (`app-1`, `app-2`), and those are the bits jump hash reads first.
 */
export function fmix64(key: bigint): bigint {
  let k = key & MASK64;
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

/**
 * A label value naming `text` (a lease prefix, an object's name): itself when it fits a label value (63
 * characters), else `h-` and a hash of it.
 */
export function labelValueOf(text: string): string {
  return text.length <= 63 ? text : `h-${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;
}

/** The shard (0 … shards-1) an app (or an app source, by its name) belongs to. */
export function shardOf(name: string, shards: number): number {
  return jumpHash(fmix64(fnv1a64(name)), shards);
}

/** How many shards one replica should hold: ceil(shards / live replicas), all of them when it is alone. */
export function fairShare(shards: number, replicas: number): number {
  return Math.ceil(shards / Math.max(1, replicas));
}

/** One shard as a replica sees it in one round. */
export interface ShardObservation {
  shard: number;
  /** Held by this replica (renewed in time). */
  mine: boolean;
  /** Nobody holds it: never taken, released, or not renewed for longer than its lease (as observed here). */
  free: boolean;
}

/** What a replica does with the shards in one round. */
export interface ShardMoves {
  /** Free shards to take, in this order. */
  acquire: number[];
  /** Held shards beyond the fair share, to let go of (after their work has stopped). */
  release: number[];
}

/**
 * One round of a replica: keep up to its fair share of the shards it holds, take free shards up to that share, and
 * let go of any it holds beyond it so a replica that joined gets its share. Each replica prefers the shards that
 * rank first for it (rendezvous ordering by identity), so replicas reach for different free shards instead of all
 * racing for shard 0, and a replica keeps the same shards across rounds.
 */
export function planShardMoves(identity: string, observed: readonly ShardObservation[], replicas: number): ShardMoves {
  const share = fairShare(observed.length, replicas);
  const rank = (s: number) => fmix64(fnv1a64(`${identity}#${s}`));
  const byPreference = (a: ShardObservation, b: ShardObservation) => {
    const ra = rank(a.shard);
    const rb = rank(b.shard);
    return ra < rb ? -1 : ra > rb ? 1 : a.shard - b.shard;
  };
  const mine = observed.filter((o) => o.mine).sort(byPreference);
  const free = observed.filter((o) => o.free && !o.mine).sort(byPreference);
  const release = mine.slice(share).map((o) => o.shard);
  const room = Math.max(0, share - mine.length);
  return { acquire: free.slice(0, room).map((o) => o.shard), release };
}

/**
 * How many lease durations a replica's membership Lease may go unrenewed (as observed by a live replica) before the
 * live replicas delete it: long enough that a replica held up by a slow apiserver or a paused node is not removed
 * under itself, short enough that replicas that died (a Deployment's pods get new names) do not pile up.
 */
export const STALE_MEMBER_DURATIONS = 5;

/** Another replica's membership Lease as this replica sees it in one round. */
export interface MemberObservation {
  /** The Lease's name. */
  name: string;
  /** How long it has gone unchanged (holder and renew time) as observed here, not by any clock in the Lease. */
  unchangedMs: number;
}

/**
 * The membership Leases to delete: those unchanged for more than STALE_MEMBER_DURATIONS lease durations, never the
 * replica's own. The deletion is made at the resourceVersion read, so a replica that renewed meanwhile keeps it.
 */
export function staleMembers(
  observed: readonly MemberObservation[],
  leaseDurationMs: number,
  ownName: string,
): string[] {
  const limit = STALE_MEMBER_DURATIONS * leaseDurationMs;
  return observed.filter((m) => m.name !== ownName && m.unchangedMs > limit).map((m) => m.name);
}
