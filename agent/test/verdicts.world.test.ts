// Honest verdicts against a real apiserver and Git server: an empty render, a blocked prune and a drift left alone
// are never reported as Synced/success.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { emptyMetrics } from '../src/core/agent-metrics.ts';
import { appView } from '../src/core/agent-view.ts';
import { statusFor } from '../src/core/commit-status.ts';
import { renderMetrics } from '../src/core/metrics-text.ts';
import { renderAppPage } from '../src/core/status-page.ts';
import { SelfHeal } from '../src/reconcile/self-heal.ts';
import { type AppSync, pruneOptions } from '../src/reconcile/sync.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const configMaps = (prefix: string, n: number) =>
  Array.from(
    { length: n },
    (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${prefix}-${i}\ndata:\n  i: "${i}"\n`,
  ).join('---\n');

describe('honest verdicts', () => {
  let w: AgentWorld;
  before(async () => {
    w = await startAgentWorld({
      files: {
        'envs/dev/docs/README.md': 'manifests moved elsewhere\n',
        'envs/dev/many/cms.yaml': configMaps('many', 101),
        'envs/dev/gone/cms.yaml': configMaps('gone', 101),
        'envs/dev/gone/README.md': 'readme\n',
        'envs/dev/manual/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: manual\n  annotations: {tether.dev/self-heal: disabled}\ndata:\n  k: git\n',
      },
    });
  });
  after(() => w?.stop());

  const makeSync = (name: string, path: string, overrides: Partial<ReturnType<typeof pruneOptions>> = {}) =>
    w.appSync({ name, path, prune: pruneOptions(overrides) });
  const view = (app: AppSync, path: string) =>
    appView({ name: app.app.name, repo: 'https://example.invalid/env.git', ref: 'main', path, ...appParts(app) });
  const appParts = (app: AppSync) => ({ state: app.state, desired: app.desiredObjects, live: app.live });
  const count = async (prefix: string) => {
    const r = await w.kube.request('GET', '/api/v1/namespaces/default/configmaps');
    return (r.body as { items: { metadata: { name: string } }[] }).items.filter((i) =>
      i.metadata.name.startsWith(`${prefix}-`),
    ).length;
  };

  test('a path with only a README is an error naming the path and the file, not "Synced 0 resources"', async () => {
    const app = await makeSync('docs', 'envs/dev/docs');
    const out = await app.sync();
    assert.equal(out.error?.stage, 'render');
    assert.match(
      out.error?.message ?? '',
      /no manifests at envs\/dev\/docs \(only files Tether does not render: README\.md\)/,
    );
    assert.equal(app.state.sync, 'Unknown');
    const status = statusFor(app.state, { cluster: 'dev' });
    assert.equal(status.state, 'error');
    assert.match(status.description, /^Render failed: no manifests at envs\/dev\/docs/);
  });

  test('90 of 101 objects dropped: the prune is blocked, the app OutOfSync, the status failure, the gauge 1', async () => {
    const app = await makeSync('many', 'envs/dev/many');
    assert.equal((await app.sync()).error, undefined);
    assert.equal(await count('many'), 101);
    await w.commit({ 'envs/dev/many/cms.yaml': configMaps('many', 11) }, 'drop 90');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.match(out.pruneBlocked ?? '', /^prune blocked: 90 of 101 objects would be deleted, budget 50 %/);
    assert.equal(await count('many'), 101);
    assert.equal(app.state.sync, 'OutOfSync');
    const status = statusFor(app.state, { cluster: 'dev' });
    assert.equal(status.state, 'failure');
    assert.match(status.description, /^prune blocked: 90 of 101 objects would be deleted, budget 50 % — /);
    const metrics = renderMetrics('dev', [view(app, 'envs/dev/many')], emptyMetrics());
    assert.match(metrics, /^tether_prune_blocked\{app="many"\} 1$/m);
    assert.match(renderAppPage('dev', view(app, 'envs/dev/many'), undefined), /prune blocked: 90 of 101/);
    // The next poll (an unchanged tree) does not flip it back to Synced.
    const again = await app.sync();
    assert.equal(again.noop, true);
    assert.equal(app.state.sync, 'OutOfSync');
    assert.equal(statusFor(app.state, { cluster: 'dev' }).state, 'failure');
  });

  test('allowEmpty: an emptied path prunes everything, the budget notwithstanding', async () => {
    const app = await makeSync('gone', 'envs/dev/gone', { allowEmpty: true });
    assert.equal((await app.sync()).error, undefined);
    assert.equal(await count('gone'), 101);
    await w.commit({ 'envs/dev/gone/cms.yaml': null }, 'empty the app');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.equal(out.pruneBlocked, undefined);
    assert.equal(out.entries.filter((e) => e.action === 'pruned').length, 101);
    assert.equal(await count('gone'), 0);
    assert.equal(app.state.sync, 'Synced');
    const metrics = renderMetrics('dev', [view(app, 'envs/dev/gone')], emptyMetrics());
    assert.match(metrics, /^tether_prune_blocked\{app="gone"\} 0$/m);
  });

  test('drift with self-heal disabled stays OutOfSync over polls until the object changes back', async () => {
    const app = await makeSync('manual', 'envs/dev/manual');
    assert.equal((await app.sync()).error, undefined);
    const heal = new SelfHeal(app, { kube: w.client, discovery: w.discovery }, { debounceMs: 50 });
    await heal.update();
    try {
      const path = '/api/v1/namespaces/default/configmaps/manual';
      const patch = (k: string) => w.kube.request('PATCH', path, { data: { k } }, 'application/merge-patch+json');
      assert.equal((await patch('by-hand')).status, 200);
      await waitFor(() => app.state.sync === 'OutOfSync', {
        timeoutMs: 10_000,
        describe: () => JSON.stringify(app.state),
      });
      const poll = await app.sync();
      assert.equal(poll.noop, true);
      assert.equal(app.state.sync, 'OutOfSync');
      assert.deepEqual(app.state.drifted, ['ConfigMap/default/manual']);
      assert.equal((await patch('git')).status, 200);
      await waitFor(() => app.state.sync === 'Synced', {
        timeoutMs: 10_000,
        describe: () => JSON.stringify(app.state),
      });
      assert.equal(app.state.drifted, undefined);
    } finally {
      await heal.stop();
    }
  });
});
