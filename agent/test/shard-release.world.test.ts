// A replica that lets an app's shard go (to a replica that joined, or on a renewal it missed) keeps nothing of that
// app's cluster state: no watch of a kind only that app used, no resource-tree feed for its namespaces, no live
// objects or health to judge, and no heal of its drift. Taken back, the app is synced afresh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import type { ResourceType, WatchEvent, WatchOptions } from '../src/core/kube-port.ts';
import type { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import type { ShardGate, ShardListener, ShardMapView } from '../src/reconcile/shard-leases.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const WAIT = { timeoutMs: 60_000, intervalMs: 50 };

/** A shard gate the test moves by hand: each app is a shard of its own, held while its name is in `held`. */
class HandShards implements ShardGate {
  readonly identity = 'replica-0';
  readonly held = new Set<string>();
  #listener: ShardListener | undefined;

  constructor(readonly names: readonly string[]) {}

  owns(name: string): boolean {
    return this.held.has(name);
  }
  holderOf(name: string): { shard: number; holder: string } {
    return { shard: this.names.indexOf(name), holder: this.held.has(name) ? this.identity : 'replica-1' };
  }
  heldCount(): number {
    return this.held.size;
  }
  problem(): string | undefined {
    return undefined;
  }
  view(): ShardMapView {
    const map = this.names.map((n, shard) => ({ shard, holder: this.holderOf(n).holder }));
    return {
      identity: this.identity,
      shards: this.names.length,
      held: map.filter((s) => s.holder === this.identity).map((s) => s.shard),
      replicas: [this.identity, 'replica-1'],
      map,
    };
  }
  start(listener: ShardListener): void {
    this.#listener = listener;
    this.take(...this.names);
  }
  async stop(): Promise<void> {}

  /** Holds the apps' shards (the agent starts their work). */
  take(...apps: string[]): void {
    for (const a of apps) this.held.add(a);
    this.#listener?.onAcquired(apps.map((a) => this.names.indexOf(a)));
  }

  /** Lets the apps' shards go, as ShardLeases does: not owned any more, then resolves once their work stopped. */
  async lose(...apps: string[]): Promise<void> {
    for (const a of apps) this.held.delete(a);
    await this.#listener?.onLost(apps.map((a) => this.names.indexOf(a)));
  }
}

/** The world's client, counting the watches open now per resource. */
function watchCountingKube(client: HttpKubeClient) {
  const open = new Map<string, number>();
  const kube = new Proxy(client, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== 'watch') return typeof value === 'function' ? value.bind(target) : value;
      return (type: ResourceType, options: WatchOptions, onEvent: (e: WatchEvent) => void) => {
        const w = target.watch(type, options, onEvent);
        open.set(type.resource, (open.get(type.resource) ?? 0) + 1);
        void w.done.then(() => open.set(type.resource, (open.get(type.resource) ?? 1) - 1));
        return w;
      };
    },
  });
  const watched = () =>
    [...open]
      .filter(([, n]) => n > 0)
      .map(([r]) => r)
      .sort();
  return { kube, watched };
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
      containers: [{name: web, image: "ghcr.io/acme/web:1.0.0"}]
`;

describe('a replica that lets an app go', () => {
  let w: AgentWorld;
  let agent: Agent;
  let shards: HandShards;
  let watched: () => string[];

  before(async () => {
    w = await startAgentWorld({
      namespaces: ['tether-system', 'a', 'b'],
      files: {
        // Both apps run a Deployment (the resource tree watches ReplicaSets, Pods and Jobs for them); only b has a
        // Service.
        'apps/a/deploy.yaml': deployment('a'),
        'apps/b/deploy.yaml': deployment('b'),
        'apps/b/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf, namespace: b}\ndata: {v: "1"}\n',
        'apps/b/svc.yaml':
          'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: b}\nspec: {clusterIP: None, ports: [{port: 80}]}\n',
      },
    });
    const counting = watchCountingKube(w.client);
    watched = counting.watched;
    shards = new HandShards(['a', 'b']);
    ({ agent } = await w.startAgent(
      {
        apps: [
          w.app('a', 'apps/a', { namespace: 'a', interval: '1h' }),
          w.app('b', 'apps/b', { namespace: 'b', interval: '1h' }),
        ],
      },
      { kube: counting.kube, shards },
    ));
    await waitFor(
      () =>
        ['a', 'b'].every((n) => agent.app(n)?.state.sync === 'Synced') &&
        watched().join() === 'configmaps,deployments,jobs,pods,replicasets,services',
      { ...WAIT, describe: () => `${JSON.stringify(agent.apps().map((a) => a.state))} watching ${watched()}` },
    );
  });
  after(() => w?.stop());

  const configMap = async () =>
    ((await w.get('/api/v1/namespaces/b/configmaps/conf'))?.data as Record<string, string> | undefined)?.v;

  test('forgets its objects and health, ends the watches only it needed, and heals none of its drift', async () => {
    const b = agent.appSync('b')!;
    assert.ok(b.live.size > 0);
    await shards.lose('b');
    // A stopped watch ends as its stream closes.
    await waitFor(() => watched().join() === 'deployments,jobs,pods,replicasets', {
      ...WAIT,
      timeoutMs: 5000,
      describe: () => `watching ${watched()}: a needs only deployments and the tree's kinds`,
    });
    assert.equal(b.live.size, 0, 'live objects of an app held elsewhere');
    assert.deepEqual(b.desiredObjects, []);
    assert.equal(b.state.health.status, 'Unknown');
    // What the API and the page show of it says where its verdict is, not that it was never synced.
    const shown = agent.app('b')!.state;
    assert.equal(shown.health.status, 'Unknown');
    assert.match(shown.health.message ?? '', /^app b is in shard \d+, held by replica \S+: ask that replica$/);
    assert.equal(shown.lastSync, undefined);

    // Drift on b is the holder's to heal: this replica writes nothing.
    const patched = await w.kube.request(
      'PATCH',
      '/api/v1/namespaces/b/configmaps/conf?fieldManager=someone-else',
      { data: { v: 'drifted' } },
      'application/merge-patch+json',
    );
    assert.equal(patched.status, 200);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await configMap(), 'drifted');
    assert.equal(b.live.size, 0);

    await shards.lose('a');
    await waitFor(() => watched().length === 0, {
      ...WAIT,
      timeoutMs: 5000,
      describe: () => `still watching ${watched()} with no app held`,
    });
    assert.equal(agent.appSync('a')!.live.size, 0);
  });

  test('taken back, the app is synced afresh: its drift is corrected and its watches open again', async () => {
    shards.take('a', 'b');
    await waitFor(async () => (await configMap()) === '1', { ...WAIT, describe: () => 'b was not re-applied' });
    await waitFor(
      () =>
        ['a', 'b'].every((n) => agent.app(n)?.state.sync === 'Synced') &&
        watched().join() === 'configmaps,deployments,jobs,pods,replicasets,services',
      { ...WAIT, describe: () => `${JSON.stringify(agent.apps().map((a) => a.state))} watching ${watched()}` },
    );
    assert.ok(agent.appSync('b')!.live.size > 0);
  });
});
