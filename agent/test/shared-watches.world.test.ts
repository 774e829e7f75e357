// Several apps in one agent share one watch per group-kind (not one per app and kind) and one Git source per
// repository and ref, and self-heal still heals each app's own objects, and only them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type GitServer, startGitServer } from '../../testenv/src/git-server.ts';
import { type LocalKube, startKube } from '../../testenv/src/kube.ts';
import { startTogether, waitFor } from '../../testenv/src/processes.ts';
import { parseConfig } from '../src/config.ts';
import type { K8sObject } from '../src/core/types.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../src/edges/kube/kubeconfig.ts';
import { createAgent } from '../src/main.ts';
import type { Agent } from '../src/reconcile/agent.ts';

const TOKEN = 'ghs_sharedwatch0123456789';
const REPO = 'acme/env';
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
  let kube: LocalKube;
  let git: GitServer;
  let http: HttpKubeClient;
  let client: CountingKubeClient;
  let agent: Agent;
  let cache: string;

  before(async () => {
    [kube, git] = await startTogether(
      startKube({ mode: 'api' }),
      startGitServer({ tokens: { [TOKEN]: { login: 'ci', repos: '*' } } }),
    );
    let files: Record<string, string> = {};
    for (let i = 0; i < APPS; i++) files = { ...files, ...appFiles(i) };
    await git.createRepo(REPO, { files });
    for (const name of ['tether-system', ...Array.from({ length: APPS }, (_, i) => `a${i}`)]) {
      await kube.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
    cache = mkdtempSync(join(tmpdir(), 'tether-shared-watch-'));
    http = new HttpKubeClient(loadKubeconfig(kube.kubeconfig));
    client = new CountingKubeClient(http);
    writeFileSync(join(cache, 'git-token'), TOKEN);
    const config = parseConfig({
      cluster: 'dev',
      cacheDir: cache,
      github: { gitTokenFile: join(cache, 'git-token') },
      leaderElection: { enabled: false },
      apps: Array.from({ length: APPS }, (_, i) => ({
        name: `a${i}`,
        repo: git.cloneUrl(REPO),
        path: `apps/a${i}`,
        namespace: `a${i}`,
        interval: '1h',
      })),
    });
    agent = await createAgent(config, { kube: client });
    await agent.start();
  });
  after(async () => {
    await agent?.stop();
    http?.close();
    await Promise.all([kube?.stop(), git?.stop()]);
    if (cache) rmSync(cache, { recursive: true, force: true });
  });

  const get = async (path: string) => {
    const r = await kube.request('GET', path);
    return r.status === 200 ? (r.body as K8sObject) : undefined;
  };

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
    const packs = git.requests.filter((r) => r.method === 'POST' && r.path.includes('git-upload-pack'));
    assert.equal(packs.length, 1, JSON.stringify(git.requests.map((r) => `${r.method} ${r.path}`)));
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
    const r = await kube.request(
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
    await kube.request('DELETE', '/api/v1/namespaces/a1/services/web');
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
