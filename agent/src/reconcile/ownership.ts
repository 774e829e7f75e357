import { describeError } from '../../../shared/src/errors.ts';
import { APPLYSET } from '../core/inventory.ts';
import type { ResourceType } from '../core/kube-port.ts';
import { groupKind, objectKey, refOf, subject } from '../core/objects.ts';
import { describeApplySetOwner, type ForeignTool, ownerOf, releasePatch } from '../core/ownership.ts';
import type { K8sObject, ObjectRef, SyncEntry } from '../core/types.ts';
import { type ClusterDeps, pool } from './cluster.ts';

/** The desired set split by ownership: what may be applied, what another owner has, what is being adopted. */
export interface OwnershipCheck {
  /** The objects to apply: ours already, not live yet, or live and unowned (adopted). */
  allowed: K8sObject[];
  /** `conflict` entries naming the owner, for objects left alone. */
  conflicts: SyncEntry[];
  /** Objects live without any owner, or taken over from a tool the app names in `takeOver`, which this apply adopts. */
  adopted: ObjectRef[];
  /** The adopted objects another tool managed: who it was, and the patch that makes that tool let go (if any). */
  takenOver: TakenOver[];
}

/** An object taken over from Argo CD or Flux (`takeOver`). */
export interface TakenOver {
  ref: ObjectRef;
  /** `managed by Argo CD application guestbook`, as the conflict would have said. */
  from: string;
  tool: ForeignTool;
  /** Removes the other tool's markers once Tether's apply has labelled it; undefined when there are none. */
  release?: object;
}

/**
 * Reads, before the apply, every desired object that is not already a member (`live` holds the members listed by
 * label): one GET per such object, none for the members; where many objects of one kind and namespace are not
 * members (a first sync), one list of that kind in that namespace instead of their GETs. An object another ApplySet, Argo CD or Flux manages is not
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
    /** Tools whose objects the app takes over instead of leaving them as conflicts. */
    takeOver?: readonly ForeignTool[];
    /**
     * The live object of a non-member as the caller already read it (a plan's dry-run reads every object first):
     * no request is made for it then; undefined is "not live" (or a read that failed: left to the apply).
     */
    read?: (obj: K8sObject) => K8sObject | undefined;
  },
): Promise<OwnershipCheck> {
  const conflicts = new Map<string, SyncEntry>();
  const adopted: ObjectRef[] = [];
  const takenOver: TakenOver[] = [];
  // Each other ApplySet's parent is looked up once per check, however many objects it holds.
  const owners = new Map<string, Promise<string>>();
  const unknown = desired.filter((o) => !live.has(objectKey(o)));
  const lists = new ListedKinds(deps, options.read ? [] : unknown);
  await pool(
    unknown,
    options.concurrency,
    async (obj) => {
      let current: K8sObject | undefined;
      if (options.read) current = options.read(obj);
      else {
        try {
          // A kind the server does not serve yet (a CRD applied in this sync) has no live objects to own.
          const type = await deps.discovery.resolve(obj.apiVersion, obj.kind);
          if (!type) return;
          current = await lists.get(type, obj);
        } catch {
          return;
        }
      }
      if (!current) return;
      const who = ownerOf(current, options.applySetId);
      if (who.owner === 'other' && who.tool && options.takeOver?.includes(who.tool)) {
        adopted.push(refOf(obj));
        const release = releasePatch(current, who.tool);
        takenOver.push({ ref: refOf(obj), from: who.description, tool: who.tool, ...(release ? { release } : {}) });
      } else if (who.owner === 'other') {
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
    takenOver,
  };
}

/**
 * The objectKeys of the members an ApplySet parent records as created by Tether (listed, and not adopted): one found
 * live without the member label had it removed by hand, and is relabelled rather than adopted (checkOwners'
 * `recorded`).
 */
export function recordedAsCreated(members: readonly ObjectRef[], adopted: readonly ObjectRef[]): Set<string> {
  const adoptedKeys = new Set(adopted.map(objectKey));
  return new Set(members.map(objectKey).filter((k) => !adoptedKeys.has(k)));
}

/** From how many non-member objects of one kind in one namespace a list is cheaper than their GETs. */
const LIST_FROM = 8;

/** Reads the live object of a desired one: by GET, or from one shared list of its kind and namespace. */
class ListedKinds {
  private readonly counts = new Map<string, number>();
  private readonly lists = new Map<string, Promise<Map<string, K8sObject> | undefined>>();

  constructor(
    private readonly deps: ClusterDeps,
    objects: readonly K8sObject[],
  ) {
    for (const o of objects) {
      const k = ListedKinds.key(o.apiVersion, o.kind, o.metadata.namespace);
      this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    }
  }

  private static key(apiVersion: string, kind: string, namespace: string | undefined): string {
    return `${apiVersion}|${kind}|${namespace ?? ''}`;
  }

  async get(type: ResourceType, obj: K8sObject): Promise<K8sObject | undefined> {
    const { name, namespace } = obj.metadata;
    const k = ListedKinds.key(obj.apiVersion, obj.kind, namespace);
    if ((this.counts.get(k) ?? 0) < LIST_FROM || !type.verbs.includes('list')) {
      return this.deps.kube.get(type, name, namespace);
    }
    let list = this.lists.get(k);
    if (!list) {
      list = this.deps.kube.list(type, type.namespaced && namespace ? { namespace } : {}).then(
        (r) => new Map(r.items.map((o) => [o.metadata.name, o])),
        () => undefined,
      );
      this.lists.set(k, list);
    }
    const items = await list;
    // A failed list: the object's own GET decides, as without the list.
    return items ? items.get(name) : this.deps.kube.get(type, name, namespace);
  }
}

/**
 * After the apply labelled them as members, removes the other tool's markers from the objects taken over (one merge
 * patch each, metadata only), so that Argo CD or Flux no longer counts them as theirs. An object whose apply failed
 * is left as it is (it is still the other tool's); a failed patch makes its entry `failed`, and the next sync finds
 * it a member already and leaves the markers (the ApplySet label decides ownership first).
 */
export async function releaseTakenOver(
  deps: ClusterDeps,
  takenOver: readonly TakenOver[],
  entries: SyncEntry[],
): Promise<SyncEntry[]> {
  const bySubject = new Map(takenOver.map((t) => [subject(t.ref), t]));
  const out: SyncEntry[] = [];
  for (const e of entries) {
    const t = bySubject.get(e.subject);
    if (!t || e.action === 'failed' || e.action === 'skipped') {
      out.push(e);
      continue;
    }
    const reason = `taken over from ${t.from.replace(/^managed by /, '')} (takeOver: ${t.tool}); Tether did not create it`;
    try {
      if (t.release) {
        const type = deps.discovery.forGroupKind(groupKind(t.ref));
        if (type) await deps.kube.mergePatch(type, t.ref.name, t.ref.namespace, t.release);
      }
      out.push({ ...e, action: 'adopted', reason });
    } catch (err) {
      out.push({ ...e, action: 'failed', reason: `${reason}, but removing its markers failed: ${describeError(err)}` });
    }
  }
  return out;
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
