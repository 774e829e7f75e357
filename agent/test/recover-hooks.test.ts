import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppConfig } from '../src/config.ts';
import {
  defaultParentRef,
  parentObject,
  parentRecords,
  readAppliedText,
  readSyncedRevision,
  SYNCED_SPEC_ANNOTATION,
} from '../src/core/inventory.ts';
import {
  CASCADE_WITHOUT_HOOKS_ANNOTATION,
  MAX_APP_SPEC_BYTES,
  REFUSAL_RETRY_MS,
  readAppSpec,
  recordAppSpec,
  recoverDeleteHooks,
  refusalDecision,
  refusalKey,
} from '../src/reconcile/recover-hooks.ts';

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
  const spec = recordAppSpec(app());
  const live = parentObject(ref, [], { revision: sha, applied: 'H4sIAAAAAAAA', spec });
  const kept = { group: '', kind: 'ConfigMap', name: 'keep', namespace: 'web' };
  const rewritten = parentObject(ref, [kept], parentRecords(live));
  assert.equal(readSyncedRevision(rewritten), sha);
  assert.equal(readAppliedText(rewritten), 'H4sIAAAAAAAA');
  assert.equal(rewritten.metadata.annotations?.[SYNCED_SPEC_ANNOTATION], spec);
  assert.deepEqual(parentRecords(parentObject(ref, [])), {});
  // The definition is recorded only beside a revision: alone it would say nothing about what was synced.
  assert.equal(parentObject(ref, [], { spec }).metadata.annotations?.[SYNCED_SPEC_ANNOTATION], undefined);
});

test('a refused cascade is tried again only when its inventory changes, or after an hour, with one Event per change', () => {
  const ref = defaultParentRef('web');
  const spec = recordAppSpec(app());
  const live = parentObject(ref, [], { revision: 'a'.repeat(40) });
  const key = refusalKey(live, spec);
  const t0 = Date.parse('2026-12-02T18:00:00Z');

  // First attempt: rendered, and a refusal says so with an Event.
  assert.deepEqual(refusalDecision(undefined, key, t0), { action: 'retry', event: true });
  const last = { key, at: t0, message: 'cascade refused: …' };
  // Every later read of an idle source: no fetch, no render, no Event.
  assert.deepEqual(refusalDecision(last, key, t0 + 60_000), { action: 'hold' });
  assert.deepEqual(refusalDecision(last, refusalKey(live, spec), t0 + REFUSAL_RETRY_MS - 1), { action: 'hold' });
  // An hour on: tried again (the commit may be back), without another Event for the same refusal.
  assert.deepEqual(refusalDecision(last, key, t0 + REFUSAL_RETRY_MS), { action: 'retry', event: false });

  // What the refusal depends on changed: at once, and a new refusal gets its Event.
  const overridden = structuredClone(live);
  overridden.metadata.annotations = { ...overridden.metadata.annotations, [CASCADE_WITHOUT_HOOKS_ANNOTATION]: 'true' };
  const others = [
    refusalKey(overridden, spec),
    refusalKey(parentObject(ref, [], { revision: 'b'.repeat(40) }), spec),
    refusalKey(live, recordAppSpec(app({ path: 'envs/dev/web2' }))),
  ];
  for (const k of others) {
    assert.notEqual(k, key);
    assert.deepEqual(refusalDecision(last, k, t0 + 60_000), { action: 'retry', event: true });
  }
});

test('a cascade after a path change renders the definition recorded with the synced revision, not the newer one', async () => {
  const ref = defaultParentRef('web');
  const sha = 'a'.repeat(40);
  const live = parentObject(ref, [], { revision: sha, spec: recordAppSpec(app({ path: 'envs/dev/old' })) });
  const opened: string[] = [];
  const deps = {
    openSource: async (_key: string, repo: string, ref: string) => {
      opened.push(`${repo}@${ref}`);
      throw new Error('offline');
    },
  };
  const newer = recordAppSpec(app({ path: 'envs/dev/new', ref: 'release' }));
  const got = await recoverDeleteHooks(deps as never, 'web', ref, live, newer);
  assert.ok('error' in got);
  assert.match(got.error, /rendering envs\/dev\/old at aaaaaaa: offline/);
  assert.deepEqual(opened, ['https://github.com/acme/env.git@main']);
  // A parent written before the definition was recorded beside the revision: the definition mark's copy.
  const older = parentObject(ref, [], { revision: sha });
  const fallback = await recoverDeleteHooks(deps as never, 'web', ref, older, newer);
  assert.ok('error' in fallback);
  assert.match(fallback.error, /rendering envs\/dev\/new at aaaaaaa/);
});
