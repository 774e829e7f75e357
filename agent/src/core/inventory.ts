// Inventory of what an app owns, as an ApplySet (KEP-3659,
// https://github.com/kubernetes/enhancements/tree/master/keps/sig-cli/3659-kubectl-apply-prune): one parent object
// per app; members carry `applyset.kubernetes.io/part-of=<id>`, so Tether, kubectl and other ApplySet tools agree on
// who owns what. Tether also records the member list in the parent, because listing by label finds only the kinds and
// namespaces the parent names, and an object whose label was removed by hand would otherwise be forgotten.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TetherError } from '../../../shared/src/errors.ts';
import { APPLIED_GZ_KEY } from './applied-record.ts';
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

/** The key holding the same member list gzipped (base64 as `binaryData`), used when the plain list is too large. */
export const INVENTORY_GZ_KEY = 'inventory.gz';

/** The key listing the members Tether adopted (found live and unowned) rather than created, one `objectKey` a line. */
export const ADOPTED_KEY = 'adopted';

/**
 * The most the parent's data may hold. The apiserver refuses a ConfigMap or Secret whose data exceeds 1 MiB
 * (`MaxSecretSize` in k8s.io/api/core/v1, checked by ValidateConfigMap), and etcd a request over 1.5 MiB; the margin
 * leaves room for the metadata and managedFields.
 */
export const MAX_PARENT_DATA_BYTES = 900 * 1024;

/**
 * The annotation on the parent naming the Git revision last synced through to the end (applied, hooks run, pruned):
 * what a cascade removal re-renders to find the app's PreDelete/PostDelete hooks when the process that ran the app is
 * gone (see reconcile/recover-hooks.ts).
 */
export const SYNCED_REVISION_ANNOTATION = 'tether.dev/synced-revision';

/**
 * The annotation on the parent holding the app's definition (repo, ref, path, render settings as JSON) as of the
 * synced revision, written in the same write as SYNCED_REVISION_ANNOTATION so the two always agree: after a path or
 * ref change, a cascade renders the old path at the old revision rather than the new path at the old revision.
 */
export const SYNCED_SPEC_ANNOTATION = 'tether.dev/synced-spec';

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

/**
 * Copies of the desired objects with the part-of label set to `id`: new top levels, metadata and labels, the rest
 * (spec, data) shared with `objects`. A deep copy costs ~11 ms per 1,000 Deployments on the sync path, and nothing
 * writes into a desired object in place (changes are made on copies: keepLiveAt, hooks).
 */
export function labelMembers(objects: readonly K8sObject[], id: string): K8sObject[] {
  return objects.map((o) => ({
    ...o,
    metadata: { ...o.metadata, labels: { ...o.metadata.labels, [APPLYSET.partOfLabel]: id } },
  }));
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
export function parentObject(
  parent: ApplySetParentRef,
  members: readonly (K8sObject | ObjectRef)[],
  options: { adopted?: readonly ObjectRef[]; applied?: string; revision?: string; spec?: string } = {},
): K8sObject {
  const { labels, annotations } = parentMetadata(parent, members);
  if (options.revision) annotations[SYNCED_REVISION_ANNOTATION] = options.revision;
  if (options.revision && options.spec) annotations[SYNCED_SPEC_ANNOTATION] = options.spec;
  const memberKeys = new Set(members.map((m) => objectKey(m)));
  const adopted = encodeInventory((options.adopted ?? []).filter((r) => memberKeys.has(objectKey(r))));
  const obj: K8sObject = {
    apiVersion: parent.group ? `${parent.group}/${parent.version}` : parent.version,
    kind: parent.kind,
    metadata: { name: parent.name, namespace: parent.namespace, labels, annotations },
  };
  const texts: Record<string, string> = {
    ...encodeParentInventory(parent, members),
    ...(adopted ? { [ADOPTED_KEY]: adopted } : {}),
  };
  // Already base64 (of gzip): stored as is, in a ConfigMap's binaryData or a Secret's data.
  const binary: Record<string, string> = {};
  if (options.applied) binary[APPLIED_GZ_KEY] = options.applied;
  if (parent.kind === 'Secret') {
    obj.data = {
      ...Object.fromEntries(
        Object.entries(texts).map(([k, v]) => [k, k === INVENTORY_GZ_KEY ? v : Buffer.from(v).toString('base64')]),
      ),
      ...binary,
    };
  } else {
    const { [INVENTORY_GZ_KEY]: gz, ...data } = texts;
    obj.data = data;
    if (gz !== undefined) binary[INVENTORY_GZ_KEY] = gz;
    if (Object.keys(binary).length > 0) obj.binaryData = binary;
  }
  return obj;
}

/**
 * The member list as the parent stores it: plain `objectKey` lines while they fit, else gzipped and base64-encoded
 * under `inventory.gz` (object keys compress well: 200,000 members take about a tenth of their plain size). When even
 * that exceeds the parent's limit, a clear error naming the parent and the count, instead of the apiserver's 413 for
 * every sync.
 */
export function encodeParentInventory(
  parent: ApplySetParentRef,
  members: readonly (K8sObject | ObjectRef)[],
  maxBytes = MAX_PARENT_DATA_BYTES,
): { [INVENTORY_KEY]: string } | { [INVENTORY_GZ_KEY]: string } {
  const plain = encodeInventory(members);
  // A Secret's data is base64 on the wire: 4 bytes for every 3.
  const wire = (n: number) => (parent.kind === 'Secret' ? Math.ceil(n / 3) * 4 : n);
  if (wire(Buffer.byteLength(plain)) <= maxBytes) return { [INVENTORY_KEY]: plain };
  const gz = gzipSync(plain, { level: 9 }).toString('base64');
  if (gz.length <= maxBytes) return { [INVENTORY_GZ_KEY]: gz };
  const count = plain.split('\n').length - 1;
  throw new TetherError(
    'kube',
    `${parent.kind}/${parent.namespace}/${parent.name}: the ApplySet inventory of ${count} objects takes ` +
      `${gz.length} bytes even compressed, over the parent's limit of ${maxBytes}; split the app into smaller apps`,
  );
}

/** The raw text stored under `key` in a live parent (decoding a Secret's base64), or undefined. */
function parentText(parent: ApplySetParentRef, live: K8sObject, key: string): string | undefined {
  const data = live.data as Record<string, string> | undefined;
  const raw = data?.[key];
  if (raw === undefined) return undefined;
  return parent.kind === 'Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

/** The applied record a live parent holds (see core/applied-record.ts), still encoded; undefined when none. */
export function readAppliedText(live: K8sObject | undefined): string | undefined {
  return (
    (live?.binaryData as Record<string, string> | undefined)?.[APPLIED_GZ_KEY] ??
    (live?.data as Record<string, string> | undefined)?.[APPLIED_GZ_KEY]
  );
}

/**
 * What a live parent records beside its members (the applied record, the synced revision and its definition), to carry into a write
 * that changes only the members: a server-side apply leaves out what it does not send, and a parent without its
 * revision refuses a cascade after a restart (see reconcile/recover-hooks.ts).
 */
export function parentRecords(live: K8sObject | undefined): { applied?: string; revision?: string; spec?: string } {
  const applied = readAppliedText(live);
  const revision = readSyncedRevision(live);
  const spec = live?.metadata.annotations?.[SYNCED_SPEC_ANNOTATION];
  return { ...(applied ? { applied } : {}), ...(revision ? { revision } : {}), ...(spec ? { spec } : {}) };
}

/** The revision a live parent says was last synced through (see SYNCED_REVISION_ANNOTATION); undefined when none. */
export function readSyncedRevision(live: K8sObject | undefined): string | undefined {
  return live?.metadata.annotations?.[SYNCED_REVISION_ANNOTATION] || undefined;
}

/** The members a live parent records as adopted (see `parentObject`'s `adopted`). */
export function readAdopted(parent: ApplySetParentRef, live: K8sObject | undefined): ObjectRef[] {
  const text = live ? parentText(parent, live, ADOPTED_KEY) : undefined;
  return text === undefined ? [] : decodeInventory(text);
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
  // The gzipped list is base64 in a ConfigMap's binaryData or a Secret's data; either way, base64 of gzip.
  const gz =
    (live.binaryData as Record<string, string> | undefined)?.[INVENTORY_GZ_KEY] ??
    (live.data as Record<string, string> | undefined)?.[INVENTORY_GZ_KEY];
  if (gz !== undefined) return decodeInventory(gunzipSync(Buffer.from(gz, 'base64')).toString('utf8'));
  const raw = parentText(parent, live, INVENTORY_KEY);
  return raw === undefined ? [] : decodeInventory(raw);
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
