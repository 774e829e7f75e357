import { type ApplySetParentRef, parentObject, readAdopted, readParent } from '../core/inventory.ts';
import type { ResourceType } from '../core/kube-port.ts';
import type { K8sObject, ObjectRef } from '../core/types.ts';
import { KubeApiError } from '../edges/kube/kube-client.ts';
import { type ClusterDeps, resolveType } from './cluster.ts';

/** The ApplySet parent of an app as live now: its type, the object (if any) and the members it records. */
export interface ParentState {
  type: ResourceType;
  live: K8sObject | undefined;
  members: ObjectRef[];
  /** The members Tether adopted rather than created. */
  adopted: ObjectRef[];
}

/** Reads the app's ApplySet parent and the members it records (none when it does not exist yet). */
export async function readParentState(deps: ClusterDeps, ref: ApplySetParentRef): Promise<ParentState> {
  const type = await resolveType(deps.discovery, `${ref.group ? `${ref.group}/` : ''}${ref.version}`, ref.kind);
  const live = await deps.kube.get(type, ref.name, ref.namespace);
  return { type, live, members: readParent(ref, live), adopted: readAdopted(ref, live) };
}

/**
 * Applies the parent recording `members` (and which of them were `adopted`, the encoded applied record and the synced
 * revision), unless the live parent already says exactly that (no write on a no-op).
 * When the parent's namespace is missing, it is created and the write retried once.
 */
export async function writeParent(
  deps: ClusterDeps,
  ref: ApplySetParentRef,
  type: ResourceType,
  live: K8sObject | undefined,
  members: ObjectRef[],
  adopted: readonly ObjectRef[] = [],
  extra: { applied?: string; revision?: string; spec?: string } = {},
): Promise<K8sObject> {
  const desired = parentObject(ref, members, { adopted, ...extra });
  if (live && sameParent(desired, live)) return live;
  try {
    return (await deps.kube.apply(type, desired)).object;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404 && err.reason === 'NotFound') {
      const nsType = await resolveType(deps.discovery, 'v1', 'Namespace');
      await deps.kube.apply(nsType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ref.namespace } });
      return (await deps.kube.apply(type, desired)).object;
    }
    throw err;
  }
}

/** Whether `live` carries the labels, annotations and data of `desired` (other fields are not the parent's). */
function sameParent(desired: K8sObject, live: K8sObject): boolean {
  const pick = (o: K8sObject) =>
    JSON.stringify([
      Object.entries(desired.metadata.labels ?? {}).map(([k]) => [k, o.metadata.labels?.[k]]),
      Object.entries(desired.metadata.annotations ?? {}).map(([k]) => [k, o.metadata.annotations?.[k]]),
      o.data,
      o.binaryData,
    ]);
  return pick(desired) === pick(live);
}
