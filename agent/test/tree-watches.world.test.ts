// The resource tree's watches against a real kube-apiserver: one list+watch per descendant kind and namespace,
// shared by every app there; objects appear and disappear as the cluster changes; a restarted apiserver ends the
// watches and they list again on their own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LocalKube, startKube } from '../../testenv/src/kube.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import { Discovery } from '../src/edges/kube/discovery.ts';
import { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../src/edges/kube/kubeconfig.ts';
import { DescendantWatches } from '../src/reconcile/tree.ts';

const WAIT = { timeoutMs: 120_000, intervalMs: 100 };

describe('descendant watches', () => {
  let kube: LocalKube;
  let client: HttpKubeClient;
  let watches: DescendantWatches;

  before(async () => {
    kube = await startKube({ mode: 'api' });
    client = new HttpKubeClient(loadKubeconfig(kube.kubeconfig));
    const discovery = new Discovery(client);
    await discovery.refresh();
    watches = new DescendantWatches(client, discovery, { retryMs: 100 });
    for (const ns of ['web', 'api']) {
      // No controller-manager in this world: the ServiceAccount a Pod needs is made by hand.
      const r = await kube.request('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
      });
      assert.equal(r.status, 201);
      const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } };
      assert.equal((await kube.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, sa)).status, 201);
    }
  });
  after(async () => {
    watches?.stop();
    client?.close();
    await kube?.stop();
  });

  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'web' },
    spec: { containers: [{ name: 'c', image: 'ghcr.io/acme/web:1.0.0' }] },
  });
  const names = () =>
    watches
      .objects(['web'])
      .objects.map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();

  test('apps share one cluster-wide feed per kind, whatever their namespaces; only tracked namespaces are kept', async () => {
    watches.track('a', ['web']);
    watches.track('b', ['web']);
    assert.equal(watches.feedCount, 3, 'ReplicaSets, Pods and Jobs, once');
    const apiPod = { ...pod('in-api'), metadata: { name: 'in-api', namespace: 'api' } };
    assert.equal((await kube.request('POST', '/api/v1/namespaces/api/pods', apiPod)).status, 201);
    watches.track('c', ['web', 'api']);
    assert.equal(watches.feedCount, 3, 'a second namespace opens no feed of its own');
    const apiNames = () => watches.objects(['api']).objects.map((o) => `${o.kind}/${o.metadata.name}`);
    await waitFor(() => watches.objects(['web', 'api']).complete && apiNames().includes('Pod/in-api'), {
      ...WAIT,
      describe: () => `the api namespace listed: ${apiNames()}`,
    });
    watches.track('c', []);
    assert.equal(watches.feedCount, 3);
    assert.deepEqual(apiNames(), [], 'objects of a namespace no app tracks are dropped');
    assert.equal((await kube.request('DELETE', '/api/v1/namespaces/api/pods/in-api?gracePeriodSeconds=0')).status, 200);
  });

  test('objects appear, change and disappear with the cluster, without managedFields', async () => {
    assert.equal((await kube.request('POST', '/api/v1/namespaces/web/pods', pod('p1'))).status, 201);
    await waitFor(() => names().includes('Pod/p1'), { ...WAIT, describe: () => `Pod/p1 in ${names()}` });
    const seen = watches.objects(['web']).objects.find((o) => o.metadata.name === 'p1')!;
    assert.equal(seen.metadata.managedFields, undefined);
    assert.ok(seen.metadata.uid);
    assert.equal((await kube.request('DELETE', '/api/v1/namespaces/web/pods/p1?gracePeriodSeconds=0')).status, 200);
    await waitFor(() => !names().includes('Pod/p1'), { ...WAIT, describe: () => `Pod/p1 gone from ${names()}` });
  });

  test('after the apiserver restarts, the feeds list again and catch up on what changed meanwhile', async () => {
    await kube.apiserver.stop();
    await kube.apiserver.start();
    assert.equal((await kube.request('POST', '/api/v1/namespaces/web/pods', pod('p2'))).status, 201);
    await waitFor(() => names().includes('Pod/p2'), { ...WAIT, describe: () => `Pod/p2 in ${names()}` });
    assert.deepEqual(watches.objects(['web']).errors, []);
  });
});
