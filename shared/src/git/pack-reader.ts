// Reads objects straight out of the packfiles of a bare store, for the one hot path: many blobs of one fetched
// commit. Why by hand, next to isomorphic-git: isomorphic-git inflates every packed object with pako, building a
// fresh inflate state (64 KiB window and buffers) per object; for 1,000 small blobs that was most of the ~1.6 s a
// read took, much of it in the garbage collector. Node's native zlib does the same work in a fraction of that (the
// figures before and after are in the commit that added this file and in bench/git-read.bench.ts). Anything this
// reader does not hold (loose objects, bases in another pack) is left to isomorphic-git, which stays the reader of
// record for everything else.
//
// Formats: https://git-scm.com/docs/pack-format (pack v2, index v2).
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import type { PromiseFsClient } from 'isomorphic-git';

/** A packed object: its type and its content. */
export interface PackedObject {
  type: 'commit' | 'tree' | 'blob' | 'tag';
  content: Uint8Array;
}

const TYPES = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' } as const;
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Delta bases kept for reuse, by total size: a chain of deltas over one base is then inflated once. */
const BASE_CACHE_BYTES = 16 * 1024 * 1024;

interface Pack {
  name: string;
  idx: Buffer;
  pack: Buffer;
  count: number;
}

/** The packfiles of a store, read once into memory and checked against their index's checksum. */
export class PackReader {
  private readonly bases = new Map<string, PackedObject>();
  private baseBytes = 0;

  private constructor(private readonly packs: Pack[]) {}

  /** Loads every `objects/pack/*.pack` with its index; throws if a pack does not match its index. */
  static async open(fs: PromiseFsClient, gitdir: string): Promise<PackReader> {
    const dir = `${gitdir}/objects/pack`;
    const names = ((await fs.promises.readdir(dir).catch(() => [])) as string[]).filter((n) => n.endsWith('.idx'));
    const packs: Pack[] = [];
    for (const name of names.sort()) {
      const idx = Buffer.from((await fs.promises.readFile(`${dir}/${name}`)) as Uint8Array);
      const pack = Buffer.from((await fs.promises.readFile(`${dir}/${name.replace(/\.idx$/, '.pack')}`)) as Uint8Array);
      if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) {
        throw new Error(`${name}: not a version 2 pack index`);
      }
      const count = idx.readUInt32BE(8 + 255 * 4);
      const packSum = idx.subarray(idx.length - 40, idx.length - 20);
      const actual = createHash('sha1')
        .update(pack.subarray(0, pack.length - 20))
        .digest();
      if (!actual.equals(packSum) || !pack.subarray(pack.length - 20).equals(packSum)) {
        throw new Error(`${name}: the packfile does not match its index (corrupt or truncated)`);
      }
      packs.push({ name, idx, pack, count });
    }
    return new PackReader(packs);
  }

  /** The object `oid`, or undefined when no pack holds it (or its delta base lies outside the packs). */
  read(oid: string): PackedObject | undefined {
    const key = Buffer.from(oid, 'hex');
    if (key.length !== 20) return undefined;
    for (const p of this.packs) {
      const offset = findOffset(p, key);
      if (offset !== undefined) return this.readAt(p, offset);
    }
    return undefined;
  }

  private readAt(p: Pack, offset: number): PackedObject | undefined {
    const cacheKey = `${p.name}:${offset}`;
    const cached = this.bases.get(cacheKey);
    if (cached) return cached;
    const buf = p.pack;
    let pos = offset;
    let c = buf[pos++]!;
    const type = (c >> 4) & 7;
    let size = c & 15;
    for (let shift = 4; c & 0x80; shift += 7) {
      c = buf[pos++]!;
      size += (c & 0x7f) * 2 ** shift;
    }
    let base: PackedObject | undefined;
    if (type === OFS_DELTA) {
      c = buf[pos++]!;
      let back = c & 0x7f;
      while (c & 0x80) {
        c = buf[pos++]!;
        back = (back + 1) * 128 + (c & 0x7f);
      }
      base = this.readAt(p, offset - back);
      if (base) this.keepBase(`${p.name}:${offset - back}`, base);
    } else if (type === REF_DELTA) {
      base = this.read(buf.subarray(pos, pos + 20).toString('hex'));
      pos += 20;
    } else if (!(type in TYPES)) {
      throw new Error(`${p.name}: unknown object type ${type} at offset ${offset}`);
    }
    if ((type === OFS_DELTA || type === REF_DELTA) && !base) return undefined;
    // zlib stops at the end of the object's stream; what follows in the pack is ignored.
    const data = inflateSync(buf.subarray(pos));
    if (data.length !== size) throw new Error(`${p.name}: object at offset ${offset} inflates to the wrong size`);
    const result: PackedObject = base
      ? { type: base.type, content: applyDelta(data, base.content) }
      : { type: TYPES[type as 1 | 2 | 3 | 4], content: data };
    return result;
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

function readSize(delta: Uint8Array, start: number): [number, number] {
  let pos = start;
  let size = 0;
  let c: number;
  let shift = 0;
  do {
    c = delta[pos++]!;
    size += (c & 0x7f) * 2 ** shift;
    shift += 7;
  } while (c & 0x80);
  return [size, pos];
}

/** Rebuilds an object from its base and a git delta (copy and insert instructions). */
function applyDelta(delta: Uint8Array, base: Uint8Array): Uint8Array {
  const [baseSize, afterBase] = readSize(delta, 0);
  if (baseSize !== base.length) throw new Error('delta does not apply to its base (size differs)');
  const [targetSize, afterTarget] = readSize(delta, afterBase);
  let pos = afterTarget;
  const out = new Uint8Array(targetSize);
  let at = 0;
  while (pos < delta.length) {
    const op = delta[pos++]!;
    if (op & 0x80) {
      let offset = 0;
      let size = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) offset += delta[pos++]! * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (op & (0x10 << i)) size += delta[pos++]! * 2 ** (8 * i);
      if (size === 0) size = 0x10000;
      out.set(base.subarray(offset, offset + size), at);
      at += size;
    } else if (op > 0) {
      out.set(delta.subarray(pos, pos + op), at);
      at += op;
      pos += op;
    } else {
      throw new Error('delta has a zero instruction');
    }
  }
  if (at !== targetSize) throw new Error('delta produced the wrong size');
  return out;
}
