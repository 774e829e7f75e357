// An app's resource tree: each desired object with its live descendants found by owner references (Deployment →
// ReplicaSet → Pod, StatefulSet/DaemonSet/Job → Pod, CronJob → Job → Pod), each judged by the same health rules as
// the app. Pure: the descendants come from the agent's shared watches (reconcile/tree.ts).
import { type HealthContext, healthOf, objectHealth } from './health.ts';
import { objectKey, refOf, subject } from './objects.ts';
import type { HealthResult, K8sObject } from './types.ts';

/** One object of the tree with what a person needs to see why it is not healthy. */
export interface TreeNode {
  subject: string;
  kind: string;
  namespace?: string;
  name: string;
  /** False for a desired object the cluster does not have (yet). */
  live: boolean;
  health: HealthResult;
  /** Container images (init containers first), as the object's pod template or the Pod asks for them. */
  images: string[];
  /** Container restarts of a Pod (all containers). */
  restarts?: number;
  /** `metadata.creationTimestamp` of the live object. */
  createdAt?: string;
  children: TreeNode[];
}

/** An app's tree as the API and the page get it. */
export interface AppTree {
  nodes: TreeNode[];
  /** False until every watch of the app's namespaces has listed once: descendants may be missing. */
  complete: boolean;
  /** Watches that fail right now (the tree shows what was last seen). */
  errors: string[];
}

/** The kinds whose live descendants the tree shows, and the descendant kinds it watches for them. */
export const OWNER_KINDS: ReadonlySet<string> = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
]);

/** The group-kinds of descendants (`ReplicaSet.apps`, `Pod`, `Job.batch`), as the watches are keyed. */
export const DESCENDANT_GROUP_KINDS = ['ReplicaSet.apps', 'Pod', 'Job.batch'] as const;

/** Descendants deeper than this are not followed (CronJob → Job → Pod is the deepest chain). */
const MAX_DEPTH = 3;

function containers(spec: unknown): { image?: unknown }[] {
  if (!spec || typeof spec !== 'object') return [];
  const s = spec as { initContainers?: unknown; containers?: unknown };
  const list = [s.initContainers, s.containers].flatMap((x) => (Array.isArray(x) ? x : []));
  return list.filter((c): c is { image?: unknown } => Boolean(c) && typeof c === 'object');
}

function podSpecOf(o: K8sObject): unknown {
  const spec = o['spec'] as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec;
  if (o.kind === 'CronJob') {
    const jt = spec['jobTemplate'] as { spec?: { template?: { spec?: unknown } } } | undefined;
    return jt?.spec?.template?.spec;
  }
  return (spec['template'] as { spec?: unknown } | undefined)?.spec;
}

/** The images an object's pods run (or would run), in order, without repeats. */
export function imagesOf(o: K8sObject): string[] {
  const images = containers(podSpecOf(o))
    .map((c) => c.image)
    .filter((i): i is string => typeof i === 'string');
  return [...new Set(images)];
}

/** The restarts of all of a Pod's containers. */
export function restartsOf(pod: K8sObject): number {
  const status = pod['status'] as { containerStatuses?: unknown; initContainerStatuses?: unknown } | undefined;
  let n = 0;
  for (const list of [status?.initContainerStatuses, status?.containerStatuses]) {
    if (!Array.isArray(list)) continue;
    for (const cs of list) {
      const r = (cs as { restartCount?: unknown })?.restartCount;
      if (typeof r === 'number') n += r;
    }
  }
  return n;
}

/** Live objects by the uid of their controlling owner (the owner reference with `controller: true`, else any). */
export function indexByOwner(objects: Iterable<K8sObject>): Map<string, K8sObject[]> {
  const byOwner = new Map<string, K8sObject[]>();
  for (const o of objects) {
    const refs = o.metadata.ownerReferences;
    if (!Array.isArray(refs) || refs.length === 0) continue;
    const controller = refs.find((r) => r && typeof r === 'object' && r.controller === true) ?? refs[0];
    const uid = (controller as { uid?: unknown })?.uid;
    if (typeof uid !== 'string') continue;
    const list = byOwner.get(uid);
    if (list) list.push(o);
    else byOwner.set(uid, [o]);
  }
  return byOwner;
}

function node(o: K8sObject, live: boolean, health: HealthResult, children: TreeNode[]): TreeNode {
  const ref = refOf(o);
  const created = o.metadata.creationTimestamp;
  return {
    subject: subject(o),
    kind: o.kind,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
    name: ref.name,
    live,
    health,
    images: imagesOf(o),
    ...(o.kind === 'Pod' && live ? { restarts: restartsOf(o) } : {}),
    ...(live && typeof created === 'string' ? { createdAt: created } : {}),
    children,
  };
}

/** Newest first, so the ReplicaSet of the current rollout and the newest Pods lead. */
function byAge(a: K8sObject, b: K8sObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return tb.localeCompare(ta) || a.metadata.name.localeCompare(b.metadata.name);
}

function descendants(
  owner: K8sObject,
  byOwner: ReadonlyMap<string, K8sObject[]>,
  ctx: Omit<HealthContext, 'desired'>,
  depth: number,
): TreeNode[] {
  const uid = owner.metadata.uid;
  if (!uid || depth >= MAX_DEPTH) return [];
  const kids = [...(byOwner.get(uid) ?? [])].sort(byAge);
  return kids.map((k) => node(k, true, healthOf(k, ctx), descendants(k, byOwner, ctx, depth + 1)));
}

/**
 * The tree of an app: each desired object (judged against its live copy, as the app's health is) with the live
 * objects it owns, recursively. `live` holds the desired objects' live copies by objectKey; `owned` the watched
 * ReplicaSets, Jobs and Pods of the app's namespaces.
 */
export function buildResourceTree(
  desired: readonly K8sObject[],
  live: ReadonlyMap<string, K8sObject>,
  owned: Iterable<K8sObject>,
  ctx: Omit<HealthContext, 'desired'> = {},
): TreeNode[] {
  const byOwner = indexByOwner(owned);
  return desired.map((d) => {
    const l = live.get(objectKey(d));
    const health = objectHealth(refOf(d), l, { ...ctx, desired: d });
    if (!l) return node(d, false, health, []);
    return node(l, true, health, OWNER_KINDS.has(d.kind) ? descendants(l, byOwner, ctx, 0) : []);
  });
}

/** The namespaces where an app's desired objects may own Pods, ReplicaSets or Jobs (what the watches cover). */
export function ownerNamespaces(desired: readonly K8sObject[]): string[] {
  const ns = new Set<string>();
  for (const d of desired) {
    const n = refOf(d).namespace;
    if (n && OWNER_KINDS.has(d.kind)) ns.add(n);
  }
  return [...ns].sort();
}
