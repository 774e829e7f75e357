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
  /**
   * Another app's ApplySet, or another tool: not taken over. `description` names it; `applySetId` if an ApplySet,
   * `tool` when Argo CD or Flux (which an app's `takeOver` may name).
   */
  | { owner: 'other'; description: string; applySetId?: string; tool?: ForeignTool };

/** The GitOps tools whose objects an app may take over (`takeOver` in its configuration). */
export type ForeignTool = 'argocd' | 'flux';

/**
 * The JSON merge patch that lets another tool go of an object Tether takes over: Argo CD's tracking annotation and
 * Flux's owner labels are removed, so that neither tool counts it as its own any more (Flux only deletes objects
 * that carry its labels; Argo CD's annotation tracking reads the annotation). `app.kubernetes.io/instance` is kept:
 * charts select on it and it does not claim ownership by itself (see ownerOf). An object carrying nothing to
 * remove gets no patch (undefined).
 */
export function releasePatch(live: K8sObject, tool: ForeignTool): object | undefined {
  const m = FOREIGN_OWNER_MARKS;
  const annotations = tool === 'argocd' ? [m.argoTrackingAnnotation] : [];
  const labels =
    tool === 'flux'
      ? [m.fluxKustomizationName, m.fluxKustomizationNamespace, m.fluxHelmReleaseName, m.fluxHelmReleaseNamespace]
      : [];
  const drop = (keys: string[], have: Record<string, string> | undefined) =>
    Object.fromEntries(keys.filter((k) => have?.[k] !== undefined).map((k) => [k, null]));
  const a = drop(annotations, live.metadata.annotations);
  const l = drop(labels, live.metadata.labels);
  if (Object.keys(a).length === 0 && Object.keys(l).length === 0) return undefined;
  return {
    metadata: { ...(Object.keys(a).length ? { annotations: a } : {}), ...(Object.keys(l).length ? { labels: l } : {}) },
  };
}

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
    return { owner: 'other', description: `managed by Argo CD application ${app}`, tool: 'argocd' };
  }
  const flux = (kind: string, name: string, namespace: string) => {
    const n = label(live, name);
    const ns = label(live, namespace);
    return n !== undefined && ns !== undefined ? `managed by Flux ${kind} ${ns}/${n}` : undefined;
  };
  const byFlux =
    flux('Kustomization', m.fluxKustomizationName, m.fluxKustomizationNamespace) ??
    flux('HelmRelease', m.fluxHelmReleaseName, m.fluxHelmReleaseNamespace);
  if (byFlux) return { owner: 'other', description: byFlux, tool: 'flux' };
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
