// Reads objects straight out of the packfiles of a bare store, for the one hot path: many blobs of one fetched
// commit. Why by hand, next to isomorphic-git: isomorphic-git inflates every packed object with pako, building a
// fresh inflate state (64 KiB window and buffers) per object; for 1,000 small blobs that was most of the ~1.6 s a
// read took, much of it in the garbage collector. Node's native zlib does the same work in a fraction of that (the
// figures before and after are in the commit that added this file and in bench/git-read.bench.ts). Anything this
// reader does not hold (loose objects, bases in another pack) is left to isomorphic-git, which stays the reader of
// record for everything else.
//
// A pack up to 32 MiB is read into memory whole and checked against its index's checksum; a larger one is read a
// range at a time from the file (pack-format.ts), so a store holding a 50 MB blob does not cost 50 MB to open, and
// only its trailer is compared with the index (the pack was checked in full when it was received, pack-index.ts).
// `readWithin` answers an object's size from its pack entry's header (or its delta's) before inflating it, so a reader
// refuses a file over its limit without reading it; `sizeOf` gives that size alone.
//
// Formats: https://git-scm.com/docs/pack-format (pack v2, index v2).
import { createHash } from 'node:crypto';
import type { PromiseFsClient } from 'isomorphic-git';
import {
  applyDelta,
  IN_MEMORY_PACK_BYTES,
  inflateAt,
  inflatePrefix,
  OFS_DELTA,
  PackBytes,
  REF_DELTA,
  readDeltaSize,
  readObjectHeader,
  TYPES,
} from './pack-format.ts';

/** A packed object: its type and its content. */
export interface PackedObject {
  type: 'commit' | 'tree' | 'blob' | 'tag';
  content: Uint8Array;
}

/** Delta bases kept for reuse, by total size: a chain of deltas over one base is then inflated once. */
const BASE_CACHE_BYTES = 16 * 1024 * 1024;

interface Pack {
  name: string;
  idx: Buffer;
  pack: PackBytes;
  count: number;
}

/**
 * A pack this process has just indexed (pack-receiver.ts): `indexPack` hashed every byte of it against its trailer
 * and wrote `idx` from it, so reading and hashing the file again after the fetch would check nothing new.
 */
export interface VerifiedPack {
  /** Its index file's name in `objects/pack`, e.g. `pack-<sha>.idx`. */
  name: string;
  idx: Buffer;
  pack: PackBytes;
}

/** The packfiles of a store, checked against their index's checksum. */
export class PackReader {
  private readonly bases = new Map<string, PackedObject>();
  private baseBytes = 0;
  private preloaded: ReadonlyMap<string, PackedObject> | undefined;

  private constructor(private readonly packs: Pack[]) {}

  /**
   * Opens every `objects/pack/*.pack` with its index; throws if a pack does not match its index. Packs found on disk
   * are checked (a previous run may have left one truncated or damaged); the `verified` ones are taken as they are.
   */
  static async open(fs: PromiseFsClient, gitdir: string, verified: readonly VerifiedPack[] = []): Promise<PackReader> {
    const dir = `${gitdir}/objects/pack`;
    const names = ((await fs.promises.readdir(dir).catch(() => [])) as string[]).filter((n) => n.endsWith('.idx'));
    const packs: Pack[] = [];
    for (const name of names.sort()) {
      const known = verified.find((v) => v.name === name);
      if (known) {
        packs.push({ name, idx: known.idx, pack: known.pack, count: known.idx.readUInt32BE(8 + 255 * 4) });
        continue;
      }
      const idx = Buffer.from((await fs.promises.readFile(`${dir}/${name}`)) as Uint8Array);
      const packPath = `${dir}/${name.replace(/\.idx$/, '.pack')}`;
      if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) {
        throw new Error(`${name}: not a version 2 pack index`);
      }
      const count = idx.readUInt32BE(8 + 255 * 4);
      const packSum = idx.subarray(idx.length - 40, idx.length - 20);
      const { size } = (await fs.promises.stat(packPath)) as { size: number };
      let pack: PackBytes;
      if (size <= IN_MEMORY_PACK_BYTES) {
        const whole = Buffer.from((await fs.promises.readFile(packPath)) as Uint8Array);
        const actual = createHash('sha1')
          .update(whole.subarray(0, whole.length - 20))
          .digest();
        if (!actual.equals(packSum) || !whole.subarray(whole.length - 20).equals(packSum)) {
          throw new Error(`${name}: the packfile does not match its index (corrupt or truncated)`);
        }
        pack = PackBytes.fromBuffer(whole);
      } else {
        pack = PackBytes.openFile(packPath);
        if (!pack.read(pack.length - 20, 20).equals(packSum)) {
          throw new Error(`${name}: the packfile does not match its index (corrupt or truncated)`);
        }
      }
      packs.push({ name, idx, pack, count });
    }
    return new PackReader(packs);
  }

  /** The object `oid`, or undefined when no pack holds it (or its delta base lies outside the packs). */
  read(oid: string): PackedObject | undefined {
    const r = this.readWithin(oid, Number.POSITIVE_INFINITY);
    return typeof r === 'number' ? undefined : r;
  }

  /**
   * The object `oid` when it is at most `maxBytes`, else its size (known from its entry's header, or a delta's,
   * before the object is built); undefined when no pack holds it.
   */
  readWithin(oid: string, maxBytes: number): PackedObject | number | undefined {
    const pre = this.preloaded?.get(oid);
    if (pre) return pre.content.length > maxBytes ? pre.content.length : pre;
    const found = this.find(oid);
    return found && this.readAt(found.pack, found.offset, maxBytes);
  }

  /**
   * Objects already inflated (by the indexer of the fetch that brought them), served before the packs until
   * `dropPreloaded()`: the read right after a fetch then inflates nothing twice.
   */
  preload(objects: ReadonlyMap<string, PackedObject>): void {
    this.preloaded = objects;
  }

  /** Forgets the preloaded objects (they are only worth their memory for the first read). */
  dropPreloaded(): void {
    this.preloaded = undefined;
  }

  /**
   * The size of object `oid` in bytes, read from its pack entry without inflating it (a delta's result size leads
   * the delta); undefined when no pack holds it.
   */
  sizeOf(oid: string): number | undefined {
    const found = this.find(oid);
    if (!found) return undefined;
    const h = readObjectHeader(found.pack.pack, found.offset);
    if (h.type !== OFS_DELTA && h.type !== REF_DELTA) return h.size;
    const prefix = inflatePrefix(found.pack.pack, h.dataStart);
    try {
      const [, afterBase] = readDeltaSize(prefix, 0);
      return readDeltaSize(prefix, afterBase)[0];
    } catch {
      // The first compressed bytes did not give both sizes: inflate the delta itself (deltas are small).
      const delta = inflateAt(found.pack.pack, h.dataStart, h.size).data;
      const [, afterBase] = readDeltaSize(delta, 0);
      return readDeltaSize(delta, afterBase)[0];
    }
  }

  private find(oid: string): { pack: Pack; offset: number } | undefined {
    const key = Buffer.from(oid, 'hex');
    if (key.length !== 20) return undefined;
    for (const p of this.packs) {
      const offset = findOffset(p, key);
      if (offset !== undefined) return { pack: p, offset };
    }
    return undefined;
  }

  private readAt(p: Pack, offset: number, maxBytes = Number.POSITIVE_INFINITY): PackedObject | number | undefined {
    const cacheKey = `${p.name}:${offset}`;
    const cached = this.bases.get(cacheKey);
    if (cached) return cached.content.length > maxBytes ? cached.content.length : cached;
    const h = readObjectHeader(p.pack, offset);
    const delta = h.type === OFS_DELTA || h.type === REF_DELTA;
    if (!delta && h.size > maxBytes) return h.size;
    let data: Buffer;
    try {
      data = inflateAt(p.pack, h.dataStart, h.size).data;
    } catch (err) {
      throw new Error(`${p.name}: ${(err as Error).message}`, { cause: err });
    }
    if (!delta) return { type: TYPES[h.type as 1 | 2 | 3 | 4], content: data };
    // A delta leads with its base's size and its result's: an oversized result is known before the base is read.
    const target = readDeltaSize(data, readDeltaSize(data, 0)[1])[0];
    if (target > maxBytes) return target;
    let base: PackedObject | undefined;
    if (h.baseOffset !== undefined) {
      const r = this.readAt(p, h.baseOffset);
      base = typeof r === 'number' ? undefined : r;
      if (base) this.keepBase(`${p.name}:${h.baseOffset}`, base);
    } else if (h.baseOid !== undefined) {
      base = this.read(h.baseOid);
    }
    return base && { type: base.type, content: applyDelta(data, base.content) };
  }

  /** Remembers a delta base: several deltas often share one, and chains run through each other. */
  private keepBase(key: string, object: PackedObject): void {
    if (this.baseBytes + object.content.length > BASE_CACHE_BYTES) {
      this.bases.clear();
      this.baseBytes = 0;
    }
    this.bases.set(key, object);
    this.baseBytes += object.content.length;
  }
}

/** Binary search of the index's sorted object names, narrowed by its fan-out table. */
function findOffset(p: Pack, key: Buffer): number | undefined {
  const { idx, count } = p;
  const first = key[0]!;
  let lo = first === 0 ? 0 : idx.readUInt32BE(8 + (first - 1) * 4);
  let hi = idx.readUInt32BE(8 + first * 4);
  const names = 8 + 256 * 4;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cmp = idx.compare(key, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (cmp === 0) {
      const offsets = names + count * 24;
      const small = idx.readUInt32BE(offsets + mid * 4);
      if (!(small & 0x80000000)) return small;
      const large = offsets + count * 4 + (small & 0x7fffffff) * 8;
      return idx.readUInt32BE(large) * 2 ** 32 + idx.readUInt32BE(large + 4);
    }
    // `compare` orders the index's name against the key: positive means the name sorts after it.
    if (cmp > 0) hi = mid;
    else lo = mid + 1;
  }
  return undefined;
}
