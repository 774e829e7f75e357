import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppConfig } from '../src/config.ts';
import {
  defaultParentRef,
  parentObject,
  parentRecords,
  readAppliedText,
  readSyncedRevision,
} from '../src/core/inventory.ts';
import { MAX_APP_SPEC_BYTES, readAppSpec, recordAppSpec } from '../src/reconcile/recover-hooks.ts';

const app = (over: Partial<AppConfig> = {}) =>
  ({
    name: 'web',
    repo: 'https://x-access-token:secret@github.com/acme/env.git',
    ref: 'main',
    path: 'envs/dev/web',
    namespace: 'web',
    helm: { valuesFiles: ['values-dev.yaml'] },
    waveTimeout: 120_000,
    allowProtectedKinds: ['Namespace'],
    pruneAdopted: false,
    ...over,
  }) as AppConfig;

test('an app definition is recorded without credentials and read back', () => {
  const text = recordAppSpec(app());
  assert.ok(text);
  assert.doesNotMatch(text, /secret|x-access-token/);
  assert.deepEqual(readAppSpec(text), {
    repo: 'https://github.com/acme/env.git',
    ref: 'main',
    path: 'envs/dev/web',
    namespace: 'web',
    helm: { valuesFiles: ['values-dev.yaml'] },
    waveTimeout: 120_000,
    allowProtectedKinds: ['Namespace'],
    pruneAdopted: false,
  });
});

test('a definition over the size bound is not recorded; a malformed record reads as none', () => {
  const big = app({ helm: { valuesFiles: Array.from({ length: 2000 }, (_, i) => `values-${i}.yaml`) } });
  assert.equal(recordAppSpec(big), undefined);
  assert.ok(JSON.stringify(big.helm).length > MAX_APP_SPEC_BYTES);
  assert.equal(readAppSpec('{"repo": 1}'), undefined);
  assert.equal(readAppSpec('not json'), undefined);
  assert.equal(readAppSpec(undefined), undefined);
});

test('the parent records the synced revision only when given one', () => {
  const ref = defaultParentRef('web');
  const sha = 'a'.repeat(40);
  assert.equal(readSyncedRevision(parentObject(ref, [], { revision: sha })), sha);
  assert.equal(readSyncedRevision(parentObject(ref, [])), undefined);
});

test('a write of the members alone keeps the revision and the applied record the parent had', () => {
  const ref = defaultParentRef('web');
  const sha = 'a'.repeat(40);
  const live = parentObject(ref, [], { revision: sha, applied: 'H4sIAAAAAAAA' });
  const kept = { group: '', kind: 'ConfigMap', name: 'keep', namespace: 'web' };
  const rewritten = parentObject(ref, [kept], parentRecords(live));
  assert.equal(readSyncedRevision(rewritten), sha);
  assert.equal(readAppliedText(rewritten), 'H4sIAAAAAAAA');
  assert.deepEqual(parentRecords(parentObject(ref, [])), {});
});
