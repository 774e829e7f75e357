// Health of objects and apps. The rules follow kstatus (sigs.k8s.io/cli-utils pkg/kstatus/status, files generic.go
// and core.go) so Tether agrees with Flux and kpt on when a rollout is done, and are stricter where kstatus is lax
// for a deploy tool: kstatus calls a running Job and a Failed Pod Current and never looks at image pull errors or
// load balancer ingress; Argo CD's health checks (gitops-engine pkg/health) treat them as Tether does. Each kind's
// rule says which reference it follows; the README has the table of where Tether differs from both.
//
// Time-based verdicts read the clock from the context (`now`), never from the machine, so the same inputs always
// give the same verdict. Without a clock no window is known to have passed and the verdict stays Progressing.

import { isRecord } from '../../../shared/src/is-record.ts';
import { defaultHealthRules, evaluateHealthRule, type HealthRules } from './health-cel.ts';
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

/** What besides the live object a verdict may depend on. */
export interface HealthContext {
  /** The clock (milliseconds since the epoch) that time windows are judged against; absent: no window has passed. */
  now?: number;
  /**
   * The object as Git asks for it. Suspended is reported only when it asks to suspend or pause; a live object that
   * is paused while Git does not ask for it (or a stale Suspended condition) is not a success. Absent: the live
   * object's own spec is taken as what was asked.
   */
  desired?: K8sObject;
  /** CEL health rules by group/kind (the config's ahead of the built-in ones); absent: the built-in ones. */
  rules?: HealthRules;
}

/**
 * How long a Pod may stay unschedulable before it is Degraded. kstatus fails it at once; a cluster autoscaler
 * usually adds a node within a minute, so Tether waits that long (Argo CD never fails it).
 */
export const UNSCHEDULABLE_WINDOW_MS = 60_000;
/**
 * How long after a container's last abnormal exit a Pod that keeps restarting counts as crash-looping. Ten minutes
 * is when the kubelet itself forgives a container and resets its restart back-off
 * (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts).
 */
export const CRASH_LOOP_WINDOW_MS = 10 * 60_000;
/** Restarts after which a container that exited abnormally within the window is crash-looping, not unlucky. */
export const CRASH_LOOP_RESTARTS = 2;
/**
 * How long an APIService or an HPA's metrics may stay unavailable before it is Degraded: long enough for the
 * backing Deployment of a freshly applied APIService, or for metrics-server's first scrape, to come up.
 */
export const UNAVAILABLE_WINDOW_MS = 60_000;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
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

/** Milliseconds since an ISO timestamp by the context's clock, or undefined when either is missing. */
function elapsed(ctx: HealthContext, since: string | undefined): number | undefined {
  if (ctx.now === undefined || since === undefined) return undefined;
  const t = Date.parse(since);
  return Number.isNaN(t) ? undefined : ctx.now - t;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
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

/**
 * A container that keeps exiting abnormally, also while it runs between two restarts (when its waiting reason is
 * gone and, without a readiness probe, it may even be Ready): restarted at least CRASH_LOOP_RESTARTS times and last
 * exited abnormally within CRASH_LOOP_WINDOW_MS. Without a clock only the restart count and exit are known, which
 * is not enough: no verdict.
 */
function crashLooping(cs: unknown, ctx: HealthContext): string | undefined {
  const restarts = int(cs, 'restartCount', 0);
  const last = get(cs, 'lastState.terminated');
  if (restarts < CRASH_LOOP_RESTARTS || !isRecord(last)) return undefined;
  const exitCode = typeof last.exitCode === 'number' ? last.exitCode : 0;
  const reason = typeof last.reason === 'string' ? last.reason : undefined;
  if (exitCode === 0 && reason !== 'OOMKilled') return undefined;
  const ago = elapsed(ctx, typeof last.finishedAt === 'string' ? last.finishedAt : undefined);
  if (ago === undefined || ago > CRASH_LOOP_WINDOW_MS) return undefined;
  const why = reason ?? `exit code ${exitCode}`;
  return `container ${str(cs, 'name') ?? '?'}: crash loop: restarted ${restarts} times, last exit ${why} ${seconds(ago)} ago`;
}

// kstatus core.go podConditions, stricter: Failed and image pull errors are Degraded (kstatus: Current/InProgress).
// A crash loop is Degraded both while backing off (kstatus, Argo CD) and while running between restarts (Argo CD
// calls a not-ready Pod with any past termination Degraded; Tether asks for repeated, recent, abnormal exits so a
// Pod that restarted once is not failed). Unschedulable is Degraded after UNSCHEDULABLE_WINDOW_MS (kstatus: at once).
function pod(o: K8sObject, ctx: HealthContext): Verdict {
  const phase = str(o, 'status.phase');
  if (phase === 'Succeeded') return v('Healthy', 'completed');
  if (phase === 'Failed') {
    const why = [str(o, 'status.reason'), str(o, 'status.message')].filter(Boolean).join(': ');
    return v('Degraded', `failed${why ? `: ${why}` : ''}`);
  }
  const restartAlways = (str(o, 'spec.restartPolicy') ?? 'Always') === 'Always';
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
      const looping = restartAlways ? crashLooping(cs, ctx) : undefined;
      if (looping) return v('Degraded', looping);
    }
  }
  if (phase === 'Running') {
    if (condition(o, 'Ready')?.status === 'True') return v('Healthy', 'running and ready');
    return v('Progressing', 'running but not ready');
  }
  if (phase === 'Pending') {
    const scheduled = condition(o, 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      const why = scheduled.message ? `: ${scheduled.message}` : '';
      const ago = elapsed(ctx, scheduled.lastTransitionTime);
      if (ago !== undefined && ago >= UNSCHEDULABLE_WINDOW_MS) {
        return v('Degraded', `unschedulable for ${seconds(ago)}${why}`);
      }
      return v('Progressing', `unschedulable${why}`);
    }
    return v('Progressing', 'pending');
  }
  if (phase === undefined) return v('Progressing', 'not yet scheduled');
  // `Unknown`: the node stopped reporting.
  return v('Unknown', `phase ${phase}`);
}

// kstatus core.go jobConditions, stricter: kstatus calls a started Job Current; a deploy is not done until it is.
// Suspended follows spec.suspend as Git asks for it, never the Suspended condition alone: after Git resumes a Job
// the controller clears that condition only on its next pass, and Argo CD (which reads the condition) reports the
// resumed Job Suspended meanwhile.
function job(o: K8sObject, ctx: HealthContext): Verdict {
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
  const asked = get(ctx.desired ?? o, 'spec.suspend') === true;
  const live = get(o, 'spec.suspend') === true;
  if (asked && live) return v('Suspended', 'suspended');
  if (live) return v('Progressing', 'suspended, but Git does not ask for it');
  if (condition(o, 'Suspended')?.status === 'True')
    return v('Progressing', 'resuming (Suspended condition not yet cleared)');
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

function loadBalancerAddress(o: K8sObject): string | undefined {
  const ingress = get(o, 'status.loadBalancer.ingress');
  if (!Array.isArray(ingress)) return undefined;
  const first = ingress.find((i) => isRecord(i) && (i.ip || i.hostname)) as Json | undefined;
  return first ? String(first.ip ?? first.hostname) : undefined;
}

// Argo CD's Service rule; stricter than kstatus (which only waits for a clusterIP): a LoadBalancer is not usable
// until it has an address. The same rule as Ingress, so the two read alike.
function service(o: K8sObject): Verdict {
  if (str(o, 'spec.type') !== 'LoadBalancer') return v('Healthy', 'ready');
  const address = loadBalancerAddress(o);
  return address
    ? v('Healthy', `load balancer at ${address}`)
    : v('Progressing', 'waiting for a load balancer address');
}

// Argo CD's Ingress rule (kstatus has none and calls every Ingress Current): Progressing until the ingress
// controller publishes an address. A controller that never publishes one needs a health rule in the config.
function ingress(o: K8sObject): Verdict {
  const address = loadBalancerAddress(o);
  return address
    ? v('Healthy', `load balancer at ${address}`)
    : v('Progressing', 'waiting for a load balancer address');
}

/** The reasons the HPA controller gives when it cannot read or scale its target, or read its metrics. */
const HPA_SCALE_FAILURES = new Set(['FailedGetScale', 'FailedUpdateScale']);

// Argo CD's HPA rule (kstatus has none): the target cannot be read or scaled (AbleToScale=False) is Degraded at
// once, as in Argo CD. Metrics that cannot be read (ScalingActive=False with a Failed… or Invalid… reason) are
// Degraded after UNAVAILABLE_WINDOW_MS: right after an apply metrics-server has often not scraped the new pods yet,
// where Argo CD fails at once. ScalingActive=False/ScalingDisabled (scaled to zero on purpose) is Healthy.
function hpa(o: K8sObject, ctx: HealthContext): Verdict {
  const able = condition(o, 'AbleToScale');
  if (able?.status === 'False') {
    if (HPA_SCALE_FAILURES.has(able.reason ?? '') || able.reason === undefined)
      return v('Degraded', `cannot scale its target: ${explain(able)}`);
  }
  const active = condition(o, 'ScalingActive');
  if (active?.status === 'False' && active.reason !== 'ScalingDisabled') {
    const ago = elapsed(ctx, active.lastTransitionTime);
    if (ago !== undefined && ago >= UNAVAILABLE_WINDOW_MS)
      return v('Degraded', `scaling inactive for ${seconds(ago)}: ${explain(active)}`);
    return v('Progressing', `scaling not yet active: ${explain(active)}`);
  }
  if (!able && !active) return v('Progressing', 'waiting for the autoscaler');
  if (active?.reason === 'ScalingDisabled') return v('Healthy', 'scaling disabled');
  const current = get(o, 'status.currentReplicas');
  return v('Healthy', typeof current === 'number' ? `${plural(current, 'replica')}` : 'able to scale');
}

// Argo CD's APIService rule (kstatus has none and calls it Current): Available=True is Healthy; Available=False is
// Progressing, and Degraded once it has been so for UNAVAILABLE_WINDOW_MS (Argo CD stays Progressing forever, while
// every request to that API group fails).
function apiService(o: K8sObject, ctx: HealthContext): Verdict {
  const available = condition(o, 'Available');
  if (available?.status === 'True') return v('Healthy', 'available');
  if (!available) return v('Progressing', 'waiting to be processed');
  const ago = elapsed(ctx, available.lastTransitionTime);
  if (ago !== undefined && ago >= UNAVAILABLE_WINDOW_MS)
    return v('Degraded', `unavailable for ${seconds(ago)}: ${explain(available)}`);
  return v('Progressing', `not yet available: ${explain(available)}`);
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

/** Rules per `group/Kind`, after the generic checks (kstatus core.go `legacyTypes`, Argo CD health.go). */
const KIND_RULES: Record<string, (o: K8sObject, ctx: HealthContext) => Verdict> = {
  'apps/Deployment': deployment,
  'apps/StatefulSet': statefulSet,
  'apps/DaemonSet': daemonSet,
  'apps/ReplicaSet': replicaSet,
  '/Pod': pod,
  'batch/Job': job,
  '/PersistentVolumeClaim': pvc,
  '/PersistentVolume': pv,
  '/Service': service,
  'networking.k8s.io/Ingress': ingress,
  'extensions/Ingress': ingress,
  'autoscaling/HorizontalPodAutoscaler': hpa,
  'apiregistration.k8s.io/APIService': apiService,
  'apiextensions.k8s.io/CustomResourceDefinition': crd,
};

/**
 * API groups served by Kubernetes itself. Objects of these groups without a rule are judged by kstatus's generic
 * rules (no status to wait for is Healthy); objects of any other group are custom resources, whose status Tether
 * does not claim to understand without a rule.
 */
const BUILT_IN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'extensions',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'apiregistration.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'certificates.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'internal.apiserver.k8s.io',
  'networking.k8s.io',
  'node.k8s.io',
  'rbac.authorization.k8s.io',
  'resource.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'storagemigration.k8s.io',
]);

/** Status fields that say nothing about health by themselves. */
const NEUTRAL_STATUS_FIELDS = new Set(['observedGeneration', 'conditions']);

function groupOf(o: K8sObject): string {
  const slash = o.apiVersion.indexOf('/');
  return slash < 0 ? '' : o.apiVersion.slice(0, slash);
}

function kindKey(o: K8sObject): string {
  return `${groupOf(o)}/${o.kind}`;
}

/**
 * A deliberate pause, asked for by Git: `spec.suspend` (Jobs, CronJobs, Flux objects) or `spec.paused`
 * (Deployments, Argo Rollouts) true in the desired object and in effect on the live one. A live pause that Git does
 * not ask for is reported as such and is not a success. Jobs have their own rule (a Job that is not paused is
 * judged by how far it ran).
 */
function pause(o: K8sObject, ctx: HealthContext): Verdict | undefined {
  for (const field of ['spec.suspend', 'spec.paused']) {
    const live = get(o, field) === true;
    const asked = get(ctx.desired ?? o, field) === true;
    const what = field === 'spec.paused' ? (o.kind === 'Deployment' ? 'rollout paused' : 'paused') : 'suspended';
    if (live && asked) return v('Suspended', what);
    if (live) return v('Progressing', `${what}, but Git does not ask for it`);
  }
  return undefined;
}

function assess(o: K8sObject, ctx: HealthContext): Verdict {
  // kstatus generic.go checkGenericProperties: a deletion in progress, then an unobserved generation.
  if (o.metadata.deletionTimestamp) return v('Progressing', 'being deleted');
  const key = kindKey(o);
  // Deliberate pauses come before the generation check: a paused Deployment is Suspended whatever else it shows.
  if (key !== 'batch/Job') {
    const paused = pause(o, ctx);
    if (paused) return paused;
  }
  const generation = get(o, 'metadata.generation');
  const observed = get(o, 'status.observedGeneration');
  if (typeof generation === 'number' && typeof observed === 'number' && observed !== generation) {
    return v('Progressing', `generation ${generation} not yet observed (observed ${observed})`);
  }
  // A CEL rule for the group/kind decides from here: the config's override built-in rules and kind rules alike.
  const celRule = (ctx.rules ?? defaultHealthRules()).find(groupOf(o), o.kind);
  if (celRule) return evaluateHealthRule(celRule, o);
  // The standard conditions of https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus/README.md
  for (const c of conditions(o)) {
    if (c.type === 'Stalled' && c.status === 'True')
      return v('Degraded', `stalled${explain(c) ? `: ${explain(c)}` : ''}`);
    if (c.type === 'Reconciling' && c.status === 'True') {
      return v('Progressing', `reconciling${explain(c) ? `: ${explain(c)}` : ''}`);
    }
  }
  const rule = KIND_RULES[key];
  if (rule) return rule(o, ctx);
  // Custom resources: a Ready condition is the common convention (Flux, cert-manager, Crossplane). Ready=False
  // without Stalled is reported as Progressing, as kstatus would: the controller may still get there.
  const ready = condition(o, 'Ready');
  if (ready?.status === 'True') return v('Healthy', 'ready');
  if (ready) return v('Progressing', `not ready${explain(ready) ? `: ${explain(ready)}` : ''}`);
  // kstatus: without known conditions a resource is Current (ConfigMaps, RBAC, CronJobs, …). That holds for what
  // Kubernetes serves itself and for custom resources without a status; a custom resource whose status says
  // something no rule reads is Unknown, never Healthy: Tether cannot tell a finished rollout from a stuck one.
  const st = get(o, 'status');
  const telling = isRecord(st) ? Object.keys(st).filter((k) => !NEUTRAL_STATUS_FIELDS.has(k)) : [];
  const otherConditions = conditions(o).map((c) => c.type);
  if (!BUILT_IN_GROUPS.has(groupOf(o)) && (telling.length > 0 || otherConditions.length > 0)) {
    const fields = [...telling, ...otherConditions.map((t) => `condition ${t}`)].slice(0, 4).join(', ');
    return v('Unknown', `no health rule for ${key.replace(/^\//, '')} (status has ${fields})`);
  }
  return v('Healthy', 'no status to wait for');
}

/** The health of one live object, with a message naming it: `Deployment/web/api: 1 of 3 replicas updated`. */
export function healthOf(live: K8sObject, ctx: HealthContext = {}): HealthResult {
  const who = subject(live);
  let verdict: Verdict;
  try {
    verdict = assess(live, ctx);
  } catch (err) {
    verdict = v('Unknown', `cannot read status: ${(err as Error).message}`);
  }
  return { status: verdict.status, message: `${who}: ${verdict.why}`, subject: who };
}

/** The health of an object Git asks for: Missing when it is not in the cluster, else `healthOf(live)`. */
export function objectHealth(ref: ObjectRef, live: K8sObject | undefined, ctx: HealthContext = {}): HealthResult {
  if (!live) {
    const who = subject(ref);
    return { status: 'Missing', message: `${who}: not found in the cluster`, subject: who };
  }
  return healthOf(live, ctx);
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
