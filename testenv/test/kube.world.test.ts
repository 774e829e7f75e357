import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { KUBE_VERSION, kubeIsGone, type LocalKube, startKube } from '../src/kube.ts';
import { waitFor } from '../src/processes.ts';

interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface DeploymentView {
  metadata: { resourceVersion: string };
  spec: {
    revisionHistoryLimit?: number;
    strategy?: { type?: string };
    template: {
      spec: { containers: { terminationMessagePath?: string; imagePullPolicy?: string }[]; dnsPolicy?: string };
    };
  };
  status?: { conditions?: Condition[]; availableReplicas?: number };
}

function deployment(name: string, image: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image }] },
      },
      ...extra,
    },
  };
}

async function apply(kube: LocalKube, obj: ReturnType<typeof deployment>) {
  const path = `/apis/apps/v1/namespaces/default/deployments/${obj.metadata.name}?fieldManager=tether-test&force=true`;
  const r = await kube.request('PATCH', path, obj, 'application/apply-patch+yaml');
  assert.ok(r.status === 200 || r.status === 201, `apply answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as DeploymentView;
}

describe('startKube api mode', () => {
  let kube: LocalKube;
  before(async () => {
    const t = Date.now();
    kube = await startKube({ mode: 'api' });
    console.log(`# api-mode start: ${Date.now() - t} ms`);
  });
  after(async () => kube?.stop());

  test('kubectl get --raw /version answers the real version', () => {
    const out = execFileSync('kubectl', ['--kubeconfig', kube.kubeconfig, 'get', '--raw', '/version'], {
      encoding: 'utf8',
    });
    assert.equal(JSON.parse(out).gitVersion, KUBE_VERSION);
    assert.equal(kube.version, KUBE_VERSION);
  });

  test('a server-side applied Deployment reads back server-defaulted fields', async () => {
    const applied = await apply(kube, deployment('defaults', 'nginx:1.27'));
    assert.equal(applied.spec.revisionHistoryLimit, 10);
    assert.equal(applied.spec.strategy?.type, 'RollingUpdate');
    assert.equal(applied.spec.template.spec.containers[0]!.terminationMessagePath, '/dev/termination-log');
    assert.equal(applied.spec.template.spec.dnsPolicy, 'ClusterFirst');
    const read = await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/defaults');
    assert.equal((read.body as DeploymentView).spec.template.spec.containers[0]!.imagePullPolicy, 'IfNotPresent');
  });

  test('stop() leaves no process and no open port', async () => {
    const k = await startKube({ mode: 'api' });
    assert.equal(await kubeIsGone(k), false);
    await k.stop();
    assert.equal(await kubeIsGone(k), true);
  });
});

describe('startKube full mode', () => {
  let kube: LocalKube;
  before(async () => {
    const t = Date.now();
    kube = await startKube({ mode: 'full' });
    console.log(`# full-mode start: ${Date.now() - t} ms`);
  });
  after(async () => {
    await kube?.stop();
    assert.equal(await kubeIsGone(kube), true);
  });

  test('a Deployment rolls out: ReplicaSet, Running pods, Available=True', async () => {
    await apply(kube, deployment('web', 'nginx:1.27'));
    await waitFor(
      async () => {
        const d = (await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/web'))
          .body as DeploymentView;
        return (
          d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true &&
          d.status.availableReplicas === 2
        );
      },
      { timeoutMs: 60_000, describe: () => 'Deployment web not Available' },
    );
    const rs = (await kube.request('GET', '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dweb'))
      .body as {
      items: unknown[];
    };
    assert.equal(rs.items.length, 1);
    const pods = (await kube.request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).body as {
      items: { status: { phase: string }; spec: { nodeName: string } }[];
    };
    assert.equal(pods.items.length, 2);
    for (const p of pods.items) {
      assert.equal(p.status.phase, 'Running');
      assert.equal(p.spec.nodeName, kube.nodeName);
    }
  });

  test('an image tagged :broken stays in ErrImagePull and the Deployment goes ProgressDeadlineExceeded', async () => {
    await apply(kube, deployment('broken', 'nginx:broken', { progressDeadlineSeconds: 3 }));
    await waitFor(
      async () => {
        const d = (await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/broken'))
          .body as DeploymentView;
        return (
          d.status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded') ===
          true
        );
      },
      { timeoutMs: 60_000, describe: () => 'Deployment broken never went ProgressDeadlineExceeded' },
    );
    const pods = (await kube.request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dbroken')).body as {
      items: { status: { phase: string; containerStatuses?: { state: { waiting?: { reason: string } } }[] } }[];
    };
    assert.ok(pods.items.length > 0);
    for (const p of pods.items) {
      assert.equal(p.status.phase, 'Pending');
      assert.equal(p.status.containerStatuses?.[0]?.state.waiting?.reason, 'ErrImagePull');
    }
  });
});
