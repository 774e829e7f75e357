import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer } from '../src/edges/http/server.ts';
import { FIXTURE_NOW, fixtureApps, fixtureMetrics, InMemoryAgentView } from './fixtures/agent-view.ts';
import { signedPush } from './fixtures/webhooks.ts';

const SECRET = 'whsec-shards';
const TOKEN = 'tether-api-shards';

/** A replica holding every fixture app but `billing`, which replica `tether-1` holds (shard 5). */
class ShardedView extends InMemoryAgentView {
  constructor() {
    super('prod-eu', fixtureApps(), { ...fixtureMetrics(), shardsHeld: 3 });
  }
  override apps() {
    return super.apps().filter((a) => a.name !== 'billing');
  }
  override requestSync(name: string, reason: string): boolean {
    return name !== 'billing' && super.requestSync(name, reason);
  }
  heldElsewhere(name: string) {
    return name === 'billing' ? { shard: 5, holder: 'tether-1' } : undefined;
  }
  shardMap() {
    return { identity: 'tether-0', shards: 8, held: [0, 1, 2], replicas: ['tether-0', 'tether-1'], map: [] };
  }
}

const server = (view: InMemoryAgentView) =>
  createServer(view, { now: () => FIXTURE_NOW, onError: () => {}, webhookSecret: SECRET, apiToken: TOKEN });

test('a sync asked of a replica that does not hold the app: 409 naming the shard and its holder, nothing queued', async () => {
  const view = new ShardedView();
  const res = await server(view).request('/api/apps/billing/sync', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 409);
  const body = (await res.json()) as { error: string; shard: number; holder: string };
  assert.equal(body.shard, 5);
  assert.equal(body.holder, 'tether-1');
  assert.match(body.error, /billing/);
  assert.deepEqual(view.syncRequests, []);
});

test('a push webhook triggers the apps held here and names the others with their holder', async () => {
  const view = new ShardedView();
  const res = await server(view).request(signedPush(SECRET));
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), {
    triggered: ['web'],
    heldElsewhere: [{ app: 'billing', shard: 5, holder: 'tether-1' }],
  });
});

test('/api/apps lists the apps held here with the shard map; /metrics has tether_shards_held', async () => {
  const app = server(new ShardedView());
  const apps = (await (await app.request('/api/apps')).json()) as {
    apps: { name: string }[];
    sharding: { identity: string; held: number[] };
  };
  assert.ok(!apps.apps.some((a) => a.name === 'billing'));
  assert.deepEqual(apps.sharding.held, [0, 1, 2]);
  const metrics = await (await app.request('/metrics')).text();
  assert.match(metrics, /^tether_shards_held 3$/m);
  // Unsharded, the gauge is absent.
  const plain = await (
    await server(new InMemoryAgentView('prod-eu', fixtureApps(), fixtureMetrics())).request('/metrics')
  ).text();
  assert.doesNotMatch(plain, /tether_shards_held/);
});
