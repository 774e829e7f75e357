import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { APPLYSET } from '../src/core/inventory.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import { Discovery } from '../src/edges/kube/discovery.ts';
import { ParseWorker } from '../src/edges/render/parse-worker.ts';
import { createToolRenderer } from '../src/edges/render/render.ts';
import { pruneOptions } from '../src/reconcile/sync.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const files = {
  'envs/dev/web/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n',
  'envs/dev/web/crd.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.tether.dev
spec:
  group: tether.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`,
  'envs/dev/web/widget.yaml': 'apiVersion: tether.dev/v1\nkind: Widget\nmetadata:\n  name: gizmo\nspec:\n  size: 3\n',
  'envs/dev/web/deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ghcr.io/acme/web:1.0.0 # the app
`,
  'envs/dev/web/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`,
  'envs/dev/web/config.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  greeting: hello\n',
  'envs/dev/web/README.md': 'not a manifest\n',
};

describe('AppSync against a real apiserver and Git server', () => {
  let w: AgentWorld;
  let client: CountingKubeClient;
  let discovery: Discovery;
  before(async () => {
    w = await startAgentWorld({ kube: 'full', files });
    client = new CountingKubeClient(w.client);
    discovery = new Discovery(client);
  });
  after(() => w?.stop());

  const makeSync = (name: string, path: string, overrides: Partial<ReturnType<typeof pruneOptions>> = {}) =>
    w.appSync({ name, path, namespace: 'web', prune: pruneOptions(overrides) }, { kube: client, discovery });
  const get = (path: string) => w.get(path);

  const deployPath = '/apis/apps/v1/namespaces/web/deployments/web';

  test('first sync creates everything in order and the app becomes Healthy', async () => {
    // Its own parser thread, watched: started with the sync (overlapping the fetch), gone before the first apply.
    const parser = new ParseWorker();
    const parserAtApply: boolean[] = [];
    const watching = new (class extends CountingKubeClient {
      override apply(...args: Parameters<CountingKubeClient['apply']>) {
        parserAtApply.push(parser.running);
        return super.apply(...args);
      }
    })(w.client);
    const app = await w.appSync(
      { name: 'web', path: 'envs/dev/web', namespace: 'web', prune: pruneOptions() },
      { kube: watching, discovery, renderer: createToolRenderer(parser) },
    );
    const syncing = app.sync();
    assert.equal(parser.running, true, 'the parser starts while the first sync fetches');
    const out = await syncing.finally(() => parser.close());
    assert.ok(parserAtApply.length > 0);
    assert.deepEqual(
      parserAtApply.filter((running) => running),
      [],
      'the parser thread is stopped once the render is over, before the apply',
    );
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    const actions = Object.fromEntries(out.entries.map((e) => [e.subject, e.action]));
    assert.deepEqual(actions, {
      'Namespace/web': 'created',
      'CustomResourceDefinition/widgets.tether.dev': 'created',
      'Widget/web/gizmo': 'created',
      'Deployment/web/web': 'created',
      'Service/web/web': 'created',
      'ConfigMap/web/web-config': 'created',
    });
    const deploy = await get(deployPath);
    assert.equal(deploy?.metadata.labels?.[APPLYSET.partOfLabel], app.applySetId);
    const parent = await get('/api/v1/namespaces/tether-system/configmaps/tether-web');
    assert.equal(parent?.metadata.labels?.[APPLYSET.idLabel], app.applySetId);
    assert.equal(parent?.metadata.annotations?.[APPLYSET.toolingAnnotation], 'tether/v1');
    await waitFor(async () => (await app.refreshHealth()).status === 'Healthy', {
      timeoutMs: 60_000,
      describe: () => `app health: ${JSON.stringify(app.state.health)}`,
    });
    assert.equal(app.state.sync, 'Synced');
  });

  test('syncing the same revision again writes nothing', async () => {
    const app = await makeSync('web', 'envs/dev/web');
    // Objects no controller writes to keep their resourceVersion; the Deployment (whose status the controllers
    // update) keeps its generation, and the agent makes no write at all.
    const paths = [
      '/api/v1/namespaces/web/services/web',
      '/api/v1/namespaces/web/configmaps/web-config',
      '/apis/tether.dev/v1/namespaces/web/widgets/gizmo',
      '/api/v1/namespaces/tether-system/configmaps/tether-web',
    ];
    const before = await Promise.all(paths.map(async (p) => (await get(p))?.metadata.resourceVersion));
    const generation = (await get(deployPath))?.metadata.generation;
    const writesBefore = client.requests.APPLY ?? 0;
    const out = await app.sync({ force: true });
    assert.equal(out.error, undefined);
    assert.ok(
      out.entries.length > 0 && out.entries.every((e) => e.action === 'unchanged'),
      JSON.stringify(out.entries),
    );
    assert.equal((client.requests.APPLY ?? 0) - writesBefore, 0);
    const afterRv = await Promise.all(paths.map(async (p) => (await get(p))?.metadata.resourceVersion));
    assert.deepEqual(afterRv, before);
    assert.equal((await get(deployPath))?.metadata.generation, generation);
    // And an unchanged tree is not even rendered: a no-op.
    const noop = await app.sync();
    assert.equal(noop.noop, true);
  });

  test('a file removed from Git is pruned; objects of other apps and unlabelled ones are untouched', async () => {
    const app = await makeSync('web', 'envs/dev/web');
    await app.sync();
    // An object of another app (its own ApplySet label) and an unlabelled one, both in the same namespace.
    const other = await makeSync('other', 'envs/dev/other');
    await w.commit(
      {
        'envs/dev/other/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: web\n',
      },
      'other app',
    );
    assert.equal((await other.sync()).error, undefined);
    const r = await w.kube.request('POST', '/api/v1/namespaces/web/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'hand-made', labels: { app: 'web' } },
    });
    assert.equal(r.status, 201);

    await w.commit({ 'envs/dev/web/config.yaml': null }, 'drop config');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.deepEqual(
      out.entries.filter((e) => e.action === 'pruned').map((e) => e.subject),
      ['ConfigMap/web/web-config'],
    );
    assert.equal(await get('/api/v1/namespaces/web/configmaps/web-config'), undefined);
    assert.ok(await get('/api/v1/namespaces/web/configmaps/other'));
    assert.ok(await get('/api/v1/namespaces/web/configmaps/hand-made'));
  });

  test('a render error or an unreachable Git server prunes nothing and says why', async () => {
    const app = await makeSync('web', 'envs/dev/web');
    await app.sync();
    // A broken file and a dropped Service in the same commit: the Service must survive.
    await w.commit({ 'envs/dev/web/service.yaml': null, 'envs/dev/web/broken.yaml': 'kind: [unclosed\n' }, 'broken');
    const bad = await app.sync();
    assert.equal(bad.error?.stage, 'render');
    assert.match(bad.error?.message ?? '', /envs\/dev\/web\/broken\.yaml/);
    assert.ok(await get('/api/v1/namespaces/web/services/web'));
    assert.equal(app.state.sync, 'Unknown');

    w.git.faults.failNext(20, { status: 500 });
    const down = await app.sync({ force: true });
    assert.equal(down.error?.stage, 'fetch');
    assert.ok(await get('/api/v1/namespaces/web/services/web'));
    w.git.faults.reset();
    await w.commit(
      { 'envs/dev/web/broken.yaml': null, 'envs/dev/web/service.yaml': files['envs/dev/web/service.yaml'] },
      'fixed',
    );
  });

  test('the deletion budget stops a mass prune', async () => {
    const app = await makeSync('web', 'envs/dev/web');
    assert.equal((await app.sync()).error, undefined);
    await w.commit(
      {
        'envs/dev/web/service.yaml': null,
        'envs/dev/web/widget.yaml': null,
        'envs/dev/web/deploy.yaml': null,
        'envs/dev/web/crd.yaml': null,
      },
      'oops',
    );
    const out = await app.sync();
    assert.equal(out.entries.filter((e) => e.action === 'pruned').length, 0);
    assert.ok(
      out.entries.some((e) => e.action === 'skipped' && /budget/.test(e.reason ?? '')),
      JSON.stringify(out.entries),
    );
    assert.ok(await get(deployPath));
    await w.commit(
      Object.fromEntries(
        ['service.yaml', 'widget.yaml', 'deploy.yaml', 'crd.yaml'].map((f) => [
          `envs/dev/web/${f}`,
          files[`envs/dev/web/${f}` as keyof typeof files],
        ]),
      ),
      'restore',
    );
  });

  test('a field the schema does not declare fails that object, naming the field (applies skip duplicate-key checks)', async () => {
    await w.commit(
      {
        'envs/dev/typo/deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: typo}
spec:
  replica: 2
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers: [{name: typo, image: "ghcr.io/acme/web:1.0.0"}]
`,
        'envs/dev/typo/widget.yaml':
          'apiVersion: tether.dev/v1\nkind: Widget\nmetadata:\n  name: typo\nspec:\n  size: 1\n',
      },
      'a misspelled field',
    );
    const app = await makeSync('typo', 'envs/dev/typo');
    const out = await app.sync();
    const entry = out.entries.find((e) => e.subject === 'Deployment/web/typo');
    assert.equal(entry?.action, 'failed', JSON.stringify(out.entries));
    assert.match(entry?.reason ?? '', /\.spec\.replica: field not declared in schema/);
    assert.equal(await get('/apis/apps/v1/namespaces/web/deployments/typo'), undefined);
    // The app's other object is applied as usual.
    assert.equal(out.entries.find((e) => e.subject === 'Widget/web/typo')?.action, 'created');
  });

  test('a Deployment whose image cannot be pulled is not Healthy', async () => {
    await w.commit(
      {
        'envs/dev/bad/deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers: [{name: bad, image: "ghcr.io/acme/web:broken"}]
`,
      },
      'bad image',
    );
    const app = await makeSync('bad', 'envs/dev/bad');
    assert.equal((await app.sync()).error, undefined);
    await waitFor(async () => (await app.refreshHealth()).status === 'Degraded', {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(app.state.health),
    });
    assert.match(app.state.health.message, /Deployment\/web\/bad/);
  });
});
