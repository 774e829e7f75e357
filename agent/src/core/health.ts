// Health of objects and apps. The rules follow kstatus (sigs.k8s.io/cli-utils pkg/kstatus/status, files
// generic.go and core.go) so Tether agrees with Flux and kpt on when a rollout is done, and are stricter where
// kstatus is lax for a deploy tool: kstatus calls a running Job and a Failed Pod Current and never looks at image
// pull errors or load balancer ingress; Argo CD's health checks (gitops-engine pkg/health) treat them as Tether does.

import { isRecord } from '../../../shared/src/is-record.ts';
import { subject } from './objects.ts';
import type { HealthResult, HealthStatus, K8sObject, ObjectRef } from './types.ts';

/**
 * Health from best to worst; an app's health is its worst object's. Degraded is worst: something failed and needs a
 * person, and nothing may hide it. Missing is next: an object Git asks for does not exist, so the sync has not taken
 * effect. Unknown ranks above Progressing because a status that cannot be read must never pass for one that is
 * about to be fine (it would turn a commit status green too early). Progressing is expected to resolve by itself.
 * Suspended is a deliberate choice (a paused rollout, a suspended CronJob): not converging, but on purpose, so it
 * only outranks Healthy.
 */
export const HEALTH_ORDER: readonly HealthStatus[] = [
  'Healthy',
  'Suspended',
  'Progressing',
  'Unknown',
  'Missing',
  'Degraded',
];

/** Positive when `a` is worse than `b`. */
export function compareHealth(a: HealthStatus, b: HealthStatus): number {
  return HEALTH_ORDER.indexOf(a) - HEALTH_ORDER.indexOf(b);
}

type Json = Record<string, unknown>;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function get(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const p of path.split('.')) v = isRecord(v) ? v[p] : undefined;
  return v;
}

/** An integer field, or the fallback when absent (the defaults kstatus uses, e.g. spec.replicas = 1). */
function int(obj: unknown, path: string, fallback: number): number {
  const v = get(obj, path);
  return typeof v === 'number' ? v : fallback;
}

function str(obj: unknown, path: string): string | undefined {
  const v = get(obj, path);
  return typeof v === 'string' ? v : undefined;
}

function conditions(obj: unknown): Condition[] {
  const c = get(obj, 'status.conditions');
  if (!Array.isArray(c)) return [];
  return c.filter((x): x is Condition => isRecord(x) && typeof x.type === 'string' && typeof x.status === 'string');
}

function condition(obj: unknown, type: string): Condition | undefined {
  return conditions(obj).find((c) => c.type === type);
}

function explain(c: Condition): string {
  return [c.reason, c.message].filter(Boolean).join(': ');
}

type Verdict = { status: HealthStatus; why: string };
const v = (status: HealthStatus, why: string): Verdict => ({ status, why });

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// kstatus core.go deploymentConditions, plus paused → Suspended (Argo CD).
function deployment(o: K8sObject): Verdict {
  const spec = int(o, 'spec.replicas', 1);
  const replicas = int(o, 'status.replicas', 0);
  const updated = int(o, 'status.updatedReplicas', 0);
  const ready = int(o, 'status.readyReplicas', 0);
  const available = int(o, 'status.availableReplicas', 0);
  const progressingCond = condition(o, 'Progressing');
  if (progressingCond?.reason === 'ProgressDeadlineExceeded') {
    return v('Degraded', `progress deadline exceeded${progressingCond.message ? `: ${progressingCond.message}` : ''}`);
  }
  if (spec > replicas) return v('Progressing', `${replicas} of ${plural(spec, 'replica')} created`);
  if (spec > updated) return v('Progressing', `${updated} of ${plural(spec, 'replica')} updated`);
  if (replicas > spec) return v('Progressing', `${plural(replicas - spec, 'old replica')} pending termination`);
  if (updated > available) return v('Progressing', `${available} of ${updated} updated replicas available`);
  if (spec > ready) return v('Progressing', `${ready} of ${plural(spec, 'replica')} ready`);
  // Without progressDeadlineSeconds the controller never sets Progressing, so it cannot be waited for.
  const hasDeadline = get(o, 'spec.progressDeadlineSeconds') !== undefined;
  const rsAvailable =
    !hasDeadline || (progressingCond?.status === 'True' && progressingCond.reason === 'NewReplicaSetAvailable');
  if (!rsAvailable) return v('Progressing', 'waiting for the new ReplicaSet to become available');
  if (condition(o, 'Available')?.status !== 'True')
    return v('Progressing', 'Deployment does not have minimum availability');
  return v('Healthy', `${available} of ${plural(spec, 'replica')} available`);
}

// kstatus core.go stsConditions, with the updated count reported before the current one.
function statefulSet(o: K8sObject): Verdict {
  if (str(o, 'spec.updateStrategy.type') === 'OnDelete') return v('Healthy', 'uses the OnDelete update strategy');
  const spec = int(o, 'spec.replicas', 1);
  const replicas = int(o, 'status.replicas', 0);
  const ready = int(o, 'status.readyReplicas', 0);
  const current = int(o, 'status.currentReplicas', 0);
  const updated = int(o, 'status.updatedReplicas', 0);
  const partition = int(o, 'spec.updateStrategy.rollingUpdate.partition', -1);
  if (spec > replicas) return v('Progressing', `${replicas} of ${plural(spec, 'replica')} created`);
  if (spec > ready) return v('Progressing', `${ready} of ${plural(spec, 'replica')} ready`);
  if (replicas > spec) return v('Progressing', `${plural(replicas - spec, 'old replica')} pending termination`);
  if (partition > 0) {
    // https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#partitions
    const target = Math.max(0, spec - partition);
    if (updated < target)
      return v('Progressing', `${updated} of ${target} replicas above partition ${partition} updated`);
    return v('Healthy', `partitioned rollout complete: ${updated} updated`);
  }
  const currentRev = str(o, 'status.currentRevision') ?? '';
  const updateRev = str(o, 'status.updateRevision') ?? '';
  if (currentRev !== updateRev) {
    if (spec > updated) return v('Progressing', `${updated} of ${plural(spec, 'replica')} updated`);
    return v('Progressing', `waiting for revision ${updateRev} to replace ${currentRev}`);
  }
  if (spec > current) return v('Progressing', `${current} of ${plural(spec, 'replica')} current`);
  return v('Healthy', `${plural(ready, 'replica')} ready`);
}

// kstatus core.go daemonsetConditions; OnDelete skips the updated count (pods update only when deleted), as Argo CD.
function daemonSet(o: K8sObject): Verdict {
  if (get(o, 'status.observedGeneration') === undefined) return v('Progressing', 'not yet observed by its controller');
  const desired = int(o, 'status.desiredNumberScheduled', -1);
  const scheduled = int(o, 'status.currentNumberScheduled', 0);
  const updated = int(o, 'status.updatedNumberScheduled', 0);
  const available = int(o, 'status.numberAvailable', 0);
  const ready = int(o, 'status.numberReady', 0);
  const unavailable = int(o, 'status.numberUnavailable', 0);
  if (desired < 0) return v('Progressing', 'desired number of pods not yet computed');
  if (desired > scheduled) return v('Progressing', `${scheduled} of ${plural(desired, 'pod')} scheduled`);
  const onDelete = str(o, 'spec.updateStrategy.type') === 'OnDelete';
  if (!onDelete && desired > updated) return v('Progressing', `${updated} of ${plural(desired, 'pod')} updated`);
  if (desired > available || unavailable > 0) {
    return v('Progressing', `${available} of ${plural(desired, 'pod')} available`);
  }
  if (desired > ready) return v('Progressing', `${ready} of ${plural(desired, 'pod')} ready`);
  return v('Healthy', `${plural(desired, 'pod')} ready`);
}

// kstatus core.go replicasetConditions.
function replicaSet(o: K8sObject): Verdict {
  const failure = condition(o, 'ReplicaFailure');
  if (failure?.status === 'True') return v('Progressing', `replica failure: ${explain(failure)}`);
  const spec = int(o, 'spec.replicas', 1);
  const replicas = int(o, 'status.replicas', 0);
  const ready = int(o, 'status.readyReplicas', 0);
  const available = int(o, 'status.availableReplicas', 0);
  if (spec > available) return v('Progressing', `${available} of ${plural(spec, 'replica')} available`);
  if (spec > ready) return v('Progressing', `${ready} of ${plural(spec, 'replica')} ready`);
  if (replicas > spec) return v('Progressing', `${plural(replicas - spec, 'replica')} pending termination`);
  return v('Healthy', `${plural(available, 'replica')} available`);
}

/** Waiting reasons after which a container will not start without a change: the Pod is Degraded. */
const BAD_WAITING_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

// kstatus core.go podConditions, stricter: Failed and image pull errors are Degraded (kstatus: Current/InProgress).
function pod(o: K8sObject): Verdict {
  const phase = str(o, 'status.phase');
  if (phase === 'Succeeded') return v('Healthy', 'completed');
  if (phase === 'Failed') {
    const why = [str(o, 'status.reason'), str(o, 'status.message')].filter(Boolean).join(': ');
    return v('Degraded', `failed${why ? `: ${why}` : ''}`);
  }
  for (const field of [
    'status.initContainerStatuses',
    'status.containerStatuses',
    'status.ephemeralContainerStatuses',
  ]) {
    const statuses = get(o, field);
    if (!Array.isArray(statuses)) continue;
    for (const cs of statuses) {
      const reason = str(cs, 'state.waiting.reason');
      if (reason && BAD_WAITING_REASONS.has(reason)) {
        const msg = str(cs, 'state.waiting.message');
        return v('Degraded', `container ${str(cs, 'name') ?? '?'}: ${reason}${msg ? `: ${msg}` : ''}`);
      }
    }
  }
  if (phase === 'Running') {
    if (condition(o, 'Ready')?.status === 'True') return v('Healthy', 'running and ready');
    return v('Progressing', 'running but not ready');
  }
  if (phase === 'Pending') {
    const scheduled = condition(o, 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      // kstatus fails after 15 s; a cluster autoscaler may still add a node, and this core has no clock.
      return v('Progressing', `unschedulable${scheduled.message ? `: ${scheduled.message}` : ''}`);
    }
    return v('Progressing', 'pending');
  }
  if (phase === undefined) return v('Progressing', 'not yet scheduled');
  // `Unknown`: the node stopped reporting.
  return v('Unknown', `phase ${phase}`);
}

// kstatus core.go jobConditions, stricter: kstatus calls a started Job Current; a deploy is not done until it is.
function job(o: K8sObject): Verdict {
  const parallelism = int(o, 'spec.parallelism', 1);
  const completions = int(o, 'spec.completions', parallelism);
  const succeeded = int(o, 'status.succeeded', 0);
  const active = int(o, 'status.active', 0);
  const failedPods = int(o, 'status.failed', 0);
  for (const type of ['Failed', 'FailureTarget']) {
    const c = condition(o, type);
    if (c?.status === 'True') return v('Degraded', `failed${explain(c) ? `: ${explain(c)}` : ''}`);
  }
  if (condition(o, 'Complete')?.status === 'True')
    return v('Healthy', `completed: ${succeeded} of ${completions} succeeded`);
  if (condition(o, 'Suspended')?.status === 'True' || get(o, 'spec.suspend') === true)
    return v('Suspended', 'suspended');
  if (!str(o, 'status.startTime')) return v('Progressing', 'not started');
  return v('Progressing', `running: ${active} active, ${succeeded} of ${completions} succeeded, ${failedPods} failed`);
}

function pvc(o: K8sObject): Verdict {
  const phase = str(o, 'status.phase') ?? 'Pending';
  if (phase === 'Bound') return v('Healthy', 'bound');
  if (phase === 'Lost') return v('Degraded', 'lost its volume');
  return v('Progressing', `not bound (phase ${phase})`);
}

function pv(o: K8sObject): Verdict {
  const phase = str(o, 'status.phase') ?? 'Pending';
  if (phase === 'Failed')
    return v('Degraded', `failed${str(o, 'status.message') ? `: ${str(o, 'status.message')}` : ''}`);
  if (phase === 'Pending') return v('Progressing', 'pending');
  return v('Healthy', phase.toLowerCase());
}

// Stricter than kstatus (which only waits for a clusterIP): a LoadBalancer is not usable until it has an address.
function service(o: K8sObject): Verdict {
  if (str(o, 'spec.type') !== 'LoadBalancer') return v('Healthy', 'ready');
  const ingress = get(o, 'status.loadBalancer.ingress');
  if (!Array.isArray(ingress) || ingress.length === 0) return v('Progressing', 'waiting for a load balancer address');
  const first = ingress[0] as Json;
  return v('Healthy', `load balancer at ${String(first.ip ?? first.hostname ?? '?')}`);
}

// kstatus core.go crdConditions.
function crd(o: K8sObject): Verdict {
  const names = condition(o, 'NamesAccepted');
  if (names?.status === 'False') return v('Degraded', `names not accepted: ${explain(names)}`);
  const established = condition(o, 'Established');
  if (established?.status === 'True') return v('Healthy', 'established');
  if (established?.status === 'False' && established.reason !== 'Installing') {
    return v('Degraded', `not established: ${explain(established)}`);
  }
  return v('Progressing', 'not yet established');
}

/** Rules per `group/Kind`, after the generic checks (kstatus core.go `legacyTypes`). */
const KIND_RULES: Record<string, (o: K8sObject) => Verdict> = {
  'apps/Deployment': deployment,
  'apps/StatefulSet': statefulSet,
  'apps/DaemonSet': daemonSet,
  'apps/ReplicaSet': replicaSet,
  '/Pod': pod,
  'batch/Job': job,
  '/PersistentVolumeClaim': pvc,
  '/PersistentVolume': pv,
  '/Service': service,
  'apiextensions.k8s.io/CustomResourceDefinition': crd,
};

function kindKey(o: K8sObject): string {
  const slash = o.apiVersion.indexOf('/');
  return `${slash < 0 ? '' : o.apiVersion.slice(0, slash)}/${o.kind}`;
}

function assess(o: K8sObject): Verdict {
  // kstatus generic.go checkGenericProperties: a deletion in progress, then an unobserved generation.
  if (o.metadata.deletionTimestamp) return v('Progressing', 'being deleted');
  const key = kindKey(o);
  // Deliberate pauses come before the generation check: a paused Deployment is Suspended whatever else it shows.
  if (key === 'apps/Deployment' && get(o, 'spec.paused') === true) return v('Suspended', 'rollout paused');
  if (key === 'batch/CronJob' && get(o, 'spec.suspend') === true) return v('Suspended', 'suspended');
  const generation = get(o, 'metadata.generation');
  const observed = get(o, 'status.observedGeneration');
  if (typeof generation === 'number' && typeof observed === 'number' && observed !== generation) {
    return v('Progressing', `generation ${generation} not yet observed (observed ${observed})`);
  }
  // The standard conditions of https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus/README.md
  for (const c of conditions(o)) {
    if (c.type === 'Stalled' && c.status === 'True')
      return v('Degraded', `stalled${explain(c) ? `: ${explain(c)}` : ''}`);
    if (c.type === 'Reconciling' && c.status === 'True') {
      return v('Progressing', `reconciling${explain(c) ? `: ${explain(c)}` : ''}`);
    }
  }
  const rule = KIND_RULES[key];
  if (rule) return rule(o);
  // Custom resources: a Ready condition is the common convention (Flux, cert-manager, Crossplane). Ready=False
  // without Stalled is reported as Progressing, as kstatus would: the controller may still get there.
  const ready = condition(o, 'Ready');
  if (ready?.status === 'True') return v('Healthy', 'ready');
  if (ready) return v('Progressing', `not ready${explain(ready) ? `: ${explain(ready)}` : ''}`);
  // kstatus: without known conditions a resource is Current (ConfigMaps, RBAC, CronJobs, …).
  return v('Healthy', 'no status to wait for');
}

/** The health of one live object, with a message naming it: `Deployment/web/api: 1 of 3 replicas updated`. */
export function healthOf(live: K8sObject): HealthResult {
  const who = subject(live);
  let verdict: Verdict;
  try {
    verdict = assess(live);
  } catch (err) {
    verdict = v('Unknown', `cannot read status: ${(err as Error).message}`);
  }
  return { status: verdict.status, message: `${who}: ${verdict.why}`, subject: who };
}

/** The health of an object Git asks for: Missing when it is not in the cluster, else `healthOf(live)`. */
export function objectHealth(ref: ObjectRef, live: K8sObject | undefined): HealthResult {
  if (!live) {
    const who = subject(ref);
    return { status: 'Missing', message: `${who}: not found in the cluster`, subject: who };
  }
  return healthOf(live);
}

/** An app's health: its worst object's, saying how many others share that status. */
export function appHealth(results: readonly HealthResult[]): HealthResult {
  if (results.length === 0) return { status: 'Healthy', message: 'no objects' };
  let worst = results[0]!;
  for (const r of results) if (compareHealth(r.status, worst.status) > 0) worst = r;
  if (worst.status === 'Healthy') return { status: 'Healthy', message: `${plural(results.length, 'object')} healthy` };
  const others = results.filter((r) => r.status === worst.status).length - 1;
  const message = others > 0 ? `${worst.message} (and ${others} more ${worst.status})` : worst.message;
  return worst.subject ? { status: worst.status, message, subject: worst.subject } : { status: worst.status, message };
}
