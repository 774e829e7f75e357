// Indexes a received packfile: every object's id, CRC-32 and offset, written as a version 2 `.idx`, the same bytes
// `git index-pack` writes for that pack. Why not isomorphic-git's `GitPackIndex.fromPack`: it inflates every object
// with pako on the calling thread and keeps copies of each, so a 50 MB blob costs several times that in memory and
// blocks the event loop for seconds (an agent's /healthz stalls); with 2,000 small files it was most of the Action's
// time between the fetch answer and its next request. Here small objects are inflated with Node's native zlib, one
// call each (`info: true` gives the compressed length, which the pack does not record), and a large one is hashed
// through a streaming inflate in chunks, off the main thread, so it is never held whole. Deltas are resolved with a
// bounded cache of bases; a delta's result is held in memory while it is hashed (Git stores large files whole, not
// as deltas, so those are small in practice).
//
// Formats: https://git-scm.com/docs/pack-format (pack v2, index v2).
import { createHash, type Hash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { crc32, createInflate } from 'node:zlib';
import {
  applyDelta,
  inflateAt,
  type ObjectHeader,
  type ObjectType,
  OFS_DELTA,
  type PackBytes,
  REF_DELTA,
  readObjectHeader,
  TYPES,
} from './pack-format.ts';

/** An object the pack's deltas may be based on, from outside the pack. */
export interface BaseObject {
  type: ObjectType;
  content: Uint8Array;
}

/** How to index. */
export interface IndexPackOptions {
  /** Objects outside the pack a REF_DELTA may name (a thin pack): undefined when the store lacks it too. */
  external?: (oid: string) => Promise<BaseObject | undefined>;
  /** Objects stored whole and larger than this are hashed through a streaming inflate, never held whole. */
  largeObjectBytes?: number;
  /** Bytes of resolved delta bases kept for reuse. */
  baseCacheBytes?: number;
  /**
   * Bytes of inflated objects and deltas kept from the walk through the pack for resolving deltas, so that each is
   * inflated once; and, when `keepObjects` is set, of resolved objects returned for a first read.
   */
  keepBytes?: number;
  /** Return the objects resolved while indexing (up to `keepBytes`), so a read right after needs no inflating. */
  keepObjects?: boolean;
}

/** The index of a pack and what it holds. */
export interface PackIndex {
  /** The `.idx` file's bytes (version 2). */
  idx: Buffer;
  /** Objects in the pack. */
  count: number;
  /** The pack's own checksum (hex), which names it: `pack-<sha>.pack`. */
  packSha: string;
  /** With `keepObjects`: objects by id, as resolved while indexing (small ones, up to the budget). */
  objects?: Map<string, BaseObject>;
}

/** The defaults: objects over 8 MiB are streamed; 32 MiB of delta bases are cached. */
export function defaultIndexPackOptions(): Required<Omit<IndexPackOptions, 'external'>> {
  return {
    largeObjectBytes: 8 * 1024 * 1024,
    baseCacheBytes: 32 * 1024 * 1024,
    keepBytes: 16 * 1024 * 1024,
    keepObjects: false,
  };
}

interface Entry extends ObjectHeader {
  offset: number;
  /** Offset just past the object's zlib stream. */
  end: number;
  crc: number;
  /** Known once hashed (at once for whole objects, after resolution for deltas). */
  oid?: Buffer;
  /** The same, in hex. */
  hex?: string;
  /** The resolved type (a delta takes its base's). */
  objectType?: ObjectType;
  /** The inflated data (object or delta) while kept from the walk. */
  data?: Buffer;
}

/** A base that is not in the pack and not yet to be looked up outside it. */
class Unresolved extends Error {}

/** Longest stretch of work between two turns of the event loop, so probes and timers keep running. */
const SLICE_MS = 20;
const STREAM_CHUNK = 256 * 1024;

/** Indexes the pack in `bytes`: checks its header, every object's size and its trailing checksum. */
export async function indexPack(bytes: PackBytes, options: IndexPackOptions = {}): Promise<PackIndex> {
  const o = { ...defaultIndexPackOptions(), ...options };
  if (bytes.length < 32) throw new Error(`the pack is truncated (${bytes.length} bytes)`);
  const head = Buffer.from(bytes.read(0, 12));
  if (head.toString('latin1', 0, 4) !== 'PACK') throw new Error('not a packfile (no PACK signature)');
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new Error(`unsupported pack version ${version}`);
  const count = head.readUInt32BE(8);
  const packHash = createHash('sha1').update(head);
  const trailerAt = bytes.length - 20;

  // Pass 1: walk the objects in order; hash the whole ones, note the deltas.
  const entries: Entry[] = [];
  const byOffset = new Map<number, number>();
  let pos = 12;
  let kept = 0;
  let slice = performance.now();
  for (let i = 0; i < count; i++) {
    if (pos >= trailerAt) throw new Error(`the pack is truncated: ${count} objects announced, ${i} found`);
    const h = readObjectHeader(bytes, pos);
    if (h.dataStart > trailerAt) throw new Error(`the pack is truncated inside object ${i}`);
    let end: number;
    let oid: Buffer | undefined;
    let data: Buffer | undefined;
    const whole = h.type !== OFS_DELTA && h.type !== REF_DELTA;
    const type = whole ? TYPES[h.type as 1 | 2 | 3 | 4] : undefined;
    if (whole && h.size > o.largeObjectBytes) {
      const hash = createHash('sha1').update(`${type} ${h.size}\0`);
      end = h.dataStart + (await inflateStreaming(bytes, h.dataStart, trailerAt, h.size, hash));
      oid = hash.digest();
    } else {
      const inflated = inflateAt(bytes, h.dataStart, h.size);
      data = inflated.data;
      end = h.dataStart + inflated.consumed;
      if (whole) oid = objectId(type!, data);
    }
    const crc = crcOf(bytes, pos, end, packHash);
    const entry: Entry = { ...h, offset: pos, end, crc };
    if (data && kept + data.length <= o.keepBytes) {
      entry.data = data;
      kept += data.length;
    }
    if (oid) {
      entry.oid = oid;
      entry.hex = oid.toString('hex');
      entry.objectType = type!;
    }
    byOffset.set(pos, entries.length);
    entries.push(entry);
    pos = end;
    if (performance.now() - slice > SLICE_MS) {
      await nextTurn();
      slice = performance.now();
    }
  }
  if (pos !== trailerAt) throw new Error(`the pack has ${trailerAt - pos} unexpected bytes after its last object`);
  const trailer = Buffer.from(bytes.read(trailerAt, 20));
  if (!packHash.digest().equals(trailer)) throw new Error('the pack does not match its checksum (corrupt)');

  // Pass 2: resolve deltas. Bases are found by offset (OFS) or id (REF); a REF base may itself be a delta resolved
  // in a later round, and only when no round makes progress are the remaining bases looked up outside the pack.
  const byOid = new Map<string, number>();
  for (const [i, e] of entries.entries()) if (e.hex) byOid.set(e.hex, i);
  const baseOffsets = new Set<number>();
  const baseOids = new Set<string>();
  for (const e of entries) {
    if (e.baseOffset !== undefined) baseOffsets.add(e.baseOffset);
    if (e.baseOid !== undefined) baseOids.add(e.baseOid);
  }
  const cache = new BaseCache(o.baseCacheBytes);
  let useExternal = false;
  const resolve = async (i: number): Promise<BaseObject> => {
    const e = entries[i]!;
    const cached = cache.get(e.offset);
    if (cached) return cached;
    // Data kept for an object already hashed is its content (a delta's is replaced by its result once resolved).
    if (e.hex && e.data) return { type: e.objectType!, content: e.data };
    const raw = e.data ?? inflateAt(bytes, e.dataStart, e.size).data;
    let obj: BaseObject;
    if (e.type !== OFS_DELTA && e.type !== REF_DELTA) obj = { type: e.objectType!, content: raw };
    else {
      let base: BaseObject | undefined;
      if (e.baseOffset !== undefined) {
        const at = byOffset.get(e.baseOffset);
        if (at === undefined) throw new Error(`the delta at offset ${e.offset} names no object as its base`);
        base = await resolve(at);
      } else {
        const at = byOid.get(e.baseOid!);
        if (at !== undefined) base = await resolve(at);
        else if (!useExternal) throw new Unresolved();
        else base = await o.external?.(e.baseOid!);
        if (!base)
          throw new Error(
            `the delta at offset ${e.offset} is based on ${e.baseOid}, which is neither in the pack nor the store`,
          );
      }
      obj = { type: base.type, content: applyDelta(raw, base.content) };
    }
    if (baseOffsets.has(e.offset) || (e.hex && baseOids.has(e.hex))) cache.put(e.offset, obj);
    return obj;
  };
  let pending = entries.flatMap((e, i) => (e.hex ? [] : [i]));
  while (pending.length > 0) {
    const next: number[] = [];
    for (const i of pending) {
      const e = entries[i]!;
      try {
        const obj = await resolve(i);
        e.oid = objectId(obj.type, obj.content);
        e.hex = e.oid.toString('hex');
        e.objectType = obj.type;
        // The delta is done with; its result is what a first read wants.
        if (e.data) {
          kept -= e.data.length;
          e.data = undefined;
        }
        if (o.keepObjects && kept + obj.content.length <= o.keepBytes) {
          e.data = obj.content as Buffer;
          kept += obj.content.length;
        }
        byOid.set(e.hex, i);
        if (baseOids.has(e.hex)) cache.put(e.offset, obj);
      } catch (err) {
        if (!(err instanceof Unresolved)) throw err;
        next.push(i);
      }
      if (performance.now() - slice > SLICE_MS) {
        await nextTurn();
        slice = performance.now();
      }
    }
    if (next.length === pending.length) {
      if (useExternal) throw new Error(`${next.length} deltas have a base that is neither in the pack nor the store`);
      useExternal = true;
    }
    pending = next;
  }
  const result: PackIndex = { idx: writeIdx(entries, trailer), count, packSha: trailer.toString('hex') };
  if (o.keepObjects) {
    result.objects = new Map();
    for (const e of entries) if (e.data) result.objects.set(e.hex!, { type: e.objectType!, content: e.data });
  }
  return result;
}

/** Git's object id: SHA-1 of `<type> <size>\0` and the content. */
function objectId(type: ObjectType, content: Uint8Array): Buffer {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest();
}

/** Inflates the stream at `start` in chunks into `hash`; returns the compressed length. */
async function inflateStreaming(
  bytes: PackBytes,
  start: number,
  limit: number,
  size: number,
  hash: Hash,
): Promise<number> {
  const inflate = createInflate();
  let produced = 0;
  let ended = false;
  const done = new Promise<void>((resolve, reject) => {
    inflate.on('data', (chunk: Buffer) => {
      produced += chunk.length;
      hash.update(chunk);
    });
    inflate.once('end', () => {
      ended = true;
      resolve();
    });
    inflate.once('error', (err: Error & { code?: string }) => {
      ended = true;
      reject(new Error(`the object at offset ${start} does not inflate (${err.code ?? err.message})`));
    });
  });
  const feed = async () => {
    let at = start;
    while (!ended && at < limit) {
      // A copy: the reader's window is reused, and zlib may still hold the chunk.
      const chunk = Buffer.from(bytes.read(at, Math.min(STREAM_CHUNK, limit - at)));
      at += chunk.length;
      if (!inflate.write(chunk)) {
        await new Promise<void>((r) => {
          const go = () => {
            inflate.off('drain', go);
            inflate.off('end', go);
            inflate.off('error', go);
            r();
          };
          inflate.on('drain', go);
          inflate.on('end', go);
          inflate.on('error', go);
        });
      }
    }
    if (!ended) inflate.end();
  };
  await Promise.all([feed(), done]);
  if (produced !== size) throw new Error(`the object at offset ${start} inflates to ${produced} bytes, not ${size}`);
  return inflate.bytesWritten;
}

/** CRC-32 of an object's bytes in the pack (header and compressed data); they also go into the pack's checksum. */
function crcOf(bytes: PackBytes, from: number, to: number, packHash: Hash): number {
  let crc = 0;
  for (let at = from; at < to; ) {
    const chunk = bytes.read(at, Math.min(STREAM_CHUNK * 4, to - at));
    crc = crc32(chunk, crc);
    packHash.update(chunk);
    at += chunk.length;
  }
  return crc;
}

/** Resolved bases by offset, the oldest dropped first once over the byte budget. */
class BaseCache {
  private readonly items = new Map<number, BaseObject>();
  private bytes = 0;
  constructor(private readonly budget: number) {}
  get(offset: number): BaseObject | undefined {
    const v = this.items.get(offset);
    if (v) {
      this.items.delete(offset);
      this.items.set(offset, v);
    }
    return v;
  }
  put(offset: number, obj: BaseObject): void {
    if (this.items.has(offset) || obj.content.length > this.budget) return;
    this.items.set(offset, obj);
    this.bytes += obj.content.length;
    for (const [k, v] of this.items) {
      if (this.bytes <= this.budget) break;
      this.items.delete(k);
      this.bytes -= v.content.length;
    }
  }
}

/** A version 2 pack index: fan-out, sorted ids, CRC-32s, offsets (64-bit ones apart), pack and index checksums. */
function writeIdx(entries: Entry[], packSum: Buffer): Buffer {
  // Hex strings sort as the bytes they spell, and compare without a call into C++.
  const sorted = [...entries].sort((a, b) => (a.hex! < b.hex! ? -1 : a.hex! > b.hex! ? 1 : 0));
  const n = sorted.length;
  const large = sorted.filter((e) => e.offset >= 0x80000000).length;
  const out = Buffer.alloc(8 + 1024 + n * 28 + large * 8 + 40);
  out.writeUInt32BE(0xff744f63, 0);
  out.writeUInt32BE(2, 4);
  const fanout = new Uint32Array(256);
  for (const e of sorted) fanout[e.oid![0]!]!++;
  let total = 0;
  for (let b = 0; b < 256; b++) {
    total += fanout[b]!;
    out.writeUInt32BE(total, 8 + b * 4);
  }
  const names = 8 + 1024;
  const crcs = names + n * 20;
  const offsets = crcs + n * 4;
  const larges = offsets + n * 4;
  let li = 0;
  for (const [i, e] of sorted.entries()) {
    e.oid!.copy(out, names + i * 20);
    out.writeUInt32BE(e.crc >>> 0, crcs + i * 4);
    if (e.offset < 0x80000000) out.writeUInt32BE(e.offset, offsets + i * 4);
    else {
      out.writeUInt32BE((0x80000000 | li) >>> 0, offsets + i * 4);
      out.writeUInt32BE(Math.floor(e.offset / 2 ** 32), larges + li * 8);
      out.writeUInt32BE(e.offset >>> 0, larges + li * 8 + 4);
      li++;
    }
  }
  const sums = larges + large * 8;
  packSum.copy(out, sums);
  createHash('sha1')
    .update(out.subarray(0, sums + 20))
    .digest()
    .copy(out, sums + 20);
  return out;
}
