// Several apps in one agent share one watch per group-kind (not one per app and kind) and one Git source per
// repository and ref, and self-heal still heals each app's own objects, and only them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const APPS = 5;

function appFiles(i: number): Record<string, string> {
  return {
    [`apps/a${i}/cm.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  app: a${i}\n`,
    [`apps/a${i}/svc.yaml`]:
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n  selector: {app: web}\n  ports: [{port: 80}]\n',
    [`apps/a${i}/deploy.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "ghcr.io/acme/web:1.0.${i}"}]
`,
  };
}

describe('shared watches: one per group-kind for all apps', () => {
  let w: AgentWorld;
  let client: CountingKubeClient;
  let agent: Agent;

  before(async () => {
    let files: Record<string, string> = {};
    for (let i = 0; i < APPS; i++) files = { ...files, ...appFiles(i) };
    w = await startAgentWorld({
      files,
      namespaces: ['tether-system', ...Array.from({ length: APPS }, (_, i) => `a${i}`)],
    });
    client = new CountingKubeClient(w.client);
    const apps = Array.from({ length: APPS }, (_, i) =>
      w.app(`a${i}`, `apps/a${i}`, { namespace: `a${i}`, interval: '1h' }),
    );
    ({ agent } = await w.startAgent({ apps }, { kube: client }));
  });
  after(() => w?.stop());

  const get = (path: string) => w.get(path);

  test(`${APPS} apps of three kinds open three watches`, async () => {
    await waitFor(() => agent.apps().every((a) => a.state.sync === 'Synced'), {
      timeoutMs: 120_000,
      describe: () => JSON.stringify(agent.apps().map((a) => [a.name, a.state.sync, a.state.lastSync?.error])),
    });
    // The watches open once each app's self-heal has subscribed, right after its first sync: one per kind the apps
    // declare (ConfigMap, Service, Deployment) and one per kind of the resource tree (ReplicaSet, Pod, Job).
    await waitFor(() => client.openWatches >= 6, {
      timeoutMs: 10_000,
      describe: () => `${client.openWatches} ${JSON.stringify(client.requests)}`,
    });
    // The tree's feeds list once more to cover the namespaces apps added meanwhile (gathered for 500 ms), then settle.
    await new Promise((r) => setTimeout(r, 1500));
    await waitFor(() => client.openWatches === 6, { timeoutMs: 10_000, describe: () => `${client.openWatches}` });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(client.openWatches, 6);
    // Fewer watch requests than one per app and kind (the tree's feeds may list again once, to cover new namespaces).
    assert.ok((client.requests.WATCH ?? 0) < 5 * 3, JSON.stringify(client.requests));
    // And one Git source for the apps of one repository and ref: one pack fetched, not one per app.
    const packs = w.git.requests.filter((r) => r.method === 'POST' && r.path.includes('git-upload-pack'));
    assert.equal(packs.length, 1, JSON.stringify(w.git.requests.map((r) => `${r.method} ${r.path}`)));
  });

  test('a no-op reconcile judges health from the watches: no request to the apiserver', async () => {
    const syncs = () => agent.metrics.syncDurationSeconds.get('a2')?.count ?? 0;
    const n = syncs();
    const before = { ...client.requests };
    // Deployments never become available on this apiserver (no controllers): Progressing, judged the same way.
    const health = agent.app('a2')?.state.health.status;
    assert.equal(health, 'Progressing');
    assert.ok(agent.requestSync('a2', 'test'));
    await waitFor(() => syncs() > n, { timeoutMs: 30_000, describe: () => 'no sync ran' });
    assert.deepEqual(client.requests, before);
    assert.equal(agent.app('a2')?.state.health.status, health);
  });

  test("a drifted object is healed by its app, and the other apps' objects stay as they are", async () => {
    const path = '/api/v1/namespaces/a3/configmaps/conf';
    const others = await Promise.all(
      [0, 1, 2, 4].map(async (i) => (await get(`/api/v1/namespaces/a${i}/configmaps/conf`))?.metadata.resourceVersion),
    );
    const r = await w.kube.request(
      'PATCH',
      `${path}?fieldManager=someone-else`,
      { data: { app: 'changed' } },
      'application/merge-patch+json',
    );
    assert.equal(r.status, 200);
    await waitFor(async () => ((await get(path))?.data as Record<string, string> | undefined)?.app === 'a3', {
      timeoutMs: 15_000,
      describe: () => 'the ConfigMap of a3 was not healed',
    });
    await w.kube.request('DELETE', '/api/v1/namespaces/a1/services/web');
    await waitFor(async () => (await get('/api/v1/namespaces/a1/services/web')) !== undefined, {
      timeoutMs: 15_000,
      describe: () => 'the Service of a1 was not re-created',
    });
    const after = await Promise.all(
      [0, 1, 2, 4].map(async (i) => (await get(`/api/v1/namespaces/a${i}/configmaps/conf`))?.metadata.resourceVersion),
    );
    assert.deepEqual(after, others);
    assert.equal(client.openWatches, 6);
  });
});
