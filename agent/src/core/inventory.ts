// Inventory of what an app owns, as an ApplySet (KEP-3659,
// https://github.com/kubernetes/enhancements/tree/master/keps/sig-cli/3659-kubectl-apply-prune): one parent object
// per app; members carry `applyset.kubernetes.io/part-of=<id>`, so Tether, kubectl and other ApplySet tools agree on
// who owns what. Tether also records the member list in the parent, because listing by label finds only the kinds and
// namespaces the parent names, and an object whose label was removed by hand would otherwise be forgotten.
import { createHash } from 'node:crypto';
import { TetherError } from '../../../shared/src/errors.ts';
import { groupKind, label, objectKey, parseObjectKey, refOf, subject } from './objects.ts';
import { compareRefs } from './plan.ts';
import type { K8sObject, ObjectRef } from './types.ts';

/** ApplySet label and annotation keys (kubectl pkg/cmd/apply/applyset.go). */
export const APPLYSET = {
  partOfLabel: 'applyset.kubernetes.io/part-of',
  idLabel: 'applyset.kubernetes.io/id',
  toolingAnnotation: 'applyset.kubernetes.io/tooling',
  groupKindsAnnotation: 'applyset.kubernetes.io/contains-group-kinds',
  namespacesAnnotation: 'applyset.kubernetes.io/additional-namespaces',
} as const;

/** The value of `applyset.kubernetes.io/tooling` on Tether's parents (`<tool>/<version>` per the KEP). */
export const TOOLING = 'tether/v1';

/** The key in the parent's data where Tether records its members, one `objectKey` per line. */
export const INVENTORY_KEY = 'inventory';

/** Which object is an app's ApplySet parent. */
export interface ApplySetParentRef {
  group: string;
  version: string;
  kind: 'ConfigMap' | 'Secret';
  name: string;
  /** The KEP allows cluster-scoped custom parents; Tether's ConfigMap/Secret parents are namespaced. */
  namespace: string;
}

/**
 * The default parent of an app: a ConfigMap `tether-<app>` in the agent's namespace. Outside the app's own
 * namespaces so that pruning or deleting them cannot take the record of what to prune with it; a ConfigMap rather
 * than kubectl's default Secret so the inventory is readable with `kubectl get`.
 */
export function defaultParentRef(app: string, agentNamespace = 'tether-system'): ApplySetParentRef {
  return { group: '', version: 'v1', kind: 'ConfigMap', name: `tether-${app}`, namespace: agentNamespace };
}

/**
 * The ApplySet id, exactly as kubectl computes it (applyset.go `ID()`, format `V1ApplySetIdFormat`):
 * `applyset-<base64url without padding of sha256("<name>.<namespace>.<kind>.<group>")>-v1`.
 */
export function applySetId(parent: { name: string; namespace?: string; kind: string; group: string }): string {
  const unencoded = [parent.name, parent.namespace ?? '', parent.kind, parent.group].join('.');
  const hash = createHash('sha256').update(unencoded).digest('base64url');
  return `applyset-${hash}-v1`;
}

/** The label selector that lists an ApplySet's members. */
export function memberSelector(id: string): string {
  return `${APPLYSET.partOfLabel}=${id}`;
}

/** Copies of the desired objects with the part-of label set to `id`. */
export function labelMembers(objects: readonly K8sObject[], id: string): K8sObject[] {
  return objects.map((o) => {
    const copy = structuredClone(o);
    copy.metadata.labels = { ...copy.metadata.labels, [APPLYSET.partOfLabel]: id };
    return copy;
  });
}

/** Parent labels and annotations for a member set: id, tooling, sorted group-kinds and other namespaces. */
export function parentMetadata(
  parent: ApplySetParentRef,
  members: readonly (K8sObject | ObjectRef)[],
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const refs = members.map((m) => ('metadata' in m ? refOf(m) : m));
  const gks = [...new Set(refs.map(groupKind))].sort();
  // kubectl generateNamespacesAnnotation: every member namespace except the parent's own, sorted.
  const namespaces = [...new Set(refs.flatMap((r) => (r.namespace ? [r.namespace] : [])))]
    .filter((ns) => ns !== parent.namespace)
    .sort();
  return {
    labels: { [APPLYSET.idLabel]: applySetId(parent) },
    annotations: {
      [APPLYSET.toolingAnnotation]: TOOLING,
      [APPLYSET.groupKindsAnnotation]: gks.join(','),
      [APPLYSET.namespacesAnnotation]: namespaces.join(','),
    },
  };
}

/** Sorted, de-duplicated `objectKey` lines. */
export function encodeInventory(members: readonly (K8sObject | ObjectRef)[]): string {
  const refs = members.map((m) => ('metadata' in m ? refOf(m) : m));
  const unique = new Map(refs.map((r) => [objectKey(r), r]));
  return [...unique.values()]
    .sort(compareRefs)
    .map((r) => `${objectKey(r)}\n`)
    .join('');
}

/** Reads `encodeInventory` text back. */
export function decodeInventory(text: string): ObjectRef[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map(parseObjectKey);
}

/**
 * The parent object to apply for a member set. Apply it with the superset of the previous and the desired members
 * before applying them (kubectl's `updateToSuperset`, so a crash mid-sync leaves nothing untracked), and with the
 * members that remain (desired, plus stale objects that were not pruned) afterwards.
 */
export function parentObject(parent: ApplySetParentRef, members: readonly (K8sObject | ObjectRef)[]): K8sObject {
  const { labels, annotations } = parentMetadata(parent, members);
  const inventory = encodeInventory(members);
  const obj: K8sObject = {
    apiVersion: parent.group ? `${parent.group}/${parent.version}` : parent.version,
    kind: parent.kind,
    metadata: { name: parent.name, namespace: parent.namespace, labels, annotations },
  };
  if (parent.kind === 'Secret') obj.data = { [INVENTORY_KEY]: Buffer.from(inventory).toString('base64') };
  else obj.data = { [INVENTORY_KEY]: inventory };
  return obj;
}

/**
 * Checks that a live parent is this app's and Tether's, and returns its recorded members. A parent another tool
 * manages is refused, as the KEP asks ("tooling should refuse to mutate ApplySets belonging to other tools").
 */
export function readParent(parent: ApplySetParentRef, live: K8sObject | undefined): ObjectRef[] {
  if (!live) return [];
  const who = subject(live);
  const tooling = live.metadata.annotations?.[APPLYSET.toolingAnnotation];
  if (tooling !== undefined && tooling.split('/')[0] !== TOOLING.split('/')[0]) {
    throw new TetherError('kube', `${who}: ApplySet parent belongs to "${tooling}", not Tether; refusing to use it`);
  }
  const id = label(live, APPLYSET.idLabel);
  if (id !== undefined && id !== applySetId(parent)) {
    throw new TetherError('kube', `${who}: label ${APPLYSET.idLabel}=${id} does not match ${applySetId(parent)}`);
  }
  const data = live.data as Record<string, string> | undefined;
  const raw = data?.[INVENTORY_KEY];
  if (raw === undefined) return [];
  return decodeInventory(parent.kind === 'Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw);
}

/** What the agent should list to find members by label: the group-kinds and namespaces the parent names. */
export function listScope(
  parent: ApplySetParentRef,
  live: K8sObject | undefined,
): {
  groupKinds: string[];
  namespaces: string[];
} {
  const ann = live?.metadata.annotations ?? {};
  const split = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : []);
  const namespaces = [...new Set([parent.namespace, ...split(ann[APPLYSET.namespacesAnnotation])])].sort();
  return { groupKinds: split(ann[APPLYSET.groupKindsAnnotation]), namespaces };
}

/** One object to prune: its identity and the live object (which holds its annotations and part-of label). */
export interface StaleObject {
  ref: ObjectRef;
  subject: string;
  live: K8sObject;
  /** Tether adopted it (it was live, unowned, before Tether first applied it) rather than created it. */
  adopted?: boolean;
}

/**
 * The stale set: (previous inventory ∪ labelled objects found in the cluster) − desired, keeping only objects that
 * exist and whose part-of label is this app's id. `live` is everything the caller read: the members listed by label
 * and the previous inventory's objects it fetched. An object whose label now names another ApplySet has been
 * adopted elsewhere and is never pruned; one without the label was released by hand and is left alone too.
 */
export function staleObjects(
  id: string,
  desired: readonly (K8sObject | ObjectRef)[],
  previous: readonly ObjectRef[],
  live: readonly K8sObject[],
): StaleObject[] {
  const desiredKeys = new Set(desired.map((d) => objectKey(d)));
  const liveByKey = new Map(live.map((o) => [objectKey(o), o]));
  const candidates = new Set([...previous.map((r) => objectKey(r)), ...liveByKey.keys()]);
  const out: StaleObject[] = [];
  for (const key of candidates) {
    if (desiredKeys.has(key)) continue;
    const obj = liveByKey.get(key);
    if (!obj || label(obj, APPLYSET.partOfLabel) !== id) continue;
    out.push({ ref: refOf(obj), subject: subject(obj), live: obj });
  }
  return out.sort((a, b) => compareRefs(a.ref, b.ref));
}
