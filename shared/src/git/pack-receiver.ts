// Takes the packfile out of a fetch's answer as it arrives, indexes it (pack-index.ts) and stores it, and hands
// isomorphic-git the same answer with an empty pack in its place.
//
// Why here, inside the HTTP client isomorphic-git is given, rather than a fetch of our own: isomorphic-git's fetch
// does the negotiation we rely on (wants, `have`s of what the store holds, shallow lines and deepen, side-band-64k,
// credentials and their refusal) and then writes the shallow file and the remote-tracking ref; only its last step,
// collecting the whole pack in memory and indexing it with pako, is what we replace. An upload-pack answer is a
// stream of pkt-lines: plain lines (`shallow`, `NAK`, `ACK`) and side-band lines whose first byte says the band
// (1 pack data, 2 progress, 3 a fatal error). Band 1 goes to the pack sink; every other line passes through as it
// came, so isomorphic-git still parses everything but the pack. An empty pack (no objects) is what isomorphic-git
// itself skips writing and indexing. Keeping that split means the protocol stays isomorphic-git's to get right.
//
// Protocol: https://git-scm.com/docs/http-protocol, https://git-scm.com/docs/pack-protocol (side-band-64k).
import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackBytes } from './pack-format.ts';
import { type BaseObject, indexPack, type PackIndex } from './pack-index.ts';
import type { VerifiedPack } from './pack-reader.ts';

/** Where received packs go and how their deltas find bases outside them. */
export interface PackReceiverOptions {
  /** The store's `objects/pack` directory. */
  packDir: string;
  /** Objects of the store a delta in the pack may be based on. */
  external?: (oid: string) => Promise<BaseObject | undefined>;
  /** A pack is held in memory up to this size, then written to a temporary file as it arrives. */
  spillBytes?: number;
}

/** 12-byte header of a pack with no objects, and its checksum. */
const EMPTY_PACK = (() => {
  const head = Buffer.from('5041434b0000000200000000', 'hex');
  return Buffer.concat([head, createHash('sha1').update(head).digest()]);
})();

/** One pkt-line on band 1 carrying the empty pack. */
const EMPTY_PACK_LINE = (() => {
  const payload = Buffer.concat([Buffer.from([1]), EMPTY_PACK]);
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
})();

let serial = 0;

/** Receives the pack of one fetch answer; see the file's opening comment. */
export class PackReceiver {
  /** The stored pack's index, once the answer was read whole and the pack kept. */
  stored: PackIndex | undefined;
  /**
   * The stored pack as checked by its indexer, when it was held in memory: its `.idx` file name, index and bytes, for
   * PackReader.open to take instead of reading and hashing the same pack again.
   */
  verified: VerifiedPack | undefined;
  private readonly chunks: Buffer[] = [];
  private held = 0;
  private received = 0;
  private file: FileHandle | undefined;
  private readonly temp: string;
  private readonly spillBytes: number;

  constructor(private readonly options: PackReceiverOptions) {
    this.spillBytes = options.spillBytes ?? 16 * 1024 * 1024;
    this.temp = join(options.packDir, `tmp_pack_${process.pid}_${Date.now()}_${serial++}`);
  }

  /** The answer `body` with its pack data taken out and, at its end, an empty pack in its place. */
  async *rewrite(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let pending = Buffer.alloc(0);
    let sawPack = false;
    let failed = false;
    for await (const chunk of body) {
      pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      let at = 0;
      while (pending.length - at >= 4) {
        const hex = pending.toString('latin1', at, at + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error(`the answer is not a stream of pkt-lines ('${hex}')`);
        const len = Number.parseInt(hex, 16);
        if (len === 0 || len === 1) {
          yield pending.subarray(at, at + 4);
          at += 4;
          continue;
        }
        if (len < 4) throw new Error(`the answer has a pkt-line of length ${len}`);
        if (pending.length - at < len) break;
        const band = pending[at + 4];
        if (band === 1) {
          sawPack = true;
          await this.take(pending.subarray(at + 5, at + len));
        } else {
          // A fatal error from the server ends the answer (isomorphic-git reports it): nothing is kept.
          if (band === 3) {
            failed = true;
            await this.discard();
          }
          yield pending.subarray(at, at + len);
        }
        at += len;
      }
      pending = pending.subarray(at);
    }
    if (pending.length > 0) throw new Error('the answer ended inside a pkt-line (cut short)');
    // After a fatal error the server's own message is the one to report, not "truncated" for what was discarded.
    if (!sawPack || failed) return;
    await this.store();
    yield EMPTY_PACK_LINE;
  }

  /** Removes whatever was written for a pack not stored (a failed or abandoned fetch). */
  async discard(): Promise<void> {
    this.chunks.length = 0;
    this.held = 0;
    await this.file?.close().catch(() => {});
    this.file = undefined;
    await rm(this.temp, { force: true });
    await rm(`${this.temp}.idx`, { force: true });
  }

  private async take(data: Buffer): Promise<void> {
    this.received += data.length;
    if (this.file) {
      await this.file.write(data);
      return;
    }
    this.chunks.push(Buffer.from(data));
    this.held += data.length;
    if (this.held > this.spillBytes) {
      await mkdir(this.options.packDir, { recursive: true });
      this.file = await open(this.temp, 'w');
      await this.file.write(Buffer.concat(this.chunks));
      this.chunks.length = 0;
      this.held = 0;
    }
  }

  /**
   * Indexes the pack and stores it as `pack-<sha>.pack` and `.idx`, each written under a temporary name and renamed;
   * the index last, since it is what makes a pack visible to readers. A pack that does not index is an error and
   * leaves nothing behind.
   */
  private async store(): Promise<void> {
    const { packDir } = this.options;
    try {
      let bytes: PackBytes;
      if (this.file) {
        await this.file.close();
        this.file = undefined;
        bytes = PackBytes.openFile(this.temp);
      } else {
        bytes = PackBytes.fromBuffer(Buffer.concat(this.chunks));
        this.chunks.length = 0;
      }
      let index: PackIndex;
      try {
        index = await indexPack(bytes, {
          keepObjects: true,
          ...(this.options.external ? { external: this.options.external } : {}),
        });
      } catch (err) {
        throw new Error(`the pack received (${this.received} bytes) is unusable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (index.count === 0) {
        await this.discard();
        return;
      }
      await mkdir(packDir, { recursive: true });
      if (bytes.inMemory) await writeFile(this.temp, bytes.read(0, bytes.length));
      await writeFile(`${this.temp}.idx`, index.idx);
      const name = join(packDir, `pack-${index.packSha}`);
      await rename(this.temp, `${name}.pack`);
      await rename(`${this.temp}.idx`, `${name}.idx`);
      this.stored = index;
      if (bytes.inMemory) this.verified = { name: `pack-${index.packSha}.idx`, idx: index.idx, pack: bytes };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }
}
