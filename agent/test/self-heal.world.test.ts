import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import type { K8sObject } from '../src/core/types.ts';
import { type HealEvent, SelfHeal } from '../src/reconcile/self-heal.ts';
import type { AppSync } from '../src/reconcile/sync.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const deployment = (name: string, extra: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}${extra}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: app, image: "ghcr.io/acme/${name}:1.0.0"}]
`;

describe('self-heal against a real apiserver (the poll interval plays no part)', () => {
  let w: AgentWorld;
  let app: AppSync;
  let heal: SelfHeal;
  const events: HealEvent[] = [];

  before(async () => {
    w = await startAgentWorld({
      files: {
        // `web` pins replicas in Git; `scaled` leaves them to someone else (an HPA).
        'envs/dev/web/web.yaml': deployment('web', '').replace('spec:\n', 'spec:\n  replicas: 2\n'),
        'envs/dev/web/scaled.yaml': deployment('scaled', ''),
        'envs/dev/web/manual.yaml': deployment('manual', '\n  annotations: {tether.dev/self-heal: disabled}'),
        'envs/dev/web/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: "1"}\n',
      },
    });
    app = await w.appSync({ name: 'web', path: 'envs/dev/web' });
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    heal = new SelfHeal(app, { kube: w.client, discovery: w.discovery }, {}, (e) => events.push(e));
    await heal.update();
  });
  after(async () => {
    await heal?.stop();
    await w?.stop();
  });

  const kubectl = (...args: string[]) =>
    execFileSync('kubectl', ['--kubeconfig', w.kube.kubeconfig, '-n', 'default', ...args], { encoding: 'utf8' });
  const getDeploy = async (name: string) =>
    (await w.kube.request('GET', `/apis/apps/v1/namespaces/default/deployments/${name}`)).body as K8sObject & {
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
    };
  const healedFor = (subject: string) => events.filter((e) => e.subject === subject && e.mode === 'healed');

  test('kubectl scale on a Deployment whose replicas Git owns is reverted', async () => {
    kubectl('scale', 'deployment/web', '--replicas=5');
    await waitFor(async () => (await getDeploy('web')).spec.replicas === 2, {
      timeoutMs: 10_000,
      describe: () => 'replicas not reverted to 2',
    });
    assert.ok(healedFor('Deployment/default/web').length >= 1);
  });

  test('kubectl set image is reverted', async () => {
    kubectl('set', 'image', 'deployment/web', 'app=ghcr.io/acme/web:evil');
    await waitFor(
      async () => (await getDeploy('web')).spec.template.spec.containers[0]!.image === 'ghcr.io/acme/web:1.0.0',
      {
        timeoutMs: 10_000,
        describe: () => 'image not reverted',
      },
    );
  });

  test('kubectl delete → recreated', async () => {
    kubectl('delete', 'configmap/settings', '--wait=false');
    await waitFor(
      async () => (await w.kube.request('GET', '/api/v1/namespaces/default/configmaps/settings')).status === 200,
      {
        timeoutMs: 10_000,
        describe: () => 'ConfigMap not recreated',
      },
    );
    // The object can be visible before the agent has processed the apply's answer: wait for the record too.
    await waitFor(() => healedFor('ConfigMap/default/settings').some((e) => e.entry.action === 'created'), {
      timeoutMs: 5_000,
      describe: () => JSON.stringify(healedFor('ConfigMap/default/settings')),
    });
  });

  test('replicas owned by another manager (an HPA) are left alone', async () => {
    kubectl('scale', 'deployment/scaled', '--replicas=4');
    // Give self-heal ample time to (wrongly) act, then check it did not.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await getDeploy('scaled')).spec.replicas, 4);
    assert.equal(healedFor('Deployment/default/scaled').length, 0);
  });

  test('tether.dev/self-heal: disabled reports OutOfSync and changes nothing', async () => {
    kubectl('set', 'image', 'deployment/manual', 'app=ghcr.io/acme/manual:hotfix');
    await waitFor(() => app.state.sync === 'OutOfSync', {
      timeoutMs: 10_000,
      describe: () => JSON.stringify(app.state),
    });
    assert.deepEqual(app.state.drifted, ['Deployment/default/manual']);
    assert.equal((await getDeploy('manual')).spec.template.spec.containers[0]!.image, 'ghcr.io/acme/manual:hotfix');
  });

  test('stopped (its app handed to another replica), it remembers nothing of the objects', async () => {
    assert.ok(heal.remembered > 0);
    await heal.stop();
    assert.equal(heal.remembered, 0, 'self-heal kept what it saw of the objects after it stopped');
  });
});
