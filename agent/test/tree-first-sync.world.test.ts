// The resource tree of an app's first sync, against a real kube-apiserver: the agent starts watching the app's
// namespaces once the revision is rendered, before its applies: the tree read as the sync returns is complete, and
// the ReplicaSet its Deployment gets arrives through a watch already running (not in a list made only afterwards).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import type { KubeClient } from '../src/core/kube-port.ts';
import type { K8sObject } from '../src/core/types.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: ghcr.io/acme/web:1.0.0}]}
`;

describe('the resource tree of a first sync', () => {
  let w: AgentWorld;
  let agent: Agent;
  /** What the agent asked of the cluster, in order: `list ReplicaSet` (cluster-wide), `apply Deployment/web`. */
  const calls: string[] = [];

  before(async () => {
    w = await startAgentWorld({ files: { 'envs/shop/web.yaml': deployment }, namespaces: ['shop'] });
    // This apiserver runs no controllers: the ReplicaSet the Deployment controller would make is made by the
    // client as the Deployment's apply returns, owned by it, as the controller makes it a moment later.
    const inner: KubeClient = w.client;
    const kube = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === 'list')
          return (type: { kind: string }, options?: { namespace?: string; labelSelector?: string }) => {
            if (!options?.namespace && !options?.labelSelector) calls.push(`list ${type.kind}`);
            return target.list(type as never, options);
          };
        if (prop === 'apply')
          return async (type: { kind: string }, obj: K8sObject, options?: { dryRun?: boolean }) => {
            const out = await target.apply(type as never, obj, options);
            if (options?.dryRun || obj.kind !== 'Deployment') return out;
            calls.push(`apply Deployment/${obj.metadata.name}`);
            const uid = out.object.metadata.uid;
            const rs = {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              metadata: {
                name: 'web-5d9c7b',
                namespace: 'shop',
                ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid, controller: true }],
              },
              spec: {
                replicas: 0,
                selector: { matchLabels: { app: 'web' } },
                template: {
                  metadata: { labels: { app: 'web' } },
                  spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:1.0.0' }] },
                },
              },
            };
            const r = await w.kube.request('POST', '/apis/apps/v1/namespaces/shop/replicasets', rs);
            assert.equal(r.status, 201, JSON.stringify(r.body));
            return out;
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    ({ agent } = await w.startAgent(
      { apps: [w.app('shop', 'envs/shop', { namespace: 'shop', interval: '1h' })] },
      { kube, start: false },
    ));
  });
  after(() => w?.stop());

  test('the watches start before the applies: the tree read as the first sync returns holds the ReplicaSet', async () => {
    const out = await agent.syncNow('shop', 'test', 'test');
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    const tree = agent.tree('shop')!;
    const listed = calls.indexOf('list ReplicaSet');
    const applied = calls.indexOf('apply Deployment/web');
    assert.ok(listed >= 0 && applied > listed, `ReplicaSets listed before the Deployment was applied: ${calls}`);
    assert.equal(tree.complete, true, 'every feed listed the namespace before the sync returned');
    // The ReplicaSet came after the list, through the watch started with it: its event is normally in before the
    // sync's last requests are answered; a loaded machine gets a moment (the order above is what proves the fix).
    const children = () =>
      agent
        .tree('shop')!
        .nodes.find((n) => n.subject === 'Deployment/shop/web')
        ?.children.map((c) => c.subject);
    await waitFor(() => children()?.length === 1, { timeoutMs: 5000, describe: () => JSON.stringify(tree.nodes) });
    assert.deepEqual(children(), ['ReplicaSet/shop/web-5d9c7b']);
  });
});
