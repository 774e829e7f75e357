import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PushSignal, PushSignalAnswer } from '../src/core/agent-view.ts';
import { createServer } from '../src/edges/http/server.ts';
import { FIXTURE_NOW, fixtureApps, fixtureMetrics, InMemoryAgentView } from './fixtures/agent-view.ts';
import { pushBody, signature, signedPush, webhook } from './fixtures/webhooks.ts';

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

/** A replica that signals pushes to the others (or fails to, with `failWith`). */
class SignallingView extends ShardedView {
  signals: PushSignal[] = [];
  failWith: string | undefined;
  signalPush(push: PushSignal): Promise<PushSignalAnswer> {
    this.signals.push(push);
    return Promise.resolve(this.failWith ? { signalled: false, error: this.failWith } : { signalled: true });
  }
}

test('a push is signalled to the other replicas: the answer says so; a failed signal says the others were not told', async () => {
  const view = new SignallingView();
  const res = await server(view).request(signedPush(SECRET));
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), {
    triggered: ['web'],
    heldElsewhere: [{ app: 'billing', shard: 5, holder: 'tether-1' }],
    signalled: true,
  });
  assert.equal(view.signals.length, 1);
  assert.equal(view.signals[0]?.repo, 'acme/env');
  assert.equal(view.signals[0]?.ref, 'refs/heads/main');

  view.failWith = 'configmaps "tether-dev-shard-pushes" is forbidden';
  const body = pushBody('acme/env', 'refs/heads/main', 'b'.repeat(40));
  const failed = await server(view).request(
    webhook(body, {
      'x-github-event': 'push',
      'x-github-delivery': 'd-2',
      'x-hub-signature-256': signature(body, SECRET),
    }),
  );
  assert.equal(failed.status, 202, "this replica's apps were woken: the delivery is accepted");
  assert.deepEqual(await failed.json(), {
    triggered: ['web'],
    heldElsewhere: [{ app: 'billing', shard: 5, holder: 'tether-1' }],
    signalled: false,
    signalError: 'configmaps "tether-dev-shard-pushes" is forbidden',
  });
  assert.equal(view.signals[1]?.delivery, 'd-2');

  // A push no app follows is not signalled.
  const other = pushBody('acme/other');
  const ignored = await server(view).request(
    webhook(other, { 'x-github-event': 'push', 'x-hub-signature-256': signature(other, SECRET) }),
  );
  assert.deepEqual(await ignored.json(), { triggered: [] });
  assert.equal(view.signals.length, 2);
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
