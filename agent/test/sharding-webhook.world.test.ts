import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';
import { pushBody, signature } from './fixtures/webhooks.ts';

// Three sharded replicas polling every 10 minutes; a push webhook reaches one of them (as a Service delivers it),
// and every app, whichever replica holds it, syncs the new commit at once: the receiver signals the others through
// the push-signal ConfigMap they all watch.

const APPS = Array.from({ length: 8 }, (_, i) => `app-${i}`);
const SHARDS = 6;
const SECRET = 'whsec-shardwake';

const cm = (app: string, rev: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${app}-cm\ndata: {rev: "${rev}"}\n`;

let world: AgentWorld;
const replicas: { id: string; agent: Agent; url: string }[] = [];

before(async () => {
  const files: Record<string, string> = {};
  for (const app of APPS) files[`envs/${app}/cm.yaml`] = cm(app, 'one');
  world = await startAgentWorld({ github: true, files, namespaces: ['tether-system'] });
});

after(async () => {
  await world?.stop();
});

/** The newest status of every app on `sha`; the apps not at `success`. */
async function notSucceeded(sha: string): Promise<string[]> {
  const out: string[] = [];
  for (const app of APPS) if ((await world.statuses(sha, `tether/dev/${app}`))[0]?.state !== 'success') out.push(app);
  return out;
}

const describeShards = () =>
  replicas
    .map((r) => `${r.id}: shards ${r.agent.shardMap()?.held} apps ${r.agent.apps().map((a) => a.name)}`)
    .join('\n');

test('a push delivered to one sharded replica wakes every app, whichever replica holds it, long before its interval', async () => {
  const raw = {
    sharding: { shards: SHARDS, leaseDuration: '3000ms', renewInterval: '1000ms' },
    apps: APPS.map((a) => world.app(a, `envs/${a}`, { interval: '10m' })),
  };
  for (const id of ['r0', 'r1', 'r2']) {
    const agent = await world.createAgent(raw, { identity: id });
    const url = await world.serve(agent, { webhookSecret: SECRET });
    await agent.start();
    replicas.push({ id, agent, url });
  }
  const first = await world.head();
  // Settled: each replica holds its fair share (so no shard moves, and no takeover re-applies, after the push),
  // and every app has synced its first commit.
  await waitFor(() => replicas.every((r) => r.agent.shardMap()?.held.length === SHARDS / replicas.length), {
    timeoutMs: 30_000,
    describe: describeShards,
  });
  await waitFor(async () => (await notSucceeded(first)).length === 0, {
    timeoutMs: 60_000,
    describe: () => `not success on the first commit\n${describeShards()}`,
  });

  // The receiver: the replica holding the fewest apps, so most are held elsewhere.
  const receiver = replicas.reduce((a, b) => (b.agent.apps().length < a.agent.apps().length ? b : a));
  const elsewhere = APPS.filter((a) => !receiver.agent.apps().some((x) => x.name === a));
  assert.ok(elsewhere.length > 0, describeShards());

  const files: Record<string, string> = {};
  for (const app of APPS) files[`envs/${app}/cm.yaml`] = cm(app, 'two');
  const second = await world.commit(files, 'two');
  const body = pushBody('acme/env', 'refs/heads/main', second);
  const deliveredAt = Date.now();
  const res = await fetch(`${receiver.url}/webhook/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': 'delivery-2',
      'x-hub-signature-256': signature(body, SECRET),
    },
    body,
  });
  assert.equal(res.status, 202);
  const answer = (await res.json()) as { triggered: string[]; heldElsewhere: { app: string }[]; signalled: boolean };
  assert.equal(answer.signalled, true, JSON.stringify(answer));
  assert.deepEqual(answer.heldElsewhere.map((h) => h.app).sort(), [...elsewhere].sort());

  // Every app reaches success on the new commit; their interval (10 minutes) is far beyond this wait.
  await waitFor(async () => (await notSucceeded(second)).length === 0, {
    timeoutMs: 60_000,
    describe: () => `not success on the pushed commit: ${APPS.join(',')}\n${describeShards()}`,
  });
  const succeededMs = Date.now() - deliveredAt;

  let latestStart = 0;
  // Those held elsewhere were woken by the push, on the replica holding them, which names itself in the history.
  for (const app of elsewhere) {
    const holder = replicas.find((r) => r.agent.apps().some((a) => a.name === app))!;
    const sync = holder.agent.history(app)?.syncs.find((s) => s.revision === second);
    assert.equal(sync?.trigger, 'webhook', `${app}: ${JSON.stringify(sync)}`);
    assert.equal(sync?.reason, `webhook push ${second.slice(0, 7)} received by ${receiver.id}`);
    assert.equal(sync?.replica, holder.id);
    latestStart = Math.max(latestStart, Date.parse(sync!.startedAt) - deliveredAt);
  }
  console.log(
    `# push delivered to ${receiver.id} (${APPS.length - elsewhere.length} of ${APPS.length} apps held there): the last sync elsewhere started ${latestStart} ms after, every app success after ${succeededMs} ms (interval 10 min)`,
  );

  // The signal is one small ConfigMap next to the Leases: one entry, for the one branch pushed.
  const signal = await world.get('/api/v1/namespaces/tether-system/configmaps/tether-dev-shard-pushes');
  const data = (signal as { data?: Record<string, string> } | undefined)?.data ?? {};
  assert.equal(Object.keys(data).length, 1);
  const entry = JSON.parse(Object.values(data)[0]!) as { after: string; by: string; delivery: string };
  assert.deepEqual([entry.after, entry.by, entry.delivery], [second, receiver.id, 'delivery-2']);
});
