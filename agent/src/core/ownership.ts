// One owner per object: before Tether applies an object that is already live, it checks who manages it. Two GitOps
// owners of one object fight forever (each heal relabels it, the other sees its member vanish and re-applies), and
// the loser prunes the winner's copy when its Git drops it; so an object another ApplySet, Argo CD or Flux manages
// is never taken over. Pure: the caller reads the live object.
import { APPLYSET } from './inventory.ts';
import { annotation, label } from './objects.ts';
import type { K8sObject } from './types.ts';

/** Labels and annotations other GitOps tools mark their objects with. */
export const FOREIGN_OWNER_MARKS = {
  /** Argo CD's default tracking label (https://argo-cd.readthedocs.io/en/stable/user-guide/resource_tracking/). */
  argoInstanceLabel: 'app.kubernetes.io/instance',
  /** Argo CD's annotation tracking: `<app>:<group>/<kind>:<namespace>/<name>`. */
  argoTrackingAnnotation: 'argocd.argoproj.io/tracking-id',
  /** Flux kustomize-controller's owner labels (https://fluxcd.io/flux/components/kustomize/kustomizations/). */
  fluxKustomizationName: 'kustomize.toolkit.fluxcd.io/name',
  fluxKustomizationNamespace: 'kustomize.toolkit.fluxcd.io/namespace',
  /** Flux helm-controller's owner labels. */
  fluxHelmReleaseName: 'helm.toolkit.fluxcd.io/name',
  fluxHelmReleaseNamespace: 'helm.toolkit.fluxcd.io/namespace',
} as const;

/** Who manages a live object, as far as Tether can tell from its labels and annotations. */
export type Ownership =
  /** A member of this app's ApplySet. */
  | { owner: 'self' }
  /** Nobody Tether knows of: it may be adopted (and is recorded as adopted). */
  | { owner: 'none' }
  /** Another app's ApplySet, or another tool: not taken over. `description` names it; `applySetId` if an ApplySet. */
  | { owner: 'other'; description: string; applySetId?: string };

/**
 * Who owns `live`, for the app whose ApplySet id is `applySetId`. Argo CD counts when its tracking annotation is
 * present (annotation tracking, with or without the instance label): the instance label alone is also set by
 * ordinary Helm charts, so it says nothing by itself. Flux counts when both its name and namespace labels are set.
 */
export function ownerOf(live: K8sObject, applySetId: string): Ownership {
  const partOf = label(live, APPLYSET.partOfLabel);
  if (partOf === applySetId) return { owner: 'self' };
  if (partOf !== undefined) {
    return { owner: 'other', description: `owned by another ApplySet (${partOf})`, applySetId: partOf };
  }
  const m = FOREIGN_OWNER_MARKS;
  const tracking = annotation(live, m.argoTrackingAnnotation);
  if (tracking !== undefined) {
    const app = label(live, m.argoInstanceLabel) ?? tracking.split(':')[0];
    return { owner: 'other', description: `managed by Argo CD application ${app}` };
  }
  const flux = (kind: string, name: string, namespace: string) => {
    const n = label(live, name);
    const ns = label(live, namespace);
    return n !== undefined && ns !== undefined ? `managed by Flux ${kind} ${ns}/${n}` : undefined;
  };
  const byFlux =
    flux('Kustomization', m.fluxKustomizationName, m.fluxKustomizationNamespace) ??
    flux('HelmRelease', m.fluxHelmReleaseName, m.fluxHelmReleaseNamespace);
  if (byFlux) return { owner: 'other', description: byFlux };
  return { owner: 'none' };
}

/**
 * The owner of another ApplySet described by its parent (found by its id label): `owned by the ApplySet of
 * ConfigMap/tether-system/tether-web (tether/v1)`, which names the app or tool, where the id alone is a hash.
 */
export function describeApplySetOwner(parent: K8sObject): string {
  const tooling = annotation(parent, APPLYSET.toolingAnnotation);
  const where = parent.metadata.namespace ? `${parent.metadata.namespace}/` : '';
  return `owned by the ApplySet of ${parent.kind}/${where}${parent.metadata.name}${tooling ? ` (${tooling})` : ''}`;
}
