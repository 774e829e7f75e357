// Push webhooks shared between sharded replicas. A Service hands each GitHub delivery to one replica; that replica
// records the push in one ConfigMap of the agent's (one data entry per repo and branch, the newest push only), and
// every replica watches that ConfigMap and wakes the apps it holds. Pure: what an entry looks like, and which
// entries a replica has not acted on yet. The ConfigMap itself is written and watched in reconcile/push-signals.ts.
import { createHash } from 'node:crypto';

/** One push as the receiving replica records it. */
export interface PushRecord {
  /** The repository as GitHub names it, `owner/name`. */
  repo: string;
  /** The pushed ref, `refs/heads/<branch>`. */
  ref: string;
  /** The head commit after the push (empty when GitHub sent none). */
  after: string;
  /** GitHub's delivery id (`X-GitHub-Delivery`), when the request had one. */
  delivery?: string;
  /** When the receiving replica recorded it (ISO time; for people reading the ConfigMap, never compared). */
  at: string;
  /** The identity of the replica that received it (it has woken its own apps already). */
  by: string;
}

/**
 * The ConfigMap data key of a repo and branch: readable, within the key charset (`[-._a-zA-Z0-9]`), unique by a
 * hash of the exact (case-folded) pair, so a newer push to the same branch replaces the older one.
 */
export function pushKey(repo: string, ref: string): string {
  const id = `${repo.toLowerCase()}#${ref.replace(/^refs\/heads\//, '')}`;
  const readable = id
    .replace(/[^-._a-zA-Z0-9]+/g, '.')
    .replace(/^[.]+|[.]+$/g, '')
    .slice(0, 80);
  return `${readable}.${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

/** The ConfigMap data of one push: its key and the JSON value. */
export function pushEntry(push: PushRecord): Record<string, string> {
  return { [pushKey(push.repo, push.ref)]: JSON.stringify(push) };
}

/** A data value read back as a push; undefined for anything else (edited by hand, from a newer version). */
export function parsePush(value: string): PushRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.repo !== 'string' || typeof o.ref !== 'string' || typeof o.by !== 'string') return undefined;
  return {
    repo: o.repo,
    ref: o.ref,
    after: typeof o.after === 'string' ? o.after : '',
    ...(typeof o.delivery === 'string' ? { delivery: o.delivery } : {}),
    at: typeof o.at === 'string' ? o.at : '',
    by: o.by,
  };
}

/** What a replica makes of the ConfigMap's data as it reads it now. */
export interface PushReading {
  /** Pushes recorded by other replicas since this one last read the entry: wake their apps. */
  wake: PushRecord[];
  /** Every entry as read now, to compare the next reading with. */
  seen: Map<string, string>;
}

/**
 * The pushes to act on in the ConfigMap's data, against what this replica saw before (`seen`, undefined on its first
 * reading). The first reading wakes nothing: a push recorded before this replica started is older than its first
 * syncs, which fetch anyway. A re-list after a broken watch is compared like any event, so a push recorded while the
 * watch was down still wakes. Entries this replica recorded itself are skipped: it woke its apps on receiving them.
 */
export function readPushes(
  seen: ReadonlyMap<string, string> | undefined,
  data: Readonly<Record<string, string>> | undefined,
  self: string,
): PushReading {
  const now = new Map(Object.entries(data ?? {}));
  const wake: PushRecord[] = [];
  if (seen) {
    for (const [key, value] of now) {
      if (seen.get(key) === value) continue;
      const push = parsePush(value);
      if (push && push.by !== self) wake.push(push);
    }
  }
  return { wake, seen: now };
}
