// Apply order of a sync: Namespaces and CRDs first, then by sync wave, kind and name.
import { syncWave } from './annotations.ts';
import { groupOf, isCrd, isNamespace } from './objects.ts';
import type { K8sObject, ObjectRef } from './types.ts';

/**
 * Kinds in the order they are applied within one wave. This is Helm's install order (helm/pkg/releaseutil
 * kind_sorter.go `InstallOrder`), which Argo CD's and kubectl-like tools' orders resemble: what others depend on
 * first (policy, identities, configuration, storage, RBAC), then Services before the workloads that are found through
 * them, then Ingresses, then admission webhooks last so a webhook never blocks the objects its own backend needs.
 * Entries are `group/Kind` so a custom resource that happens to be called `Service` is not mistaken for a core one.
 */
export const KIND_ORDER: readonly string[] = [
  '/Namespace',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'scheduling.k8s.io/PriorityClass',
  'networking.k8s.io/NetworkPolicy',
  '/ResourceQuota',
  '/LimitRange',
  'policy/PodDisruptionBudget',
  '/ServiceAccount',
  '/Secret',
  '/ConfigMap',
  'storage.k8s.io/StorageClass',
  '/PersistentVolume',
  '/PersistentVolumeClaim',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'rbac.authorization.k8s.io/Role',
  'rbac.authorization.k8s.io/RoleBinding',
  '/Service',
  'apps/DaemonSet',
  '/Pod',
  '/ReplicationController',
  'apps/ReplicaSet',
  'apps/Deployment',
  'autoscaling/HorizontalPodAutoscaler',
  'apps/StatefulSet',
  'batch/Job',
  'batch/CronJob',
  'networking.k8s.io/IngressClass',
  'networking.k8s.io/Ingress',
  'apiregistration.k8s.io/APIService',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
];

const kindIndex = new Map(KIND_ORDER.map((k, i) => [k, i]));

/**
 * Position of a kind in `KIND_ORDER`; kinds not listed (custom resources) come after every known kind, as in Helm,
 * because they usually need a controller from the same app to be running.
 */
export function kindRank(x: { group: string; kind: string }): number {
  return kindIndex.get(`${x.group}/${x.kind}`) ?? KIND_ORDER.length;
}

/** 0 for Namespaces, 1 for CRDs, 2 for the rest: the prerequisites are applied before any wave. */
function phase(x: { group: string; kind: string }): number {
  if (isNamespace(x)) return 0;
  if (isCrd(x)) return 1;
  return 2;
}

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two references by phase, kind order and namespace/name (the order without waves, used for pruning). */
export function compareRefs(a: ObjectRef, b: ObjectRef): number {
  return (
    phase(a) - phase(b) ||
    kindRank(a) - kindRank(b) ||
    cmp(a.group, b.group) ||
    cmp(a.kind, b.kind) ||
    cmp(a.namespace ?? '', b.namespace ?? '') ||
    cmp(a.name, b.name)
  );
}

function refLike(o: K8sObject): ObjectRef {
  return { group: groupOf(o), kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name };
}

/** Sync wave, with Namespaces and CRDs outside waves (they always come first). Throws on a bad annotation. */
function waveOf(o: K8sObject): number {
  return phase(refLike(o)) < 2 ? Number.NEGATIVE_INFINITY : syncWave(o);
}

/** Compares two objects in apply order: Namespaces, CRDs, then wave, kind order, namespace and name. */
export function compareObjects(a: K8sObject, b: K8sObject): number {
  const ra = refLike(a);
  const rb = refLike(b);
  return phase(ra) - phase(rb) || waveOf(a) - waveOf(b) || compareRefs(ra, rb);
}

/** The objects in apply order (a sorted copy). Throws a TetherError naming the object on a bad sync-wave. */
export function orderObjects(objects: readonly K8sObject[]): K8sObject[] {
  // Parse every wave once up front so a bad annotation fails before sorting, naming its object.
  for (const o of objects) waveOf(o);
  return [...objects].sort(compareObjects);
}

/** One step of a sync plan: the prerequisites (Namespaces and CRDs), or one sync wave. */
export interface PlanStep {
  /** `prerequisites` for Namespaces and CRDs; otherwise the wave number. */
  wave: 'prerequisites' | number;
  objects: K8sObject[];
}

/** An ordered sync plan: apply the steps in order, each after the previous one is ready. */
export interface SyncPlan {
  steps: PlanStep[];
}

/**
 * Splits objects into ordered steps. Waiting between steps is the flow's job: CRDs must be Established before their
 * custom resources can be applied, and, as with Argo CD's waves, a wave starts only once every object of the
 * previous wave is Healthy (core/waves.ts judges that, reconcile/waves.ts waits for it).
 */
export function planSync(objects: readonly K8sObject[]): SyncPlan {
  const steps: PlanStep[] = [];
  for (const o of orderObjects(objects)) {
    const w = waveOf(o);
    const wave = w === Number.NEGATIVE_INFINITY ? 'prerequisites' : w;
    const last = steps[steps.length - 1];
    if (last && last.wave === wave) last.objects.push(o);
    else steps.push({ wave, objects: [o] });
  }
  return { steps };
}
