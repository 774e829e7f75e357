// The app set's reading of Git on an in-memory repository: app of apps, cycles, the depth limit, and a bad file
// holding the apps it defined. Read-only refreshes: nothing is written to a cluster or GitHub.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { silentLogger } from '../../shared/src/log.ts';
import { type AppConfig, type ProjectConfig, parseConfig } from '../src/config.ts';
import type { RunningApp } from '../src/core/app-set-plan.ts';
import type { DesiredStateSource, SourceFile } from '../src/core/desired-state.ts';
import type { KubeClient, ResourceType } from '../src/core/kube-port.ts';
import type { K8sObject } from '../src/core/types.ts';
import type { Discovery } from '../src/edges/kube/discovery.ts';
import { toolRenderer } from '../src/edges/render/render.ts';
import { AppSet, type AppSetHost } from '../src/reconcile/app-set.ts';
import type { CascadeHooks } from '../src/reconcile/remove-app.ts';

const REPO = 'https://github.com/acme/env.git';

/** One branch of one repository, in memory: files by path, one commit id per content. */
function memorySource(repo: { files: Record<string, string> }): DesiredStateSource {
  const under = (path: string) =>
    Object.entries(repo.files)
      .filter(([p]) => path === '' || p.startsWith(`${path}/`))
      .sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    fetch: async () => createHash('sha1').update(JSON.stringify(repo.files)).digest('hex'),
    treeHash: async (_commit, path) => {
      const f = under(path);
      return f.length === 0 ? undefined : createHash('sha1').update(JSON.stringify(f)).digest('hex');
    },
    readFiles: async (_commit, path): Promise<SourceFile[]> =>
      under(path).map(([p, c]) => ({ path: p, content: Buffer.from(c) })),
  };
}

class Host implements AppSetHost {
  readonly running = new Map<string, RunningApp>();
  readonly projects = new Map<string, ProjectConfig[]>();
  runningApps() {
    return this.running;
  }
  addApp(app: AppConfig, _source: DesiredStateSource, origin: string, definedBy: string) {
    this.running.set(app.name, { app, origin, source: definedBy });
  }
  async removeApp(name: string) {
    return this.running.delete(name);
  }
  deleteHooksOf(_name: string): CascadeHooks | undefined {
    return undefined;
  }
  setProjects(origin: string, projects: ProjectConfig[]) {
    this.projects.set(origin, projects);
  }
}

const app = (name: string, path: string) =>
  `apiVersion: tether.dev/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec: {path: ${path}}\n`;
const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n';

function setup(files: Record<string, string>, maxDepth = 3) {
  const repo = { files };
  const host = new Host();
  const set = new AppSet({
    config: parseConfig({ cluster: 'dev', appsFrom: [{ repo: REPO, path: 'apps', maxDepth }] }),
    // Read-only refreshes never reach the cluster.
    kube: {} as KubeClient,
    discovery: {} as Discovery,
    renderer: toolRenderer,
    openSource: async () => memorySource(repo),
    log: silentLogger,
    host,
  });
  return { repo, host, set };
}

test('an App pointing back at a directory on its own chain is a cycle, refused with the chain', async () => {
  const { host, set } = setup({
    'apps/a.yaml': app('a', 'loop'),
    'apps/web.yaml': app('web', 'envs/web'),
    'loop/b.yaml': app('b', 'apps'),
    'envs/web/cm.yaml': cm,
  });
  await set.refreshAll('test', { readOnly: true });
  const view = set.views()[0]!;
  assert.deepEqual([...host.running.keys()], ['web']);
  assert.deepEqual(view.parents, ['a']);
  assert.equal(view.state, 'failure');
  assert.equal(
    view.errors[0],
    `loop/b.yaml: App/b: spec.path: cycle: ${REPO}@main:apps → ${REPO}@main:loop → ${REPO}@main:apps`,
  );
});

test('an App named like its source status (`apps`) is refused, naming both: they would share one context', async () => {
  const { host, set } = setup({
    'apps/apps.yaml': app('apps', 'envs/web'),
    'apps/web.yaml': app('web', 'envs/web'),
    'envs/web/cm.yaml': cm,
  });
  await set.refreshAll('test', { readOnly: true });
  const view = set.views()[0]!;
  assert.equal(view.name, 'apps');
  assert.deepEqual([...host.running.keys()], ['web']);
  assert.equal(view.state, 'failure');
  assert.equal(
    view.errors[0],
    `app apps (${REPO}@main:apps/apps.yaml) would post the same commit status context tether/dev/apps as app source appsFrom[0] (${REPO}@main:apps): rename the app, or name the source (appsFrom[].name): refused`,
  );
});

test('apps of apps deeper than maxDepth are refused naming the chain; shallower ones run', async () => {
  const files = {
    'apps/team.yaml': app('team', 'nested/team'),
    'nested/team/mid.yaml': app('mid', 'nested/mid'),
    'nested/mid/leaf.yaml': app('leaf', 'envs/leaf'),
    'envs/leaf/cm.yaml': cm,
  };
  const deep = setup(files, 1);
  await deep.set.refreshAll('test', { readOnly: true });
  assert.deepEqual([...deep.host.running.keys()], []);
  assert.match(
    deep.set.views()[0]!.errors[0]!,
    /^nested\/team\/mid\.yaml: App\/mid: spec\.path: apps nested deeper than maxDepth 1: /,
  );
  // A file whose App now nests too deep holds the app it defined before: it keeps running as it was.
  const grown = setup(files, 2);
  await grown.set.refreshAll('test', { readOnly: true });
  assert.deepEqual([...grown.host.running.keys()], ['leaf']);
  grown.repo.files = {
    ...files,
    'nested/mid/leaf.yaml': app('deeper', 'nested/deeper'),
    'nested/deeper/leaf.yaml': app('leaf', 'envs/leaf'),
  };
  await grown.set.refreshAll('test', { readOnly: true });
  assert.deepEqual([...grown.host.running.keys()], ['leaf']);
  assert.match(grown.set.views()[0]!.errors[0]!, /App\/deeper: spec\.path: apps nested deeper than maxDepth 2/);
  const ok = setup(files, 2);
  await ok.set.refreshAll('test', { readOnly: true });
  assert.deepEqual([...ok.host.running.keys()], ['leaf']);
  assert.deepEqual(ok.set.views()[0]!.parents, ['team', 'mid']);
});

test('a file that turns bad holds the apps it defined: they keep running as they were, the error is named', async () => {
  const { repo, host, set } = setup({
    'apps/web.yaml': app('web', 'envs/web'),
    'apps/api.yaml': app('api', 'envs/api'),
    'envs/web/cm.yaml': cm,
    'envs/api/cm.yaml': cm,
  });
  await set.refreshAll('test', { readOnly: true });
  assert.deepEqual([...host.running.keys()].sort(), ['api', 'web']);
  const before = host.running.get('web');
  repo.files['apps/web.yaml'] = app('web', 'envs/web').replace(
    'spec: {path: envs/web}',
    'spec: {path: envs/web, interval: soon}',
  );
  delete repo.files['apps/api.yaml'];
  await set.refreshAll('test', { readOnly: true });
  assert.equal(host.running.get('web'), before, 'web held as it was');
  assert.equal(host.running.has('api'), false, 'a removed file removes its app');
  const view = set.views()[0]!;
  assert.equal(view.state, 'failure');
  assert.match(view.errors[0]!, /^apps\/web\.yaml: App\/web: spec\.interval: "soon" is not a duration/);
  assert.match(view.description, /^apps\/web\.yaml: App\/web: spec\.interval: .* · 1 app, 0 projects$/);
});

/**
 * ConfigMaps in memory, as much of a cluster as the removal of a Git-defined app asks for: its ApplySet parent read,
 * marked, listed by label and deleted, and Events recorded.
 */
function memoryCluster() {
  const type = (kind: string, resource: string, namespaced: boolean): ResourceType => ({
    group: '',
    version: 'v1',
    kind,
    resource,
    namespaced,
    verbs: ['get', 'list', 'patch', 'delete'],
  });
  const types = new Map([
    ['ConfigMap', type('ConfigMap', 'configmaps', true)],
    ['Namespace', type('Namespace', 'namespaces', false)],
  ]);
  const objects = new Map<string, K8sObject>();
  const key = (kind: string, name: string, ns?: string) => `${kind}/${ns ?? ''}/${name}`;
  const events: string[] = [];
  const kube = {
    async apply(t: ResourceType, obj: K8sObject) {
      const k = key(t.kind, obj.metadata.name, obj.metadata.namespace);
      const old = objects.get(k);
      const m = obj.metadata;
      const object: K8sObject = {
        ...old,
        ...obj,
        metadata: {
          ...old?.metadata,
          ...m,
          labels: { ...old?.metadata.labels, ...m.labels },
          annotations: { ...old?.metadata.annotations, ...m.annotations },
        },
      };
      objects.set(k, object);
      return { object, created: !old };
    },
    async get(t: ResourceType, name: string, ns?: string) {
      return objects.get(key(t.kind, name, ns));
    },
    async list(t: ResourceType, options: { namespace?: string; labelSelector?: string } = {}) {
      const [label, value] = (options.labelSelector ?? '').split('=');
      const items = [...objects.values()].filter(
        (o) =>
          o.kind === t.kind &&
          (!options.namespace || o.metadata.namespace === options.namespace) &&
          (!label || o.metadata.labels?.[label] === value),
      );
      return { items, resourceVersion: '1' };
    },
    async delete(t: ResourceType, name: string, ns?: string) {
      return objects.delete(key(t.kind, name, ns));
    },
    async createEvent(e: { reason: string }) {
      events.push(e.reason);
    },
  } as unknown as KubeClient;
  const discovery = { resolve: async (_apiVersion: string, kind: string) => types.get(kind) } as unknown as Discovery;
  return { kube, discovery, objects, events };
}

/** Apps web (its document `web`) and api, read by an app set that writes to an in-memory cluster. */
function removalSetup(web: string, host: Host, owns?: (name: string) => boolean) {
  const repo = {
    files: {
      'apps/web.yaml': web,
      'apps/api.yaml': app('api', 'envs/api'),
      'envs/web/cm.yaml': cm,
      'envs/api/cm.yaml': cm,
    } as Record<string, string>,
  };
  const cluster = memoryCluster();
  const set = new AppSet({
    config: parseConfig({ cluster: 'dev', appsFrom: [{ repo: REPO, path: 'apps' }] }),
    kube: cluster.kube,
    discovery: cluster.discovery,
    renderer: toolRenderer,
    openSource: async () => memorySource(repo),
    log: silentLogger,
    host,
    ...(owns ? { owns } : {}),
  });
  return { repo, cluster, set };
}

test('a refused cascade is remembered while its inventory exists and forgotten once it is deleted by hand', async () => {
  const host = new Host();
  const { repo, cluster, set } = removalSetup(
    app('web', 'envs/web').replace('spec: {', 'spec: {deletionPolicy: cascade, '),
    host,
  );
  const parent = 'ConfigMap/tether-system/tether-web';
  await set.refreshAll('test');
  assert.deepEqual([...host.running.keys()].sort(), ['api', 'web']);
  assert.ok(cluster.objects.has(parent), 'the definition is marked on the inventory');

  // Removed from Git before it ever synced: the inventory records no revision to render its deletion hooks at, so
  // the cascade is refused and remembered (retried only when the inventory changes, or an hour later).
  delete repo.files['apps/web.yaml'];
  await set.refreshAll('test');
  assert.equal(host.running.has('web'), false);
  assert.deepEqual(cluster.events, ['CascadeRefused']);
  const failedNote = (notes: readonly string[]) => notes.some((n) => n.startsWith('removal of app web failed'));
  assert.ok(failedNote(set.views()[0]!.notes));
  assert.equal(set.rememberedRemovals, 1);
  await set.refreshAll('test');
  assert.equal(set.rememberedRemovals, 1, 'kept while the inventory is there');
  assert.ok(failedNote(set.views()[0]!.notes));

  // Someone deletes the inventory by hand: nothing is left to remove, and nothing of the app is kept.
  cluster.objects.delete(parent);
  await set.refreshAll('test');
  assert.equal(set.rememberedRemovals, 0);
  assert.equal(failedNote(set.views()[0]!.notes), false);
  assert.deepEqual(cluster.events, ['CascadeRefused'], 'nothing was tried again');
});

test('the deletion hooks of an app another replica removes are not kept here', async () => {
  // This replica runs every app's definition but holds api's shard only: web's removal is another replica's.
  const host = new (class extends Host {
    override deleteHooksOf(): CascadeHooks {
      return { hooks: [], run: { timeoutMs: 0, pollMs: 0 } };
    }
  })();
  const { repo, set } = removalSetup(app('web', 'envs/web'), host, (name) => name !== 'web');
  await set.refreshAll('test');
  delete repo.files['apps/web.yaml'];
  await set.refreshAll('test');
  assert.equal(host.running.has('web'), false);
  assert.equal(set.rememberedRemovals, 0);
});
