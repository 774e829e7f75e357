import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../shared/src/log.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import type { PushRecord } from '../src/core/push-signals.ts';
import { PushSignals, pushSignalHubOptions } from '../src/reconcile/push-signals.ts';
import { WatchHub } from '../src/reconcile/watch-hub.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

// The push-signal ConfigMap on a real apiserver: one replica records pushes, another hears them through its watch,
// also after the apiserver was restarted (the watch broke and was re-listed and re-watched), and a push recorded
// while the follower's watch was down still reaches it.

const NS = 'tether-system';
const NAME = 'tether-dev-shard-pushes';
let w: AgentWorld;

before(async () => {
  w = await startAgentWorld({ namespaces: [NS] });
});
after(async () => {
  await w?.stop();
});

function replica(identity: string, name = NAME): PushSignals {
  return new PushSignals(
    w.client,
    new WatchHub({ kube: w.client, discovery: w.discovery }, pushSignalHubOptions(NS, name)),
    { namespace: NS, name, identity, log: silentLogger },
  );
}

test('pushes recorded by one replica reach another through the ConfigMap, across an apiserver restart', async () => {
  const receiver = replica('r0');
  const follower = replica('r1');
  const heard: PushRecord[] = [];
  const receiverHeard: PushRecord[] = [];
  receiver.start((p) => receiverHeard.push(p));
  follower.start((p) => heard.push(p));
  const push = (after: string, delivery: string) =>
    receiver.record({ repo: 'acme/env', ref: 'refs/heads/main', after, delivery });
  try {
    // The first push creates the ConfigMap.
    await push('a'.repeat(40), 'd-1');
    await waitFor(() => heard.length === 1, { timeoutMs: 15_000, describe: () => JSON.stringify(heard) });
    assert.deepEqual([heard[0]?.after, heard[0]?.by, heard[0]?.delivery], ['a'.repeat(40), 'r0', 'd-1']);

    await w.kube.apiserver.stop();
    await w.kube.apiserver.start();
    // Recorded as soon as the apiserver answers again, likely before the follower's watch is back: its re-list
    // finds it.
    await waitFor(
      async () => {
        await push('b'.repeat(40), 'd-2');
        return true;
      },
      { timeoutMs: 30_000, describe: () => 'the apiserver did not come back' },
    );
    await waitFor(() => heard.some((p) => p.delivery === 'd-2'), {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(heard),
    });
    // And the watch is back: a later push arrives too.
    await push('c'.repeat(40), 'd-3');
    await waitFor(() => heard.some((p) => p.delivery === 'd-3'), {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(heard),
    });
    assert.deepEqual(receiverHeard, [], 'a replica does not hear its own pushes back');
    // One entry per repo and branch: the newest push only.
    const cm = (await w.get(`/api/v1/namespaces/${NS}/configmaps/${NAME}`)) as { data?: Record<string, string> };
    assert.equal(Object.keys(cm.data ?? {}).length, 1);
    assert.match(Object.values(cm.data ?? {})[0]!, /"delivery":"d-3"/);
  } finally {
    receiver.stop();
    follower.stop();
  }
});

test('a push-signal ConfigMap made beforehand without the label still carries pushes to the other replicas', async () => {
  const name = 'tether-manifests-pushes';
  // As a manifest would make it: no label, some data of its own.
  await w.client.apply(
    { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', namespaced: true, verbs: [] },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { note: 'from manifests' } },
    { fieldManager: 'kubectl' },
  );
  const receiver = replica('r0', name);
  const hub = new WatchHub({ kube: w.client, discovery: w.discovery }, pushSignalHubOptions(NS, name));
  const follower = new PushSignals(w.client, hub, { namespace: NS, name, identity: 'r1', log: silentLogger });
  const heard: PushRecord[] = [];
  follower.start((p) => heard.push(p));
  try {
    // The follower has read the (still unlabelled, so unselected) ConfigMap's absence; the patch labels it.
    await waitFor(() => hub.isWatching('ConfigMap'), { timeoutMs: 15_000, describe: () => 'no watch' });
    await receiver.record({ repo: 'acme/env', ref: 'refs/heads/main', after: 'e'.repeat(40), delivery: 'd-9' });
    await waitFor(() => heard.some((p) => p.delivery === 'd-9'), {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(heard),
    });
  } finally {
    receiver.stop();
    follower.stop();
  }
});
