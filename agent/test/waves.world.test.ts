import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

/** A Deployment in `wave` whose pods kwok makes Ready only after `readyAfter` (see testenv/kwok-stages.yaml). */
function deployment(ns: string, name: string, wave: string, opts: { readyAfter?: string; image?: string } = {}) {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: {argocd.argoproj.io/sync-wave: "${wave}"}
spec:
  replicas: 1
  progressDeadlineSeconds: ${opts.image ? 4 : 600}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}}
      annotations: {tether.test/ready-after: "${opts.readyAfter ?? '0s'}"}
    spec:
      containers: [{name: c, image: "${opts.image ?? 'ghcr.io/acme/web:1.0.0'}"}]
`;
}

const configMap = (ns: string, name: string, wave: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  annotations: {tether.dev/sync-wave: "${wave}"}\ndata: {a: b}\n`;
const namespace = (ns: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`;

const files = {
  'slow/ns.yaml': namespace('slow'),
  'slow/deploy.yaml': deployment('slow', 'api', '1', { readyAfter: '6s' }),
  'slow/after.yaml': configMap('slow', 'after', '2'),
  'broken/ns.yaml': namespace('broken'),
  'broken/deploy.yaml': deployment('broken', 'api', '1', { image: 'ghcr.io/acme/web:broken' }),
  'broken/after.yaml': configMap('broken', 'after', '2'),
  'stuck/ns.yaml': namespace('stuck'),
  'stuck/deploy.yaml': deployment('stuck', 'api', '1', { readyAfter: '10m' }),
  'stuck/after.yaml': configMap('stuck', 'after', '2'),
  'guestbook/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ui\ndata: {a: b}\n',
  'guestbook/other.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ui\n  namespace: guestbook-extra\ndata: {a: b}\n',
};

describe('sync waves wait for health (full mode: pods run under kwok)', () => {
  let w: AgentWorld;
  before(async () => {
    w = await startAgentWorld({ kube: 'full', files });
  });
  after(() => w?.stop());

  const makeSync = (name: string, waveTimeoutMs?: number, extra: { path?: string; createNamespace?: boolean } = {}) =>
    w.appSync(
      {
        name,
        path: extra.path ?? name,
        namespace: extra.path ?? name,
        ...(waveTimeoutMs ? { waveTimeoutMs } : {}),
        ...(extra.createNamespace !== undefined ? { createNamespace: extra.createNamespace } : {}),
      },
      { wavePollMs: 200 },
    );
  const get = (path: string) => w.get(path);

  test('wave 2 is created only once the slow rollout of wave 1 is Healthy', async () => {
    const app = await makeSync('slow');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    const deploy = await get('/apis/apps/v1/namespaces/slow/deployments/api');
    const cm = await get('/api/v1/namespaces/slow/configmaps/after');
    assert.ok(deploy && cm);
    // creationTimestamps have one-second resolution; the pod becomes Ready 6 s after it is scheduled.
    const gap = Date.parse(cm.metadata.creationTimestamp!) - Date.parse(deploy.metadata.creationTimestamp!);
    assert.ok(gap >= 5000, `ConfigMap created ${gap} ms after the Deployment`);
    const waves = out.waves?.map((w) => [w.wave, w.objects, w.outcome]);
    assert.deepEqual(waves, [
      ['prerequisites', 1, 'applied'],
      [1, 1, 'healthy'],
      [2, 1, 'applied'],
    ]);
    assert.ok((out.waves?.[1]?.waitMs ?? 0) >= 4000, JSON.stringify(out.waves));
    assert.equal(app.state.sync, 'Synced');
  });

  test('a Degraded wave stops the sync naming the object; later waves are not applied', async () => {
    const app = await makeSync('broken');
    const out = await app.sync();
    assert.equal(out.error?.stage, 'apply');
    assert.match(out.error?.message ?? '', /^wave 1 Degraded: Deployment\/broken\/api: /);
    assert.equal(out.health.status, 'Degraded');
    assert.equal(out.health.subject, 'Deployment/broken/api');
    assert.equal(await get('/api/v1/namespaces/broken/configmaps/after'), undefined);
    assert.equal(out.waves?.at(-1)?.outcome, 'degraded');
    assert.equal(app.state.sync, 'OutOfSync');
  });

  test('a wave that is not healthy within waveTimeout stops the sync', async () => {
    const app = await makeSync('stuck', 1500);
    const out = await app.sync();
    assert.equal(out.error?.stage, 'apply');
    assert.match(out.error?.message ?? '', /^wave 1 timed out after 1\.5s: Deployment\/stuck\/api: /);
    assert.equal(await get('/api/v1/namespaces/stuck/configmaps/after'), undefined);
    assert.equal(out.waves?.at(-1)?.outcome, 'timeout');
  });

  test('without createNamespace a missing namespace fails saying how to fix it; with it, it is created', async () => {
    const without = await makeSync('gb-plain', undefined, { path: 'guestbook' });
    const failed = await without.sync();
    assert.equal(failed.error?.stage, 'apply');
    assert.match(
      failed.error?.message ?? '',
      /namespaces "guestbook(-extra)?" not found \(add a Namespace guestbook(-extra)? to Git, or set createNamespace: true for the app\)/,
    );

    const app = await makeSync('gb', undefined, { path: 'guestbook', createNamespace: true });
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    const created = out.entries.filter((e) => e.reason === 'createNamespace').map((e) => e.subject);
    assert.deepEqual(created, ['Namespace/guestbook', 'Namespace/guestbook-extra']);
    assert.ok(await get('/api/v1/namespaces/guestbook/configmaps/ui'));
    assert.ok(await get('/api/v1/namespaces/guestbook-extra/configmaps/ui'));
    // Created namespaces are not members: they carry no ApplySet label, so nothing ever prunes them.
    const ns = await get('/api/v1/namespaces/guestbook');
    assert.equal(Object.keys(ns?.metadata.labels ?? {}).filter((k) => k.startsWith('applyset')).length, 0);
  });
});
