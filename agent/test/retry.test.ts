// Retries of a failed sync: Argo CD's backoff arithmetic, which failures count as attempts, and what an automated
// turn does with the revision it fetched (apply, wait for the backoff, or give up until something changes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appView } from '../src/core/agent-view.ts';
import { syncVerdict, withNote } from '../src/core/commit-status.ts';
import {
  afterSync,
  backoffDelay,
  countsAsAttempt,
  defaultRetryPolicy,
  type RetryPolicy,
  type RetryState,
  retryDecision,
  retryView,
} from '../src/core/retry.ts';
import { renderAppPage } from '../src/core/status-page.ts';
import type { SyncResult, SyncStage } from '../src/core/types.ts';

const R = 'a'.repeat(40);
const S = 'b'.repeat(40);
const policy: RetryPolicy = { limit: 2, backoff: { duration: 1000, factor: 2, maxDuration: 3000 } };

function failed(revision: string, stage: SyncStage = 'apply') {
  return { revision, entries: [], error: { stage, message: 'PreSync hook Job/web/migrate failed' } } as Pick<
    SyncResult,
    'revision' | 'entries' | 'error'
  >;
}

test('the backoff doubles from duration and stops at maxDuration, as Argo CD computes it', () => {
  const p = defaultRetryPolicy();
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(p, n)),
    [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 180_000],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => backoffDelay(policy, n)),
    [1000, 2000, 3000],
  );
});

test('only failures that may have written count: apply and prune, not fetch, render, cluster, shutdown or refusal', () => {
  assert.equal(countsAsAttempt(failed(R, 'apply')), true);
  assert.equal(countsAsAttempt(failed(R, 'prune')), true);
  for (const stage of ['fetch', 'render', 'cluster', 'cancelled', 'read'] as const)
    assert.equal(countsAsAttempt(failed(R, stage)), false, stage);
  assert.equal(
    countsAsAttempt({ ...failed(R), entries: [{ subject: 'ClusterRole/x', action: 'refused', reason: 'project' }] }),
    false,
  );
  assert.equal(countsAsAttempt({ entries: [] }), false);
});

test('a turn that only failed to read live state, however often, never uses up the retries', () => {
  let state = afterSync(undefined, failed(R), policy, 0);
  for (let i = 1; i <= 10; i++) state = afterSync(state, failed(R, 'read'), policy, i * 10_000);
  assert.deepEqual(state, { revision: R, failures: 1, nextAt: 1000 });
  assert.equal(retryDecision(state, R, policy, 100_000).kind, 'apply');
  assert.equal(syncVerdict({ ...failed(R, 'read'), startedAt: '', durationMs: 0 }), 'Unknown');
});

test('a manual app (syncPolicy manual) is never retried: its failed sync leaves no retry to wait for', () => {
  assert.equal(afterSync(undefined, failed(R), policy, 0, false), undefined);
  const armed = afterSync(undefined, failed(R), policy, 0);
  assert.equal(afterSync(armed, failed(R), policy, 1000, false), undefined, 'a policy changed to manual drops it');
  assert.deepEqual(retryDecision(afterSync(undefined, failed(R), policy, 0, false), R, policy, 0), { kind: 'apply' });
});

test('limit 2: the first attempt and two retries, each after its backoff, then the app gives up on that revision', () => {
  let state: RetryState | undefined;
  let now = 0;
  assert.deepEqual(retryDecision(state, R, policy, now), { kind: 'apply' });
  state = afterSync(state, failed(R), policy, now);
  assert.deepEqual(state, { revision: R, failures: 1, nextAt: 1000 });
  // A poll before the backoff is up applies nothing.
  assert.equal(retryDecision(state, R, policy, 500).kind, 'wait');
  now = 1000;
  assert.deepEqual(retryDecision(state, R, policy, now), { kind: 'apply', retry: 1 });
  state = afterSync(state, failed(R), policy, now);
  assert.deepEqual(state, { revision: R, failures: 2, nextAt: 3000 });
  now = 3000;
  assert.deepEqual(retryDecision(state, R, policy, now), { kind: 'apply', retry: 2 });
  state = afterSync(state, failed(R), policy, now);
  assert.deepEqual(state, { revision: R, failures: 3 });
  const d = retryDecision(state, R, policy, 1e9);
  assert.equal(d.kind, 'gaveUp');
  assert.match(d.kind === 'gaveUp' ? d.reason : '', /gave up after 3 attempts; push a fix or sync by hand/);
  assert.deepEqual(retryView(state, policy), {
    revision: R,
    attempt: 3,
    limit: 2,
    retriesExhausted: true,
    message: 'gave up after 3 attempts; push a fix or sync by hand',
  });
  // A new revision applies at once, and its own failure starts counting from one.
  assert.deepEqual(retryDecision(state, S, policy, 1e9), { kind: 'apply' });
  assert.equal(afterSync(state, failed(S), policy, 1e9)?.failures, 1);
});

test('a success clears the state; a failure that is not an attempt keeps it as it was', () => {
  const state: RetryState = { revision: R, failures: 2, nextAt: 3000 };
  assert.equal(afterSync(state, { revision: R, entries: [] }, policy, 0), undefined);
  assert.equal(afterSync(state, failed(R, 'fetch'), policy, 0), state);
  assert.equal(afterSync(undefined, failed(R, 'render'), policy, 0), undefined);
});

test('limit 0 never retries; a negative limit never gives up', () => {
  const never: RetryPolicy = { ...policy, limit: 0 };
  const once = afterSync(undefined, failed(R), never, 0);
  assert.equal(retryDecision(once, R, never, 1e9).kind, 'gaveUp');
  const always: RetryPolicy = { ...policy, limit: -1 };
  let state: RetryState | undefined;
  for (let i = 0; i < 50; i++) state = afterSync(state, failed(R), always, i * 10_000);
  assert.equal(state?.failures, 50);
  assert.equal(retryDecision(state, R, always, 1e12).kind, 'apply');
  assert.equal(retryView(state, always)?.retriesExhausted, false);
});

test('the app page says what the retries do; the status keeps the gave-up note whole within 140 characters', () => {
  const view = (state: RetryState) =>
    appView({
      name: 'web',
      repo: 'https://github.com/acme/env.git',
      ref: 'main',
      path: 'envs/dev/web',
      state: { app: 'web', sync: 'OutOfSync', health: { status: 'Healthy', message: 'ok' } },
      desired: [],
      live: new Map(),
      retry: retryView(state, policy)!,
    });
  const now = { now: new Date(0) };
  assert.match(
    renderAppPage('dev', view({ revision: R, failures: 1, nextAt: 1000 }), undefined, now),
    /<dt>Retries<\/dt><dd>aaaaaaa failed 1 time \(retry limit 2\); next at 1970-01-01T00:00:01.000Z<\/dd>/,
  );
  assert.match(
    renderAppPage('dev', view({ revision: R, failures: 3 }), undefined, now),
    /<dd class="error">aaaaaaa: gave up after 3 attempts; push a fix or sync by hand<\/dd>/,
  );
  const long = withNote(
    {
      context: 'tether/dev/web',
      state: 'failure',
      description: `Sync failed: ConfigMap/default/bad: ${'x'.repeat(200)}`,
    },
    'gave up after 3 attempts; push a fix or sync by hand',
  );
  assert.equal(long.description.length, 140);
  assert.match(
    long.description,
    /^Sync failed: ConfigMap\/default\/bad: x+… \(gave up after 3 attempts; push a fix or sync by hand\)$/,
  );
});
