import { TetherError } from '../../../shared/src/errors.ts';
import { memberSelector } from '../core/inventory.ts';
import type { KubeClient, ResourceType } from '../core/kube-port.ts';
import { groupKind, objectKey } from '../core/objects.ts';
import type { K8sObject, ObjectRef } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';

/** The cluster as the sync's verbs (apply, prune, parent, inspect) reach it. */
export interface ClusterDeps {
  kube: KubeClient;
  discovery: Discovery;
}

/** The resource type of `apiVersion`/`kind`, or an error naming them when the server serves no such kind. */
export async function resolveType(discovery: Discovery, apiVersion: string, kind: string): Promise<ResourceType> {
  const type = await discovery.resolve(apiVersion, kind);
  if (!type) throw new TetherError('kube', `the server has no resource for ${apiVersion} ${kind}`);
  return type;
}

/** Runs `fn` over `items` with at most `limit` in flight; once `signal` is aborted no new item starts. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/**
 * Lists the ApplySet's members of each group-kind (one list per kind, all at once: each is a round trip that waits on
 * nothing the others return), recording each in `live`.
 */
export async function listMembers(
  deps: ClusterDeps,
  applySetId: string,
  groupKinds: Iterable<string>,
  live: Map<string, K8sObject>,
): Promise<K8sObject[]> {
  const types = [...groupKinds]
    .map((gk) => deps.discovery.forGroupKind(gk))
    .filter((t): t is ResourceType => t?.verbs.includes('list') === true);
  const lists = await Promise.all(
    types.map((type) => deps.kube.list(type, { labelSelector: memberSelector(applySetId) })),
  );
  const out: K8sObject[] = [];
  for (const { items } of lists) {
    for (const item of items) {
      live.set(objectKey(item), item);
      out.push(item);
    }
  }
  return out;
}

/** The live object of `ref`, or undefined when it is gone or its kind is no longer served. */
export async function fetchRef(deps: ClusterDeps, ref: ObjectRef): Promise<K8sObject | undefined> {
  const type = deps.discovery.forGroupKind(groupKind(ref));
  if (!type) return undefined;
  return deps.kube.get(type, ref.name, ref.namespace);
}
