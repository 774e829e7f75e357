import { APPLYSET } from '../core/inventory.ts';
import { objectKey, refOf, subject } from '../core/objects.ts';
import { describeApplySetOwner, ownerOf } from '../core/ownership.ts';
import type { K8sObject, ObjectRef, SyncEntry } from '../core/types.ts';
import { type ClusterDeps, pool } from './cluster.ts';

/** The desired set split by ownership: what may be applied, what another owner has, what is being adopted. */
export interface OwnershipCheck {
  /** The objects to apply: ours already, not live yet, or live and unowned (adopted). */
  allowed: K8sObject[];
  /** `conflict` entries naming the owner, for objects left alone. */
  conflicts: SyncEntry[];
  /** Objects live without any owner, which this apply takes over. */
  adopted: ObjectRef[];
}

/**
 * Reads, before the apply, every desired object that is not already a member (`live` holds the members listed by
 * label): one GET per such object, none for the members. An object another ApplySet, Argo CD or Flux manages is not
 * applied (a `conflict` entry names the owner); a live object nobody owns is applied and recorded as adopted. A GET
 * that fails leaves the object to the apply, which meets the same error and records it.
 */
export async function checkOwners(
  deps: ClusterDeps,
  live: Map<string, K8sObject>,
  desired: readonly K8sObject[],
  options: {
    applySetId: string;
    concurrency: number;
    signal?: AbortSignal;
    /**
     * objectKeys the app's parent already records as created by Tether: one found without the label had it removed
     * by hand, and is relabelled as ours rather than adopted.
     */
    recorded?: ReadonlySet<string>;
  },
): Promise<OwnershipCheck> {
  const conflicts = new Map<string, SyncEntry>();
  const adopted: ObjectRef[] = [];
  // Each other ApplySet's parent is looked up once per check, however many objects it holds.
  const owners = new Map<string, Promise<string>>();
  const unknown = desired.filter((o) => !live.has(objectKey(o)));
  await pool(
    unknown,
    options.concurrency,
    async (obj) => {
      let current: K8sObject | undefined;
      try {
        // A kind the server does not serve yet (a CRD applied in this sync) has no live objects to own.
        const type = await deps.discovery.resolve(obj.apiVersion, obj.kind);
        if (!type) return;
        current = await deps.kube.get(type, obj.metadata.name, obj.metadata.namespace);
      } catch {
        return;
      }
      if (!current) return;
      const who = ownerOf(current, options.applySetId);
      if (who.owner === 'other') {
        const id = who.applySetId;
        if (id && !owners.has(id)) owners.set(id, describeParent(deps, id, who.description));
        const reason = id ? await owners.get(id)! : who.description;
        conflicts.set(objectKey(obj), { subject: subject(obj), action: 'conflict', reason });
      } else if (who.owner === 'none' && !options.recorded?.has(objectKey(obj))) adopted.push(refOf(obj));
      else live.set(objectKey(current), current);
    },
    options.signal,
  );
  return {
    allowed: desired.filter((o) => !conflicts.has(objectKey(o))),
    conflicts: desired.flatMap((o) => conflicts.get(objectKey(o)) ?? []),
    adopted,
  };
}

/**
 * Names the ApplySet `id` by its parent: one list of ConfigMaps by the id label (Tether's parents, and kubectl's when
 * it uses one); `fallback` (naming the id) when none is found or listing fails.
 */
async function describeParent(deps: ClusterDeps, id: string, fallback: string): Promise<string> {
  try {
    const type = await deps.discovery.resolve('v1', 'ConfigMap');
    if (!type) return fallback;
    const { items } = await deps.kube.list(type, { labelSelector: `${APPLYSET.idLabel}=${id}` });
    return items[0] ? describeApplySetOwner(items[0]) : fallback;
  } catch {
    return fallback;
  }
}

/** Marks the apply entries of adopted objects `adopted` (the apply itself reports them as configured). */
export function markAdopted(entries: SyncEntry[], adopted: readonly ObjectRef[]): SyncEntry[] {
  const subjects = new Set(adopted.map((r) => subject(r)));
  return entries.map((e) =>
    subjects.has(e.subject) && e.action !== 'failed'
      ? { ...e, action: 'adopted', reason: 'was live without an owner; Tether did not create it' }
      : e,
  );
}
