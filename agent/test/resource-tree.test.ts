// The resource tree from captured objects: owner references link a Deployment to its ReplicaSet and Pods and a
// CronJob to its Jobs and their Pods; each node carries health, images, restarts, age and why it is not healthy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectKey } from '../src/core/objects.ts';
import { buildResourceTree, imagesOf, ownerNamespaces, restartsOf } from '../src/core/resource-tree.ts';
import type { K8sObject } from '../src/core/types.ts';
import { treeView } from '../src/core/ui/tree-view.ts';
import { fixture } from './load-fixture.ts';

const owned = (o: K8sObject, owner: K8sObject, uid: string): K8sObject => ({
  ...o,
  metadata: {
    ...o.metadata,
    uid,
    ownerReferences: [
      {
        apiVersion: owner.apiVersion,
        kind: owner.kind,
        name: owner.metadata.name,
        uid: owner.metadata.uid,
        controller: true,
      },
    ],
  },
});

function world() {
  const deployment: K8sObject = { ...fixture('deployment-available.yaml') };
  deployment.metadata = { ...deployment.metadata, uid: 'dep-1' };
  const rsNew = owned(
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'api-new',
        namespace: deployment.metadata.namespace,
        creationTimestamp: '2026-11-21T22:44:00Z',
      },
      spec: { replicas: 1, template: { spec: { containers: [{ name: 'app', image: 'ghcr.io/acme/api:broken' }] } } },
      status: { replicas: 1 },
    },
    deployment,
    'rs-new',
  );
  const rsOld = owned(
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'api-old',
        namespace: deployment.metadata.namespace,
        creationTimestamp: '2026-11-20T10:00:00Z',
      },
      spec: { replicas: 0 },
      status: { replicas: 0 },
    },
    deployment,
    'rs-old',
  );
  const failing = owned(fixture('pod-err-image-pull.yaml'), rsNew, 'pod-bad');
  const running = owned(fixture('pod-running.yaml'), rsNew, 'pod-ok');
  const stray = owned(fixture('pod-running.yaml'), { ...rsNew, metadata: { ...rsNew.metadata, uid: 'other' } }, 'x');
  return { deployment, rsNew, rsOld, failing, running, stray };
}

test('a Deployment owns its ReplicaSets (newest first) and they own their Pods; a failing Pod says why', () => {
  const { deployment, rsNew, rsOld, failing, running, stray } = world();
  const live = new Map([[objectKey(deployment), deployment]]);
  const [dep] = buildResourceTree([deployment], live, [rsOld, rsNew, failing, running, stray], { now: Date.now() });
  assert.equal(dep!.kind, 'Deployment');
  assert.deepEqual(
    dep!.children.map((c) => c.name),
    ['api-new', 'api-old'],
  );
  const pods = dep!.children[0]!.children;
  assert.equal(pods.length, 2, 'the stray Pod owned by another ReplicaSet is not here');
  const bad = pods.find((p) => p.health.status === 'Degraded')!;
  assert.equal(bad.name, 'stuck-54468b7cfb-72qmq');
  assert.match(bad.health.message, /container \w+: ErrImagePull/);
  assert.equal(typeof bad.restarts, 'number');
  assert.equal(bad.createdAt, failing.metadata.creationTimestamp);
  assert.ok(bad.images.length > 0);
  assert.deepEqual(dep!.children[0]!.images, ['ghcr.io/acme/api:broken']);
});

test('CronJob → Job → Pod; a desired object missing in the cluster is Missing with no children', () => {
  const cron: K8sObject = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'web', uid: 'cron-1' },
    spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'n', image: 'busybox:1' }] } } } } },
  };
  const job = owned(fixture('job-failed.yaml'), cron, 'job-1');
  const pod = owned(fixture('pod-running.yaml'), job, 'pod-1');
  const missing: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gone', namespace: 'web' } };
  const live = new Map([[objectKey(cron), cron]]);
  const [c, m] = buildResourceTree([cron, missing], live, [job, pod]);
  assert.deepEqual(imagesOf(cron), ['busybox:1']);
  assert.equal(c!.children[0]!.kind, 'Job');
  assert.equal(c!.children[0]!.health.status, 'Degraded');
  assert.equal(c!.children[0]!.children[0]!.kind, 'Pod');
  assert.equal(m!.health.status, 'Missing');
  assert.equal(m!.live, false);
  assert.deepEqual(m!.children, []);
  assert.deepEqual(ownerNamespaces([cron, missing]), ['web']);
});

test('restarts add up over all containers', () => {
  const pod = fixture('pod-running.yaml');
  pod['status'] = {
    initContainerStatuses: [{ restartCount: 1 }],
    containerStatuses: [{ restartCount: 2 }, { restartCount: 4 }],
  };
  assert.equal(restartsOf(pod), 7);
});

test('the tree renders as nested <details>; a large app is grouped by kind with counts', () => {
  const { deployment, rsNew, failing } = world();
  const live = new Map([[objectKey(deployment), deployment]]);
  const nodes = buildResourceTree([deployment], live, [rsNew, failing]);
  const small = treeView({ nodes, complete: true, errors: [] }).toString();
  assert.match(small, /<details data-key="Deployment\/[^"]+"><summary>/);
  assert.ok(small.includes('ErrImagePull'));
  const many: K8sObject[] = Array.from({ length: 25 }, (_, i) => ({
    apiVersion: 'v1',
    kind: i < 20 ? 'ConfigMap' : 'Secret',
    metadata: { name: `c${i}`, namespace: 'web' },
  }));
  const big = treeView({
    nodes: buildResourceTree(many, new Map(), []),
    complete: false,
    errors: ['Pod in web: 403'],
  }).toString();
  assert.ok(big.includes('<span class="kind">ConfigMap</span> <span class="muted">(20, 20 not healthy)</span>'));
  assert.ok(big.includes('<span class="kind">Secret</span> <span class="muted">(5, 5 not healthy)</span>'));
  assert.ok(big.includes('Still reading the cluster'));
  assert.ok(big.includes('Watch failing, showing what was last seen: Pod in web: 403'));
});
