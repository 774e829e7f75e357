// The parts of Git's pack format that both the indexer (pack-index.ts) and the reader (pack-reader.ts) need: random
// access to a packfile's bytes, an object's header, and applying a delta.
//
// Format: https://git-scm.com/docs/pack-format (pack v2).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { constants, inflateSync } from 'node:zlib';

/** An object type as Git names it. */
export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

/** Pack object types 1-4 (6 and 7 are deltas). */
export const TYPES = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' } as const;
/** A delta against an earlier object of the same pack, named by its distance back. */
export const OFS_DELTA = 6;
/** A delta against an object named by its id. */
export const REF_DELTA = 7;

/** Packs up to this size are read into memory whole; larger ones are read a range at a time from the file. */
export const IN_MEMORY_PACK_BYTES = 32 * 1024 * 1024;
const WINDOW_BYTES = 1024 * 1024;
/** The largest output chunk an inflate allocates up front, whatever size a (possibly lying) header claims. */
const CHUNK_CAP = 8 * 1024 * 1024;

/**
 * Random access to a packfile's bytes: the whole file in memory when it is small (one read, then slices), otherwise
 * ranges read from the file through a 1 MiB window, so a pack holding a 50 MB blob costs a window, not 50 MB. The
 * file is opened per window read and closed again: nothing is left open for whoever holds a reader.
 */
export class PackBytes {
  private window: Buffer = Buffer.alloc(0);
  private windowAt = 0;

  private constructor(
    /** Bytes in the pack, its 20-byte trailer included. */
    readonly length: number,
    private readonly whole: Buffer | undefined,
    private readonly path: string | undefined,
  ) {}

  /** Bytes already in memory. */
  static fromBuffer(buf: Buffer): PackBytes {
    return new PackBytes(buf.length, buf, undefined);
  }

  /** A packfile on disk: read whole when at most `inMemoryBytes`, else read a range at a time. */
  static openFile(path: string, inMemoryBytes = IN_MEMORY_PACK_BYTES): PackBytes {
    const size = statSync(path).size;
    if (size > inMemoryBytes) return new PackBytes(size, undefined, path);
    return new PackBytes(size, readRange(path, 0, size), undefined);
  }

  /** Whether the whole pack is in memory. */
  get inMemory(): boolean {
    return this.whole !== undefined;
  }

  /**
   * `len` bytes from `pos` (fewer at the end of the pack): a slice of the pack in memory or of the current window.
   * A window is never written to again, so a slice stays valid.
   */
  read(pos: number, len: number): Buffer {
    const end = Math.min(pos + len, this.length);
    if (this.whole) return this.whole.subarray(pos, end);
    if (pos >= this.windowAt && end <= this.windowAt + this.window.length) {
      return this.window.subarray(pos - this.windowAt, end - this.windowAt);
    }
    this.window = readRange(this.path!, pos, Math.max(end - pos, Math.min(WINDOW_BYTES, this.length - pos)));
    this.windowAt = pos;
    return this.window.subarray(0, Math.min(end - pos, this.window.length));
  }
}

function readRange(path: string, pos: number, size: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Inflates the zlib stream at `start` that should give `size` bytes; returns it and the compressed length. A pack
 * does not record compressed lengths; zlib stops at the stream's end and says how much it read. Deflate grows
 * incompressible data by at most 5 bytes per 16 KiB block, so a window of the size and a little more holds the
 * stream; a larger one is tried if not.
 */
export function inflateAt(bytes: PackBytes, start: number, size: number): { data: Buffer; consumed: number } {
  const limit = bytes.length - 20;
  let want = size + (size >> 10) + 64;
  for (;;) {
    const window = bytes.read(start, Math.min(want, limit - start));
    try {
      // An output chunk the size of the object: one allocation, where the default 16 KiB chunk is mostly garbage.
      const r = inflateSync(window, {
        info: true,
        chunkSize: Math.min(Math.max(64, size + 64), CHUNK_CAP),
      }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
      if (r.buffer.length !== size) {
        throw new Error(`the object at offset ${start} inflates to ${r.buffer.length} bytes, not ${size}`);
      }
      return { data: r.buffer, consumed: r.engine.bytesWritten };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'Z_BUF_ERROR' || start + want >= limit) {
        if (code) throw new Error(`the object at offset ${start} does not inflate (${code}): corrupt or truncated`);
        throw err;
      }
      want *= 4;
    }
  }
}

/** The first bytes a zlib stream inflates to, without inflating the rest (a delta's sizes lead it). */
export function inflatePrefix(bytes: PackBytes, start: number, compressed = 64): Buffer {
  return inflateSync(bytes.read(start, compressed), { finishFlush: constants.Z_SYNC_FLUSH });
}

/** An object's entry header in a pack: type, size of what follows once inflated, and where its data starts. */
export interface ObjectHeader {
  /** 1-4, or OFS_DELTA / REF_DELTA. */
  type: number;
  /** Inflated size of the data that follows: the object itself, or for a delta, the delta. */
  size: number;
  /** Offset of the zlib stream. */
  dataStart: number;
  /** OFS_DELTA: the base's offset in the pack. */
  baseOffset?: number;
  /** REF_DELTA: the base's object id (hex). */
  baseOid?: string;
}

/** Parses the header of the object at `offset`; throws when it runs past the pack. */
export function readObjectHeader(bytes: PackBytes, offset: number): ObjectHeader {
  // A header is at most ~10 size bytes, ~10 offset bytes or a 20-byte id.
  const buf = bytes.read(offset, 48);
  let pos = 0;
  const next = () => {
    if (pos >= buf.length) throw new Error(`the object header at offset ${offset} runs past the end of the pack`);
    return buf[pos++]!;
  };
  let c = next();
  const type = (c >> 4) & 7;
  let size = c & 15;
  for (let shift = 4; c & 0x80; shift += 7) {
    c = next();
    size += (c & 0x7f) * 2 ** shift;
  }
  if (type === OFS_DELTA) {
    c = next();
    let back = c & 0x7f;
    while (c & 0x80) {
      c = next();
      back = (back + 1) * 128 + (c & 0x7f);
    }
    if (back <= 0 || back > offset) throw new Error(`the delta at offset ${offset} points outside the pack`);
    return { type, size, dataStart: offset + pos, baseOffset: offset - back };
  }
  if (type === REF_DELTA) {
    if (pos + 20 > buf.length) throw new Error(`the object header at offset ${offset} runs past the end of the pack`);
    return { type, size, dataStart: offset + pos + 20, baseOid: buf.subarray(pos, pos + 20).toString('hex') };
  }
  if (!(type in TYPES)) throw new Error(`unknown object type ${type} at offset ${offset}`);
  return { type, size, dataStart: offset + pos };
}

/** A delta's leading varint sizes (base size, then result size), read from the start of the inflated delta. */
export function readDeltaSize(delta: Uint8Array, start: number): [size: number, next: number] {
  let pos = start;
  let size = 0;
  let c: number;
  let shift = 0;
  do {
    if (pos >= delta.length) throw new Error('the delta ends inside its header');
    c = delta[pos++]!;
    size += (c & 0x7f) * 2 ** shift;
    shift += 7;
  } while (c & 0x80);
  return [size, pos];
}

/** Rebuilds an object from its base and a git delta (copy and insert instructions). */
export function applyDelta(delta: Uint8Array, base: Uint8Array): Buffer {
  const [baseSize, afterBase] = readDeltaSize(delta, 0);
  if (baseSize !== base.length) throw new Error('delta does not apply to its base (size differs)');
  const [targetSize, afterTarget] = readDeltaSize(delta, afterBase);
  let pos = afterTarget;
  const out = Buffer.allocUnsafe(targetSize);
  let at = 0;
  while (pos < delta.length) {
    const op = delta[pos++]!;
    if (op & 0x80) {
      let offset = 0;
      let size = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) offset += delta[pos++]! * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (op & (0x10 << i)) size += delta[pos++]! * 2 ** (8 * i);
      if (size === 0) size = 0x10000;
      if (offset + size > base.length || at + size > targetSize) throw new Error('delta copies past its bounds');
      out.set(base.subarray(offset, offset + size), at);
      at += size;
    } else if (op > 0) {
      if (pos + op > delta.length || at + op > targetSize) throw new Error('delta inserts past its bounds');
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
