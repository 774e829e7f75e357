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

function replica(identity: string): PushSignals {
  return new PushSignals(
    w.client,
    new WatchHub({ kube: w.client, discovery: w.discovery }, pushSignalHubOptions(NS, NAME)),
    { namespace: NS, name: NAME, identity, log: silentLogger },
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
