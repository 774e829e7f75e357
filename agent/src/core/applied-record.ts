// What Tether last made of each object: the hash of the desired object it applied (or found already in place) and the
// live resourceVersion right after. While both still hold, the object is exactly as Tether left it and a forced
// re-sync can skip its server-side dry-run; once either moves (Git changed it, or anyone, a controller included, wrote
// to it) the dry-run decides as before. The record lives in memory and, gzipped, in the app's ApplySet parent, so a
// restarted agent keeps it. Pure: no I/O.
import { hash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { K8sObject } from './types.ts';

/** One object's mark: the desired hash that was in place at `resourceVersion`. */
export interface AppliedMark {
  hash: string;
  resourceVersion: string;
}

/** Marks by objectKey. */
export type AppliedRecord = Map<string, AppliedMark>;

/** The key in the ApplySet parent holding the record (gzipped, base64, like `inventory.gz`). */
export const APPLIED_GZ_KEY = 'applied.gz';

/**
 * A short hash of what is sent for `obj`: the object and the rules that change what is sent (ignored fields keep
 * their live values, so a rule change must count as a desired change). `obj` may be given as its JSON already.
 */
export function desiredHash(obj: K8sObject | string, rules: unknown = undefined): string {
  // One call on the joined text (the same digest as updating a Hash piece by piece): a Hash object per applied object
  // was ~2 % of a first sync's CPU. crypto.hash is why package.json asks for Node 20.12 or later.
  const text = `${typeof obj === 'string' ? obj : JSON.stringify(obj)}\0${JSON.stringify(rules ?? null)}`;
  return hash('sha256', text, 'base64url').slice(0, 16);
}

/** Whether `live` is exactly the object Tether left after applying the desired object of hash `hash`. */
export function unchangedSinceApplied(
  record: AppliedRecord,
  key: string,
  hash: string,
  live: K8sObject | undefined,
): boolean {
  const mark = record.get(key);
  const rv = live?.metadata.resourceVersion;
  return mark !== undefined && rv !== undefined && mark.hash === hash && mark.resourceVersion === rv;
}

/** The record of the keys in `keep` as the parent stores it: `key hash resourceVersion` lines, gzipped, base64. */
export function encodeAppliedRecord(record: AppliedRecord, keep: ReadonlySet<string>): string {
  const lines = [...record.entries()]
    .filter(([key]) => keep.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, m]) => `${key} ${m.hash} ${m.resourceVersion}\n`)
    .join('');
  return gzipSync(lines, { level: 9 }).toString('base64');
}

/** Reads `encodeAppliedRecord` text back; anything unreadable yields an empty record (the dry-runs then decide). */
export function decodeAppliedRecord(text: string | undefined): AppliedRecord {
  const record: AppliedRecord = new Map();
  if (!text) return record;
  let plain: string;
  try {
    plain = gunzipSync(Buffer.from(text, 'base64')).toString('utf8');
  } catch {
    return record;
  }
  for (const line of plain.split('\n')) {
    const [key, hash, resourceVersion] = line.split(' ');
    if (key && hash && resourceVersion) record.set(key, { hash, resourceVersion });
  }
  return record;
}
