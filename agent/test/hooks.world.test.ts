import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { statusFor } from '../src/core/commit-status.ts';
import { APPLYSET } from '../src/core/inventory.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

/** A hook Job; kwok finishes its pod after `runFor`, failing it when `fail` (see testenv/kwok-stages.yaml). */
function job(ns: string, meta: string, annotations: string, opts: { runFor?: string; fail?: boolean } = {}) {
  return `apiVersion: batch/v1
kind: Job
metadata:
  ${meta}
  namespace: ${ns}
  annotations: {${annotations}}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {tether.test/ready-after: "${opts.runFor ?? '0s'}", tether.test/job-outcome: "${opts.fail ? 'fail' : 'ok'}"}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "ghcr.io/acme/migrate:1.0.0"}]
`;
}

const deployment = (ns: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: "ghcr.io/acme/web:1.0.0"}]
`;
const namespace = (ns: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`;
const configMap = (ns: string, name: string, annotations = '', data = 'a') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  annotations: {${annotations}}\ndata: {a: ${data}}\n`;

const files = {
  'pre/ns.yaml': namespace('pre'),
  'pre/migrate.yaml': job('pre', 'name: migrate', 'argocd.argoproj.io/hook: PreSync', { runFor: '3s' }),
  'pre/deploy.yaml': deployment('pre'),
  'fail/ns.yaml': namespace('fail'),
  'fail/migrate.yaml': job('fail', 'name: migrate', 'tether.dev/hook: PreSync', { fail: true }),
  'fail/on-fail.yaml': configMap('fail', 'sync-failed', 'helm.sh/hook: x, tether.dev/hook: SyncFail'),
  'fail/deploy.yaml': deployment('fail'),
  'gen/ns.yaml': namespace('gen'),
  'gen/seed.yaml': job(
    'gen',
    'generateName: seed-',
    'helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-delete-policy: hook-succeeded',
  ),
  'gen/config.yaml': configMap('gen', 'config'),
  // Two Jobs of one PreSync wave that each run 3 s, and one of the next wave.
  'par/ns.yaml': namespace('par'),
  'par/a.yaml': job('par', 'name: a', 'tether.dev/hook: PreSync', { runFor: '3s' }),
  'par/b.yaml': job('par', 'name: b', 'tether.dev/hook: PreSync', { runFor: '3s' }),
  'par/c.yaml': job('par', 'name: c', 'tether.dev/hook: PreSync, tether.dev/sync-wave: "1"'),
  'par/config.yaml': configMap('par', 'config'),
  // A wave where two hooks fail at once and a third still runs; the next wave must not start.
  'pf/ns.yaml': namespace('pf'),
  'pf/bad-a.yaml': job('pf', 'name: bad-a', 'tether.dev/hook: PreSync', { fail: true }),
  'pf/bad-b.yaml': job('pf', 'name: bad-b', 'tether.dev/hook: PreSync', { fail: true }),
  'pf/slow.yaml': job('pf', 'name: slow', 'tether.dev/hook: PreSync, tether.dev/hook-delete-policy: HookSucceeded', {
    runFor: '3s',
  }),
  'pf/later.yaml': job('pf', 'name: later', 'tether.dev/hook: PreSync, tether.dev/sync-wave: "1"'),
  'pf/config.yaml': configMap('pf', 'config'),
};

/** When a Job was created and when it completed, in ms (the apiserver keeps whole seconds). */
function jobTimes(j: { metadata: { creationTimestamp?: string }; status?: unknown }): {
  created: number;
  done: number;
} {
  const done = (j.status as { completionTime?: string } | undefined)?.completionTime;
  assert.ok(done, `not complete: ${JSON.stringify(j.status)}`);
  return { created: Date.parse(j.metadata.creationTimestamp!), done: Date.parse(done) };
}

describe('sync hooks (full mode: Jobs run under kwok)', () => {
  let w: AgentWorld;
  before(async () => {
    w = await startAgentWorld({ kube: 'full', files });
  });
  after(() => w?.stop());

  const makeSync = (name: string) => w.appSync({ name, namespace: name, waveTimeoutMs: 60_000 }, { wavePollMs: 200 });
  const get = (path: string) => w.get(path);

  test('a PreSync Job finishes before the Deployment is created; the hook is no ApplySet member', async () => {
    const app = await makeSync('pre');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.deepEqual(
      out.hooks?.map((h) => [h.phase, h.subject, h.outcome, h.deleted]),
      [['PreSync', 'Job/pre/migrate', 'Succeeded', false]],
    );
    const migrate = await get('/apis/batch/v1/namespaces/pre/jobs/migrate');
    const deploy = await get('/apis/apps/v1/namespaces/pre/deployments/web');
    assert.ok(migrate && deploy);
    const done = (migrate.status as { completionTime?: string }).completionTime;
    assert.ok(done, JSON.stringify(migrate.status));
    assert.ok(Date.parse(deploy.metadata.creationTimestamp!) >= Date.parse(done), `${done} vs deployment`);
    const gap = Date.parse(deploy.metadata.creationTimestamp!) - Date.parse(migrate.metadata.creationTimestamp!);
    assert.ok(gap >= 2000, `Deployment created ${gap} ms after the Job`);
    assert.equal(migrate.metadata.labels?.[APPLYSET.partOfLabel], undefined);
    assert.ok(!app.desiredObjects.some((o) => o.kind === 'Job'), 'hooks are not desired members');

    // The same revision again is a no-op: the hook does not run again.
    const again = await app.sync();
    assert.equal(again.noop, true);
    assert.equal((await get('/apis/batch/v1/namespaces/pre/jobs/migrate'))?.metadata.uid, migrate.metadata.uid);
  });

  test('a failing PreSync applies nothing else, runs SyncFail, and the status names it', async () => {
    const app = await makeSync('fail');
    const out = await app.sync();
    assert.equal(out.error?.stage, 'apply');
    assert.match(out.error?.message ?? '', /^PreSync hook Job\/fail\/migrate failed: .*; the app was not applied$/);
    assert.deepEqual(
      out.hooks?.map((h) => [h.phase, h.subject, h.outcome]),
      [
        ['PreSync', 'Job/fail/migrate', 'Failed'],
        ['SyncFail', 'ConfigMap/fail/sync-failed', 'Succeeded'],
      ],
    );
    assert.equal(await get('/apis/apps/v1/namespaces/fail/deployments/web'), undefined);
    assert.ok(await get('/api/v1/namespaces/fail/configmaps/sync-failed'));
    const status = statusFor(app.state, { cluster: 'dev' });
    assert.equal(status.state, 'failure');
    assert.match(status.description, /PreSync hook Job\/fail\/migrate failed/);
  });

  test('hooks of one wave run together; the next wave starts once all of them finished', async () => {
    const app = await makeSync('par');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.deepEqual(
      out.hooks?.map((h) => [h.subject, h.outcome]),
      [
        ['Job/par/a', 'Succeeded'],
        ['Job/par/b', 'Succeeded'],
        ['Job/par/c', 'Succeeded'],
      ],
    );
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => get(`/apis/batch/v1/namespaces/par/jobs/${n}`)));
    const ta = jobTimes(a!);
    const tb = jobTimes(b!);
    const tc = jobTimes(c!);
    // Each was created before the other completed: they ran at the same time (one after the other, the second
    // would be created no earlier than the first completed).
    assert.ok(tb.created < ta.done && ta.created < tb.done, JSON.stringify({ ta, tb }));
    assert.ok(tc.created >= Math.max(ta.done, tb.done), JSON.stringify({ ta, tb, tc }));
  });

  test('a failed wave is waited on whole, names every failed hook, and stops the phase', async () => {
    const app = await makeSync('pf');
    const out = await app.sync();
    assert.equal(out.error?.stage, 'apply');
    assert.match(
      out.error?.message ?? '',
      /^2 PreSync hooks failed: Job\/pf\/bad-a: .*; Job\/pf\/bad-b: .*; the app was not applied$/,
    );
    assert.deepEqual(
      out.hooks?.map((h) => [h.subject, h.outcome, h.deleted]),
      [
        ['Job/pf/bad-a', 'Failed', false],
        ['Job/pf/bad-b', 'Failed', false],
        ['Job/pf/slow', 'Succeeded', true],
      ],
    );
    assert.equal(await get('/apis/batch/v1/namespaces/pf/jobs/later'), undefined, 'the next wave did not start');
    assert.equal(await get('/api/v1/namespaces/pf/configmaps/config'), undefined, 'nothing of the app was applied');
  });

  test('a generateName hook runs again, under a new name, on a new revision', async () => {
    const app = await makeSync('gen');
    const first = await app.sync();
    assert.equal(first.error, undefined, JSON.stringify(first.error));
    const [h1] = first.hooks ?? [];
    assert.match(h1?.subject ?? '', /^Job\/gen\/seed-[a-z0-9]{5}$/);
    assert.equal(h1?.outcome, 'Succeeded');
    assert.equal(h1?.deleted, true, 'hook-succeeded deletes it');
    const name1 = h1!.subject.split('/')[2];
    await waitFor(async () => (await get(`/apis/batch/v1/namespaces/gen/jobs/${name1}`)) === undefined, {
      timeoutMs: 10_000,
      describe: () => `Job ${name1} still exists`,
    });

    await w.commit({ 'gen/config.yaml': configMap('gen', 'config', '', 'b') }, 'change config');
    const second = await app.sync();
    assert.equal(second.error, undefined, JSON.stringify(second.error));
    const [h2] = second.hooks ?? [];
    assert.match(h2?.subject ?? '', /^Job\/gen\/seed-[a-z0-9]{5}$/);
    assert.notEqual(h2?.subject, h1?.subject);
    assert.equal(h2?.outcome, 'Succeeded');
  });
});
