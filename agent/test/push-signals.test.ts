// Push webhooks shared between sharded replicas, as data: the key of a repo and branch, and which recorded pushes a
// replica acts on as it reads the ConfigMap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../shared/src/log.ts';
import { type PushRecord, parsePush, pushEntry, pushKey, readPushes } from '../src/core/push-signals.ts';
import { PushSignals, pushSignalHubOptions } from '../src/reconcile/push-signals.ts';

const push = (over: Partial<PushRecord> = {}): PushRecord => ({
  repo: 'acme/env',
  ref: 'refs/heads/main',
  after: 'a'.repeat(40),
  delivery: 'd-1',
  at: '2026-12-02T17:00:00.000Z',
  by: 'tether-0',
  ...over,
});

test('one key per repo and branch: a ConfigMap data key, case-folded repo, distinct branches apart', () => {
  const k = pushKey('Acme/Env', 'refs/heads/main');
  assert.match(k, /^[-._a-zA-Z0-9]+$/);
  assert.ok(k.startsWith('acme.env.main.'), k);
  assert.equal(k, pushKey('acme/env', 'main'));
  assert.notEqual(k, pushKey('acme/env', 'refs/heads/release'));
  assert.ok(pushKey('acme/env', `refs/heads/${'x'.repeat(300)}`).length <= 253);
  const entry = pushEntry(push());
  assert.deepEqual(Object.keys(entry), [pushKey('acme/env', 'main')]);
  assert.deepEqual(parsePush(Object.values(entry)[0]!), push());
  assert.equal(parsePush('not json'), undefined);
  assert.equal(parsePush('{"repo": 1}'), undefined);
});

test('a replica wakes for pushes others recorded since its last reading, never on its first reading or its own', () => {
  const first = readPushes(undefined, pushEntry(push()), 'tether-1');
  assert.deepEqual(
    first.wake,
    [],
    'a push recorded before this replica read the ConfigMap is older than its first sync',
  );

  const newer = push({ after: 'b'.repeat(40), delivery: 'd-2' });
  const second = readPushes(first.seen, pushEntry(newer), 'tether-1');
  assert.deepEqual(second.wake, [newer]);
  // Read again unchanged (a re-list): nothing new.
  assert.deepEqual(readPushes(second.seen, pushEntry(newer), 'tether-1').wake, []);
  // Its own push: it woke its apps when it received it.
  const own = push({ after: 'c'.repeat(40), by: 'tether-1' });
  assert.deepEqual(readPushes(second.seen, pushEntry(own), 'tether-1').wake, []);
  // Another branch next to the first: only it wakes; an entry edited into something else is ignored.
  const release = push({ ref: 'refs/heads/release', after: 'd'.repeat(40) });
  const both = { ...pushEntry(newer), ...pushEntry(release), junk: '{' };
  assert.deepEqual(readPushes(second.seen, both, 'tether-1').wake, [release]);
  // No ConfigMap yet: an empty first reading, after which its creation wakes.
  const none = readPushes(undefined, undefined, 'tether-1');
  assert.deepEqual(readPushes(none.seen, pushEntry(newer), 'tether-1').wake, [newer]);
});

test('every recorded push carries the label the replicas watch by, also into a ConfigMap made without it', async () => {
  const patches: { name: string; namespace: string | undefined; patch: object }[] = [];
  const kube = {
    // An existing ConfigMap (as made from manifests, unlabelled): the patch succeeds without a creation.
    mergePatch: async (_type: unknown, name: string, namespace: string | undefined, patch: object) => {
      patches.push({ name, namespace, patch });
      return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } };
    },
    apply: async () => assert.fail('an existing ConfigMap is not applied again'),
  };
  const hubOptions = pushSignalHubOptions('tether-system', 'tether-pushes');
  const signals = new PushSignals(kube as never, undefined as never, {
    namespace: 'tether-system',
    name: 'tether-pushes',
    identity: 'tether-0',
    log: silentLogger,
  });
  await signals.record({ repo: 'acme/env', ref: 'refs/heads/main', after: 'a'.repeat(40) });
  assert.equal(patches.length, 1);
  const sent = patches[0]!.patch as { metadata?: { labels?: Record<string, string> }; data?: Record<string, string> };
  const [key, value] = hubOptions.labelSelector.split('=');
  assert.equal(sent.metadata?.labels?.[key!], value, 'the label the watch selects by');
  assert.deepEqual(Object.keys(sent.data ?? {}), [pushKey('acme/env', 'main')]);
});
