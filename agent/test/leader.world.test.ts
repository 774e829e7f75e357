import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const N = 150;

let w: AgentWorld;

before(async () => {
  w = await startAgentWorld({
    files: { 'envs/dev/web/cm-0.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0\ndata: {n: "0"}\n' },
  });
});
after(() => w?.stop());

function startAgent(name: string): ChildProcess {
  const config = w.writeConfig(name, {
    server: { host: '127.0.0.1', port: 0 },
    leaderElection: { enabled: true },
    apps: [w.app('web', 'envs/dev/web', { namespace: 'default', interval: '5s' })],
  });
  return w.spawnAgent(config).child;
}

async function lease(): Promise<{ holder: string; transitions: number } | undefined> {
  const r = await w.kube.request('GET', '/apis/coordination.k8s.io/v1/namespaces/tether-system/leases/tether-dev');
  if (r.status !== 200) return undefined;
  const spec = (r.body as { spec: { holderIdentity?: string; leaseTransitions?: number } }).spec;
  return { holder: spec.holderIdentity ?? '', transitions: spec.leaseTransitions ?? 0 };
}

async function configMapCount(): Promise<number> {
  const r = await w.kube.request(
    'GET',
    '/api/v1/namespaces/default/configmaps?labelSelector=applyset.kubernetes.io%2Fpart-of',
  );
  return (r.body as { items: unknown[] }).items.length;
}

test('two replicas: one syncs; killing the leader mid-sync hands over within 15 s and nothing is lost', async () => {
  await w.createNamespace('tether-system');
  const a = startAgent('a');
  const b = startAgent('b');
  await waitFor(async () => (await lease())?.holder !== undefined && (await configMapCount()) === 1, {
    timeoutMs: 30_000,
    describe: () => 'no leader synced the first revision',
  });
  const first = (await lease())!.holder;
  const leader = first.endsWith(`-${a.pid}`) ? a : b;
  const standby = leader === a ? b : a;
  assert.ok(first.endsWith(`-${leader.pid}`), `holder ${first} is neither agent`);

  // A big revision; kill the leader while it is applying it.
  const files: Record<string, string> = {};
  for (let i = 1; i < N; i++)
    files[`envs/dev/web/cm-${i}.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata: {n: "${i}"}\n`;
  await w.commit(files, 'many');
  await waitFor(async () => (await configMapCount()) > 1, {
    timeoutMs: 30_000,
    describe: () => 'the leader never started the new revision',
  });
  leader.kill('SIGKILL');
  const killedAt = Date.now();
  const partial = await configMapCount();

  await waitFor(async () => (await lease())?.holder.endsWith(`-${standby.pid}`) === true, {
    timeoutMs: 20_000,
    intervalMs: 200,
    describe: () => 'the standby did not take over',
  });
  const takeoverMs = Date.now() - killedAt;
  console.log(`# leader killed with ${partial}/${N} ConfigMaps applied; standby took over after ${takeoverMs} ms`);
  assert.ok(takeoverMs <= 15_000, `takeover took ${takeoverMs} ms`);
  await waitFor(async () => (await configMapCount()) === N, {
    timeoutMs: 30_000,
    describe: () => 'the new leader did not finish the revision',
  });
  const parent = await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-web');
  const inventory = String((parent.body as { data: { inventory: string } }).data.inventory)
    .trim()
    .split('\n');
  assert.equal(inventory.length, N);
});
