import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  appHealth,
  CRASH_LOOP_WINDOW_MS,
  compareHealth,
  HEALTH_ORDER,
  type HealthContext,
  healthOf,
  objectHealth,
  UNAVAILABLE_WINDOW_MS,
  UNSCHEDULABLE_WINDOW_MS,
} from '../src/core/health.ts';
import type { HealthResult, HealthStatus, K8sObject } from '../src/core/types.ts';
import { fixture } from './load-fixture.ts';

type Json = Record<string, unknown>;
const status = (o: K8sObject) => o.status as Json;
const spec = (o: K8sObject) => o.spec as Json;

function expectHealth(o: K8sObject, want: HealthStatus, message: string | RegExp, ctx: HealthContext = {}): void {
  const h = healthOf(o, ctx);
  assert.equal(h.status, want, h.message);
  if (typeof message === 'string') assert.equal(h.message, message);
  else assert.match(h.message, message);
}

describe('health of real objects (fixtures)', () => {
  test('Deployment rolled out: Healthy', () => {
    expectHealth(fixture('deployment-available.yaml'), 'Healthy', 'Deployment/web/api: 3 of 3 replicas available');
  });

  test('Deployment mid-rollout: Progressing, 1 of 3 replicas updated', () => {
    expectHealth(fixture('deployment-mid-rollout.yaml'), 'Progressing', 'Deployment/web/api: 1 of 3 replicas updated');
  });

  test('Deployment past its progress deadline: Degraded with the controller’s message', () => {
    expectHealth(
      fixture('deployment-deadline-exceeded.yaml'),
      'Degraded',
      /^Deployment\/web\/stuck: progress deadline exceeded: ReplicaSet "stuck-[a-z0-9]+" has timed out progressing\.$/,
    );
  });

  test('Pod in ErrImagePull: Degraded, naming the container', () => {
    expectHealth(
      fixture('pod-err-image-pull.yaml'),
      'Degraded',
      /^Pod\/web\/stuck-[a-z0-9-]+: container app: ErrImagePull: failed to pull image "ghcr\.io\/acme\/stuck:broken"/,
    );
  });

  test('Pod running and ready: Healthy', () => {
    expectHealth(fixture('pod-running.yaml'), 'Healthy', /: running and ready$/);
  });

  test('PVC bound: Healthy', () => {
    expectHealth(fixture('pvc-bound.yaml'), 'Healthy', 'PersistentVolumeClaim/web/data: bound');
  });

  test('Jobs: running is Progressing, failed is Degraded, complete is Healthy', () => {
    expectHealth(
      fixture('job-running.yaml'),
      'Progressing',
      'Job/web/running: running: 1 active, 0 of 1 succeeded, 0 failed',
    );
    expectHealth(
      fixture('job-failed.yaml'),
      'Degraded',
      'Job/web/failed: failed: DeadlineExceeded: Job was active longer than specified deadline',
    );
    expectHealth(fixture('job-complete.yaml'), 'Healthy', 'Job/web/done: completed: 1 of 1 succeeded');
  });

  test('LoadBalancer Service without ingress: Progressing', () => {
    expectHealth(
      fixture('service-loadbalancer-pending.yaml'),
      'Progressing',
      'Service/web/public: waiting for a load balancer address',
    );
  });

  test('CRD established: Healthy', () => {
    expectHealth(
      fixture('crd-established.yaml'),
      'Healthy',
      'CustomResourceDefinition/widgets.example.com: established',
    );
  });

  test('StatefulSet whose new revision cannot start: Progressing', () => {
    expectHealth(fixture('statefulset-mid-rollout.yaml'), 'Progressing', 'StatefulSet/web/db: 1 of 2 replicas ready');
  });

  test('DaemonSet ready on its node: Healthy', () => {
    expectHealth(fixture('daemonset-ready.yaml'), 'Healthy', 'DaemonSet/web/agent: 1 pod ready');
  });

  test('suspended CronJob: Suspended', () => {
    expectHealth(fixture('cronjob-suspended.yaml'), 'Suspended', 'CronJob/web/nightly: suspended');
  });

  test('ConfigMap (no status): Healthy', () => {
    expectHealth(fixture('configmap-kubectl.yaml'), 'Healthy', 'ConfigMap/web/settings: no status to wait for');
  });

  test('a dry-run result (new generation, not yet observed): Progressing', () => {
    expectHealth(
      fixture('deployment-available.dry-run-new-image.yaml'),
      'Progressing',
      'Deployment/web/api: generation 2 not yet observed (observed 1)',
    );
  });
});

describe('generic rules (kstatus)', () => {
  test('an object being deleted is Progressing, whatever its status', () => {
    const o = fixture('deployment-available.yaml');
    o.metadata.deletionTimestamp = '2026-11-21T23:00:00Z';
    expectHealth(o, 'Progressing', 'Deployment/web/api: being deleted');
  });

  test('Stalled=True is Degraded; Reconciling=True is Progressing (before kind rules)', () => {
    const stalled = fixture('deployment-available.yaml');
    (status(stalled).conditions as Json[]).push({
      type: 'Stalled',
      status: 'True',
      reason: 'Oops',
      message: 'gave up',
    });
    expectHealth(stalled, 'Degraded', 'Deployment/web/api: stalled: Oops: gave up');
    const reconciling: K8sObject = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'web' },
      status: { conditions: [{ type: 'Reconciling', status: 'True', reason: 'Progressing' }] },
    };
    expectHealth(reconciling, 'Progressing', 'Widget/web/w: reconciling: Progressing');
  });

  test('custom resources: Ready decides; no status at all is Healthy', () => {
    const cr = (conditions?: Json[]): K8sObject => ({
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'web', generation: 2 },
      ...(conditions ? { status: { observedGeneration: 2, conditions } } : {}),
    });
    expectHealth(cr(), 'Healthy', 'Widget/web/w: no status to wait for');
    expectHealth(cr([{ type: 'Ready', status: 'True' }]), 'Healthy', 'Widget/web/w: ready');
    expectHealth(
      cr([{ type: 'Ready', status: 'False', reason: 'Waiting' }]),
      'Progressing',
      'Widget/web/w: not ready: Waiting',
    );
  });
});

describe('kind rules on edited fixtures', () => {
  test('a paused Deployment is Suspended', () => {
    const o = fixture('deployment-mid-rollout.yaml');
    spec(o).paused = true;
    expectHealth(o, 'Suspended', 'Deployment/web/api: rollout paused');
  });

  test('Deployment rollout steps in kstatus order', () => {
    const o = fixture('deployment-available.yaml');
    spec(o).replicas = 5;
    expectHealth(o, 'Progressing', 'Deployment/web/api: 3 of 5 replicas created');
    const surge = fixture('deployment-available.yaml');
    status(surge).replicas = 4;
    expectHealth(surge, 'Progressing', 'Deployment/web/api: 1 old replica pending termination');
    const unavailable = fixture('deployment-available.yaml');
    status(unavailable).availableReplicas = 2;
    expectHealth(unavailable, 'Progressing', 'Deployment/web/api: 2 of 3 updated replicas available');
    const notAvailable = fixture('deployment-available.yaml');
    (status(notAvailable).conditions as Json[]).find((c) => c.type === 'Available')!.status = 'False';
    expectHealth(notAvailable, 'Progressing', 'Deployment/web/api: Deployment does not have minimum availability');
  });

  test('Pods: CrashLoopBackOff and Failed are Degraded; Pending and not-ready are Progressing; phase Unknown is Unknown', () => {
    const crash = fixture('pod-running.yaml');
    const cs = (status(crash).containerStatuses as Json[])[0]!;
    cs.state = { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } };
    (status(crash).conditions as Json[]).find((c) => c.type === 'Ready')!.status = 'False';
    expectHealth(crash, 'Degraded', /: container app: CrashLoopBackOff: back-off 5m0s/);

    const failed = fixture('pod-running.yaml');
    Object.assign(status(failed), { phase: 'Failed', reason: 'Evicted', message: 'low on memory' });
    expectHealth(failed, 'Degraded', /: failed: Evicted: low on memory$/);

    const notReady = fixture('pod-running.yaml');
    (status(notReady).conditions as Json[]).find((c) => c.type === 'Ready')!.status = 'False';
    expectHealth(notReady, 'Progressing', /: running but not ready$/);

    const unschedulable = fixture('pod-running.yaml');
    unschedulable.status = {
      phase: 'Pending',
      conditions: [
        { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' },
      ],
    };
    expectHealth(unschedulable, 'Progressing', /: unschedulable: 0\/1 nodes are available$/);

    const lost = fixture('pod-running.yaml');
    status(lost).phase = 'Unknown';
    expectHealth(lost, 'Unknown', /: phase Unknown$/);

    const done = fixture('pod-running.yaml');
    status(done).phase = 'Succeeded';
    expectHealth(done, 'Healthy', /: completed$/);
  });

  test('a LoadBalancer with an ingress address is Healthy; a ClusterIP Service always is', () => {
    const lb = fixture('service-loadbalancer-pending.yaml');
    status(lb).loadBalancer = { ingress: [{ ip: '203.0.113.10' }] };
    expectHealth(lb, 'Healthy', 'Service/web/public: load balancer at 203.0.113.10');
    const cip = fixture('service-loadbalancer-pending.yaml');
    spec(cip).type = 'ClusterIP';
    expectHealth(cip, 'Healthy', 'Service/web/public: ready');
  });

  test('PVC pending or lost; CRD not yet established or rejected', () => {
    const pending = fixture('pvc-bound.yaml');
    status(pending).phase = 'Pending';
    expectHealth(pending, 'Progressing', 'PersistentVolumeClaim/web/data: not bound (phase Pending)');
    const lost = fixture('pvc-bound.yaml');
    status(lost).phase = 'Lost';
    expectHealth(lost, 'Degraded', 'PersistentVolumeClaim/web/data: lost its volume');

    const installing = fixture('crd-established.yaml');
    status(installing).conditions = [{ type: 'Established', status: 'False', reason: 'Installing' }];
    expectHealth(installing, 'Progressing', 'CustomResourceDefinition/widgets.example.com: not yet established');
    const clash = fixture('crd-established.yaml');
    status(clash).conditions = [
      { type: 'NamesAccepted', status: 'False', reason: 'MultipleNamesConflict', message: 'plural "widgets" taken' },
    ];
    expectHealth(clash, 'Degraded', /: names not accepted: MultipleNamesConflict: plural "widgets" taken$/);
  });

  test('StatefulSet: revisions must match; a partition only waits for the replicas above it', () => {
    const o = fixture('statefulset-mid-rollout.yaml');
    Object.assign(status(o), { readyReplicas: 2, updatedReplicas: 2, currentReplicas: 0 });
    expectHealth(o, 'Progressing', /^StatefulSet\/web\/db: waiting for revision db-[a-z0-9]+ to replace db-[a-z0-9]+$/);
    const partitioned = fixture('statefulset-mid-rollout.yaml');
    spec(partitioned).updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 1 } };
    Object.assign(status(partitioned), { readyReplicas: 2 });
    expectHealth(partitioned, 'Healthy', 'StatefulSet/web/db: partitioned rollout complete: 1 updated');
  });

  test('DaemonSet with an unavailable pod is Progressing; a suspended Job is Suspended', () => {
    const ds = fixture('daemonset-ready.yaml');
    Object.assign(status(ds), { numberAvailable: 0, numberUnavailable: 1 });
    expectHealth(ds, 'Progressing', 'DaemonSet/web/agent: 0 of 1 pod available');
    const job = fixture('job-running.yaml');
    spec(job).suspend = true;
    expectHealth(job, 'Suspended', 'Job/web/running: suspended');
  });
});

describe('app health', () => {
  const h = (status: HealthStatus, subject: string): HealthResult => ({ status, subject, message: `${subject}: why` });

  test('the order is Degraded > Missing > Unknown > Progressing > Suspended > Healthy', () => {
    assert.deepEqual([...HEALTH_ORDER].reverse(), [
      'Degraded',
      'Missing',
      'Unknown',
      'Progressing',
      'Suspended',
      'Healthy',
    ]);
    assert.ok(compareHealth('Degraded', 'Missing') > 0);
    assert.ok(compareHealth('Suspended', 'Healthy') > 0);
    assert.equal(compareHealth('Unknown', 'Unknown'), 0);
  });

  test('the worst object decides, and the message names it and counts its peers', () => {
    const all = [h('Healthy', 'A'), h('Progressing', 'B'), h('Missing', 'C'), h('Unknown', 'D'), h('Progressing', 'E')];
    assert.deepEqual(appHealth(all), { status: 'Missing', message: 'C: why', subject: 'C' });
    assert.deepEqual(appHealth([...all, h('Degraded', 'F'), h('Degraded', 'G')]), {
      status: 'Degraded',
      message: 'F: why (and 1 more Degraded)',
      subject: 'F',
    });
    assert.equal(appHealth([h('Suspended', 'S'), h('Progressing', 'P')]).status, 'Progressing');
  });

  test('all healthy, or no objects at all, is Healthy', () => {
    assert.deepEqual(appHealth([h('Healthy', 'A'), h('Healthy', 'B')]), {
      status: 'Healthy',
      message: '2 objects healthy',
    });
    assert.deepEqual(appHealth([]), { status: 'Healthy', message: 'no objects' });
  });

  test('an object Git wants that is not in the cluster is Missing', () => {
    assert.deepEqual(objectHealth({ group: 'apps', kind: 'Deployment', namespace: 'web', name: 'api' }, undefined), {
      status: 'Missing',
      message: 'Deployment/web/api: not found in the cluster',
      subject: 'Deployment/web/api',
    });
    assert.equal(
      objectHealth({ group: '', kind: 'ConfigMap', name: 'x' }, fixture('configmap-kubectl.yaml')).status,
      'Healthy',
    );
  });

  test('a status that cannot be read is Unknown, not a crash', () => {
    const broken = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', namespace: 'web' },
      status: null,
    };
    // Malformed but parseable status is read with defaults; a throwing getter stands in for a truly broken object.
    const throwing = Object.defineProperty({ ...broken }, 'spec', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    }) as unknown as K8sObject;
    expectHealth(throwing, 'Unknown', 'Deployment/web/x: cannot read status: boom');
  });
});

const at = (iso: string, plusMs: number) => Date.parse(iso) + plusMs;

describe('built-in kinds, each with the reference rule it follows', () => {
  test('Job resumed by Git with a stale Suspended=True condition: Progressing, not Suspended (stricter than Argo CD, which reads the condition; kstatus: Current once started)', () => {
    const o = fixture('job-running.yaml');
    spec(o).suspend = false;
    status(o).conditions = [
      ...((status(o).conditions as Json[] | undefined) ?? []),
      { type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended' },
    ];
    expectHealth(o, 'Progressing', 'Job/web/running: resuming (Suspended condition not yet cleared)', {
      desired: { ...o, spec: { ...spec(o), suspend: false } },
    });
  });

  test('Suspended only when Git asks: a Job suspended live but not in Git is Progressing; asked for, Suspended', () => {
    const o = fixture('job-running.yaml');
    spec(o).suspend = true;
    const desired = fixture('job-running.yaml');
    delete spec(desired).suspend;
    expectHealth(o, 'Progressing', 'Job/web/running: suspended, but Git does not ask for it', { desired });
    spec(desired).suspend = true;
    expectHealth(o, 'Suspended', 'Job/web/running: suspended', { desired });
  });

  test('Suspended only when Git asks: a Deployment paused by hand is Progressing; a suspended CronJob Git asks for is Suspended', () => {
    const o = fixture('deployment-available.yaml');
    spec(o).paused = true;
    expectHealth(o, 'Progressing', 'Deployment/web/api: rollout paused, but Git does not ask for it', {
      desired: fixture('deployment-available.yaml'),
    });
    const cron = fixture('cronjob-suspended.yaml');
    expectHealth(cron, 'Suspended', 'CronJob/web/nightly: suspended', { desired: fixture('cronjob-suspended.yaml') });
    const resumed = fixture('cronjob-suspended.yaml');
    spec(resumed).suspend = false;
    expectHealth(cron, 'Progressing', 'CronJob/web/nightly: suspended, but Git does not ask for it', {
      desired: resumed,
    });
  });

  test('HPA with AbleToScale=False/FailedGetScale: Degraded (Argo CD health_hpa.go; kstatus has no HPA rule: Current)', () => {
    expectHealth(
      fixture('hpa-failed-get-scale.yaml'),
      'Degraded',
      /^HorizontalPodAutoscaler\/web\/api: cannot scale its target: FailedGetScale: the HPA controller was unable to get the target's current scale: deployments\.apps "missing" not found$/,
    );
  });

  test('HPA metrics unavailable: Progressing, then Degraded after the window (Argo CD fails at once: laxer); able to scale: Healthy', () => {
    const o = fixture('hpa-failed-get-scale.yaml');
    const since = '2026-12-01T10:00:15Z';
    status(o).conditions = [
      { type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale', lastTransitionTime: since },
      {
        type: 'ScalingActive',
        status: 'False',
        reason: 'FailedGetResourceMetric',
        message: 'unable to get metrics for resource cpu',
        lastTransitionTime: since,
      },
    ];
    expectHealth(o, 'Progressing', /scaling not yet active: FailedGetResourceMetric/, { now: at(since, 10_000) });
    expectHealth(o, 'Degraded', /: scaling inactive for 60s: FailedGetResourceMetric/, {
      now: at(since, UNAVAILABLE_WINDOW_MS),
    });
    const ok = fixture('hpa-failed-get-scale.yaml');
    Object.assign(status(ok), { currentReplicas: 2 });
    status(ok).conditions = [
      { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale' },
      { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound' },
    ];
    expectHealth(ok, 'Healthy', 'HorizontalPodAutoscaler/web/api: 2 replicas');
    const fresh = fixture('hpa-failed-get-scale.yaml');
    delete status(fresh).conditions;
    expectHealth(fresh, 'Progressing', 'HorizontalPodAutoscaler/web/api: waiting for the autoscaler');
  });

  test('APIService Available=False: Progressing, Degraded after the window (Argo CD stays Progressing; kstatus: Current)', () => {
    const o = fixture('apiservice-unavailable.yaml');
    const since = (status(o).conditions as Json[])[0]!.lastTransitionTime as string;
    const msg = 'ServiceNotFound: service/metrics-server in "kube-system" is not present';
    expectHealth(o, 'Progressing', `APIService/v1beta1.metrics.k8s.io: not yet available: ${msg}`);
    expectHealth(o, 'Progressing', `APIService/v1beta1.metrics.k8s.io: not yet available: ${msg}`, {
      now: at(since, UNAVAILABLE_WINDOW_MS - 1),
    });
    expectHealth(o, 'Degraded', `APIService/v1beta1.metrics.k8s.io: unavailable for 90s: ${msg}`, {
      now: at(since, 90_000),
    });
    (status(o).conditions as Json[])[0]!.status = 'True';
    expectHealth(o, 'Healthy', 'APIService/v1beta1.metrics.k8s.io: available');
  });

  test('Ingress and LoadBalancer Service read alike: Progressing without an address, Healthy with one (Argo CD; kstatus calls both Current)', () => {
    const ing = fixture('ingress-no-address.yaml');
    const svc = fixture('service-loadbalancer-pending.yaml');
    expectHealth(ing, 'Progressing', 'Ingress/web/api: waiting for a load balancer address');
    expectHealth(svc, 'Progressing', 'Service/web/public: waiting for a load balancer address');
    status(ing).loadBalancer = { ingress: [{ hostname: 'lb.example.com' }] };
    status(svc).loadBalancer = { ingress: [{ hostname: 'lb.example.com' }] };
    expectHealth(ing, 'Healthy', 'Ingress/web/api: load balancer at lb.example.com');
    expectHealth(svc, 'Healthy', 'Service/web/public: load balancer at lb.example.com');
  });

  test('a crash-looping Pod is Degraded between restarts too, not swinging back to Progressing (kstatus only while backing off; Argo CD on any past termination)', () => {
    const finishedAt = '2026-12-01T10:05:00Z';
    const looping = (restartCount: number, state: Json, ready: boolean) => {
      const o = fixture('pod-running.yaml');
      const cs = (status(o).containerStatuses as Json[])[0]!;
      Object.assign(cs, {
        restartCount,
        ready,
        state,
        lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: '2026-12-01T10:04:50Z', finishedAt } },
      });
      (status(o).conditions as Json[]).find((c) => c.type === 'Ready')!.status = ready ? 'True' : 'False';
      return o;
    };
    const now = at(finishedAt, 20_000);
    const backingOff = looping(3, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, false);
    expectHealth(backingOff, 'Degraded', /: container app: CrashLoopBackOff: back-off 40s$/, { now });
    // Between restarts: running again, and without a readiness probe even Ready.
    const between = looping(3, { running: { startedAt: '2026-12-01T10:05:15Z' } }, true);
    expectHealth(between, 'Degraded', /: container app: crash loop: restarted 3 times, last exit Error 20s ago$/, {
      now,
    });
    // One restart is not a loop, and a container that has run cleanly for the window is forgiven.
    expectHealth(looping(1, { running: { startedAt: '2026-12-01T10:05:15Z' } }, true), 'Healthy', /running and ready/, {
      now,
    });
    expectHealth(between, 'Healthy', /running and ready/, { now: at(finishedAt, CRASH_LOOP_WINDOW_MS + 1) });
    // Without a clock the recency cannot be known: no crash-loop verdict is claimed.
    expectHealth(between, 'Healthy', /running and ready/);
  });

  test('only verdicts that can move with time read the clock (the agent reuses the others until the objects change)', () => {
    let reads = 0;
    const clock: HealthContext = {
      get now() {
        reads++;
        return Date.parse('2026-12-01T10:05:20Z');
      },
    };
    for (const f of ['configmap-kubectl.yaml', 'deployment-available.yaml', 'pod-running.yaml', 'job-complete.yaml']) {
      reads = 0;
      healthOf(fixture(f), clock);
      assert.equal(reads, 0, `${f} read the clock`);
    }
    // A container that exited abnormally and restarted: whether it still loops depends on when it last exited.
    const o = fixture('pod-running.yaml');
    Object.assign((status(o).containerStatuses as Json[])[0]!, {
      restartCount: 3,
      lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-12-01T10:05:00Z' } },
    });
    reads = 0;
    healthOf(o, clock);
    assert.ok(reads > 0, 'a possible crash loop is judged by the clock');
  });

  test('an unschedulable Pod is Progressing, then Degraded after the window (kstatus fails it at once; Argo CD never)', () => {
    const since = '2026-12-01T10:00:00Z';
    const o = fixture('pod-running.yaml');
    o.status = {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/1 nodes are available: 1 Insufficient cpu.',
          lastTransitionTime: since,
        },
      ],
    };
    expectHealth(o, 'Progressing', /: unschedulable: 0\/1 nodes are available: 1 Insufficient cpu\.$/, {
      now: at(since, 5_000),
    });
    expectHealth(o, 'Degraded', /: unschedulable for 60s: 0\/1 nodes are available/, {
      now: at(since, UNSCHEDULABLE_WINDOW_MS),
    });
  });

  test('a custom resource whose status no rule reads is Unknown, named, never Healthy', () => {
    const o: K8sObject = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'web', generation: 1 },
      status: { observedGeneration: 1, phase: 'Running', replicas: 0 },
    };
    expectHealth(o, 'Unknown', 'Widget/web/w: no health rule for example.com/Widget (status has phase, replicas)');
    const builtIn = fixture('configmap-kubectl.yaml');
    expectHealth(builtIn, 'Healthy', 'ConfigMap/web/settings: no status to wait for');
  });
});
