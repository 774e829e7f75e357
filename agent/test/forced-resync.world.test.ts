// A forced re-sync of objects nobody touched makes no dry-run (the applied record says they are exactly as Tether
// left them), yet an object changed live, or changed in Git, is still compared and re-applied; a new AppSync (a
// restarted agent) reads the record back from the ApplySet parent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APPLIED_GZ_KEY } from '../src/core/applied-record.ts';
import type { K8sObject } from '../src/core/types.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import { Discovery } from '../src/edges/kube/discovery.ts';
import type { AppSync } from '../src/reconcile/sync.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const cm = (i: number, value = 'a') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  value: ${value}\n`;
const files: Record<string, string> = {
  'app/deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "ghcr.io/acme/web:1.0.0"}]
`,
  'app/svc.yaml':
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n  selector: {app: web}\n  ports: [{port: 80}]\n',
};
for (let i = 0; i < 10; i++) files[`app/cm-${i}.yaml`] = cm(i);
const OBJECTS = Object.keys(files).length;

describe('forced re-sync with the applied record', () => {
  let w: AgentWorld;
  let client: CountingKubeClient;
  before(async () => {
    w = await startAgentWorld({ files, namespaces: ['web', 'tether-system'] });
    client = new CountingKubeClient(w.client);
  });
  after(() => w?.stop());

  let n = 0;
  const makeSync = (): Promise<AppSync> =>
    w.appSync(
      { name: 'web', path: 'app', namespace: 'web', cache: `c${n++}` },
      { kube: client, discovery: new Discovery(client) },
    );

  /** Every request that writes to the apiserver (applies and their dry-runs are PATCHes too). */
  const allWrites = () =>
    (client.requests.PATCH ?? 0) +
    (client.requests.POST ?? 0) +
    (client.requests.PUT ?? 0) +
    (client.requests.DELETE ?? 0) -
    (client.requests.APPLY_DRYRUN ?? 0);

  /** Runs `fn` and returns what it did, the dry-runs and applies it sent, and every write. */
  async function counted<T>(fn: () => Promise<T>): Promise<{ out: T; dryRuns: number; writes: number; all: number }> {
    const dry = client.requests.APPLY_DRYRUN ?? 0;
    const writes = client.requests.APPLY ?? 0;
    const all = allWrites();
    const out = await fn();
    return {
      out,
      dryRuns: (client.requests.APPLY_DRYRUN ?? 0) - dry,
      writes: (client.requests.APPLY ?? 0) - writes,
      all: allWrites() - all,
    };
  }

  const actions = (entries: { subject: string; action: string }[]) =>
    Object.fromEntries(entries.map((e) => [e.subject, e.action]));

  let app: AppSync;

  test('a forced re-sync of unchanged objects sends no dry-run and no write', async () => {
    app = await makeSync();
    const first = await app.sync();
    assert.equal(first.error, undefined, JSON.stringify(first.error));
    assert.equal(first.entries.filter((e) => e.action === 'created').length, OBJECTS);
    const parent = (await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-web'))
      .body as K8sObject;
    assert.ok((parent.binaryData as Record<string, string> | undefined)?.[APPLIED_GZ_KEY], 'record kept in parent');

    const again = await counted(() => app.sync({ force: true }));
    assert.equal(again.out.error, undefined);
    assert.equal(again.out.noop, false);
    assert.equal(again.out.entries.length, OBJECTS);
    assert.ok(
      again.out.entries.every((e) => e.action === 'unchanged'),
      JSON.stringify(again.out.entries),
    );
    assert.equal(again.dryRuns, 0);
    assert.equal(again.writes, 0, 'neither objects nor the parent are written');
    assert.equal(again.all, 0, 'nothing at all is written');
  });

  test('a forced re-sync at a new commit with the same tree writes nothing: the parent keeps its revision', async () => {
    const parentPath = '/api/v1/namespaces/tether-system/configmaps/tether-web';
    const revisionOf = async () =>
      ((await w.kube.request('GET', parentPath)).body as K8sObject).metadata.annotations?.[
        'tether.dev/synced-revision'
      ];
    const recorded = await revisionOf();
    assert.ok(recorded);
    const head = await w.commit({ 'README.md': 'not part of the app\n' }, 'outside the app');
    const res = await counted(() => app.sync({ force: true }));
    assert.equal(res.out.error, undefined);
    assert.equal(res.out.revision, head);
    assert.ok(res.out.entries.every((e) => e.action === 'unchanged'));
    assert.equal(res.all, 0, 'nothing at all is written');
    assert.equal(await revisionOf(), recorded, 'an older commit with the same tree stays recorded');
  });

  test('an object changed live is compared and re-applied (no lie)', async () => {
    const path = '/api/v1/namespaces/web/configmaps/cm-3';
    const r = await w.kube.request(
      'PATCH',
      `${path}?fieldManager=someone-else`,
      { data: { value: 'changed by hand' } },
      'application/merge-patch+json',
    );
    assert.equal(r.status, 200);
    const res = await counted(() => app.sync({ force: true }));
    assert.equal(res.out.error, undefined);
    assert.equal(actions(res.out.entries)['ConfigMap/web/cm-3'], 'configured');
    assert.equal(res.out.entries.filter((e) => e.action === 'unchanged').length, OBJECTS - 1);
    assert.equal(res.dryRuns, 1, 'only the changed object is dry-run');
    assert.equal((((await w.kube.request('GET', path)).body as K8sObject).data as Record<string, string>).value, 'a');

    // A live change that is not drift (an annotation another manager owns) moves the resourceVersion: it is checked
    // by a dry-run, found unchanged, and recorded at its new resourceVersion.
    await w.kube.request(
      'PATCH',
      '/api/v1/namespaces/web/configmaps/cm-4?fieldManager=someone-else',
      { metadata: { annotations: { note: 'harmless' } } },
      'application/merge-patch+json',
    );
    const harmless = await counted(() => app.sync({ force: true }));
    assert.ok(harmless.out.entries.every((e) => e.action === 'unchanged'));
    assert.equal(harmless.dryRuns, 1);
    assert.equal(harmless.writes, 0);
    const quiet = await counted(() => app.sync({ force: true }));
    assert.equal(quiet.dryRuns, 0);
  });

  test('an object deleted live is re-created', async () => {
    await w.kube.request('DELETE', '/api/v1/namespaces/web/configmaps/cm-5');
    const res = await counted(() => app.sync({ force: true }));
    assert.equal(actions(res.out.entries)['ConfigMap/web/cm-5'], 'created');
    assert.equal(res.dryRuns, 0);
  });

  test('a restarted agent reads the record from the parent: still no dry-run for unchanged objects', async () => {
    const restarted = await makeSync();
    const res = await counted(() => restarted.sync());
    assert.equal(res.out.error, undefined);
    assert.ok(
      res.out.entries.every((e) => e.action === 'unchanged'),
      JSON.stringify(res.out.entries),
    );
    assert.equal(res.dryRuns, 0);
    // The parent records the commit of the last sync that wrote something (the re-creation above, at the branch's
    // head), which this restarted engine has fetched: nothing to write.
    assert.equal(res.writes, 0);
    const again = await counted(() => restarted.sync({ force: true }));
    assert.equal(again.all, 0, 'after that, nothing at all is written');
    app = restarted;
  });

  test('an object changed in Git is compared and applied; the others are not dry-run', async () => {
    await w.commit({ 'app/cm-7.yaml': cm(7, 'b') }, 'cm-7');
    const res = await counted(() => app.sync());
    assert.equal(res.out.error, undefined);
    assert.equal(actions(res.out.entries)['ConfigMap/web/cm-7'], 'configured');
    assert.equal(res.dryRuns, 1);
    const live = (await w.kube.request('GET', '/api/v1/namespaces/web/configmaps/cm-7')).body as K8sObject;
    assert.equal((live.data as Record<string, string>).value, 'b');
  });
});
