import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clampDescription,
  HEALTH_DIP_GRACE_MS,
  holdDip,
  statusFor,
  syncVerdict,
  unrenderedEntry,
} from '../src/core/commit-status.ts';
import { emptyRenderMessage } from '../src/core/desired-state.ts';
import type { AppState } from '../src/core/types.ts';

const base = (over: Partial<AppState>): AppState => ({
  app: 'web',
  sync: 'Synced',
  health: { status: 'Healthy', message: '3 objects healthy' },
  revision: 'a'.repeat(40),
  lastSync: {
    revision: 'a'.repeat(40),
    startedAt: '2026-11-21T00:00:00Z',
    durationMs: 10,
    entries: [
      { subject: 'Deployment/web/web', action: 'configured' },
      { subject: 'Service/web/web', action: 'unchanged' },
      { subject: 'ConfigMap/web/old', action: 'pruned' },
    ],
  },
  ...over,
});

test('Synced and Healthy is success, with the context and target URL', () => {
  const s = statusFor(base({}), { cluster: 'dev', publicUrl: 'https://tether.example.com/' });
  assert.deepEqual(s, {
    state: 'success',
    description: 'Synced 2 resources · Healthy',
    context: 'tether/dev/web',
    targetUrl: 'https://tether.example.com/apps/web',
  });
});

test('progressing is pending, Degraded is failure naming the object', () => {
  assert.equal(
    statusFor(base({ health: { status: 'Progressing', message: 'Deployment/web/web: 1 of 2 updated' } }), {
      cluster: 'dev',
    }).state,
    'pending',
  );
  const f = statusFor(
    base({
      health: {
        status: 'Degraded',
        message: 'Deployment/web/web: progress deadline exceeded',
        subject: 'Deployment/web/web',
      },
    }),
    { cluster: 'dev' },
  );
  assert.equal(f.state, 'failure');
  assert.match(f.description, /^Degraded: Deployment\/web\/web/);
});

test('an apply failure is failure; fetch and render failures are error', () => {
  const failed = base({});
  failed.lastSync!.entries.push({ subject: 'Widget/web/w', action: 'failed', reason: 'no such kind' });
  assert.deepEqual(
    [statusFor(failed, { cluster: 'dev' }).state, statusFor(failed, { cluster: 'dev' }).description],
    ['failure', 'Sync failed: Widget/web/w: no such kind'],
  );
  const render = base({});
  render.lastSync!.error = { stage: 'render', message: 'envs/dev/web/x.yaml: bad indentation' };
  assert.equal(statusFor(render, { cluster: 'dev' }).state, 'error');
  assert.match(statusFor(render, { cluster: 'dev' }).description, /^Render failed: envs\/dev\/web\/x\.yaml/);
});

test('descriptions are cut to 140 characters on one line', () => {
  const long = clampDescription(`x${'\n'}${'y'.repeat(300)}`);
  assert.equal(long.length, 140);
  assert.ok(long.endsWith('…'));
  assert.ok(!long.includes('\n'));
  const f = statusFor(base({ health: { status: 'Degraded', message: 'z'.repeat(500) } }), { cluster: 'dev' });
  assert.equal(f.description.length, 140);
});

test('a description holds no character GitHub refuses (4 bytes in UTF-8), even where the cut falls', () => {
  assert.equal(clampDescription('Degraded: 🐛 crashed · 中文 …'), 'Degraded: \uFFFD crashed · 中文 …');
  const cut = clampDescription(`${'x'.repeat(138)}🐛🐛 and more`);
  assert.equal(cut, `${'x'.repeat(138)}\uFFFD…`);
  assert.doesNotMatch(cut, /[\uD800-\uDFFF]/, 'no surrogate, paired or alone');
});

test('files the render left out are named in a green description, never hidden', () => {
  const state = base({});
  state.lastSync?.entries.push(
    unrenderedEntry({ path: 'envs/dev/web/extra.jsonnet', reason: 'Jsonnet is not supported' }),
  );
  const s = statusFor(state, { cluster: 'dev' });
  assert.equal(s.state, 'success');
  assert.equal(s.description, 'Synced 2 resources (1 file not rendered) · Healthy');
});

test('a dip of a green commit into pending is held back for the grace period; failures and new revisions are not', () => {
  const green = { revision: 'a', state: 'success' };
  // A heal makes the generation briefly unobserved: nothing is posted within the grace period.
  assert.deepEqual(holdDip(green, { revision: 'a', state: 'pending' }, undefined, 1000), {
    post: false,
    dipSince: 1000,
  });
  assert.deepEqual(holdDip(green, { revision: 'a', state: 'pending' }, 1000, 1000 + HEALTH_DIP_GRACE_MS - 1), {
    post: false,
    dipSince: 1000,
  });
  // A dip that lasts is real.
  assert.deepEqual(holdDip(green, { revision: 'a', state: 'pending' }, 1000, 1000 + HEALTH_DIP_GRACE_MS), {
    post: true,
    dipSince: 1000,
  });
  assert.deepEqual(holdDip(green, { revision: 'a', state: 'failure' }, 1000, 1001), { post: true });
  assert.deepEqual(holdDip(green, { revision: 'b', state: 'pending' }, undefined, 1001), { post: true });
  assert.deepEqual(holdDip({ revision: 'a', state: 'pending' }, { revision: 'a', state: 'pending' }, undefined, 5), {
    post: true,
  });
});

test('a blocked prune is failure and OutOfSync, naming the counts', () => {
  const blocked = 'prune blocked: 90 of 101 objects would be deleted, budget 50 % — check the revision';
  const state = base({});
  state.lastSync = { ...state.lastSync!, pruneBlocked: blocked };
  const s = statusFor(state, { cluster: 'dev' });
  assert.equal(s.state, 'failure');
  assert.match(s.description, /^prune blocked: 90 of 101 objects would be deleted, budget 50 %/);
  assert.equal(syncVerdict(state.lastSync), 'OutOfSync');
});

test('a conflict with another owner is failure and OutOfSync, naming the owner', () => {
  const state = base({});
  state.lastSync!.entries.push({
    subject: 'ConfigMap/web/shared',
    action: 'conflict',
    reason: 'owned by ApplySet applyset-abc-v1',
  });
  const s = statusFor(state, { cluster: 'dev' });
  assert.equal(s.state, 'failure');
  assert.equal(s.description, 'Conflict: ConfigMap/web/shared: owned by ApplySet applyset-abc-v1');
  assert.equal(syncVerdict(state.lastSync!), 'OutOfSync');
});

test('drift with self-heal off stays OutOfSync; failures to judge are Unknown', () => {
  const result = base({}).lastSync!;
  assert.equal(syncVerdict(result), 'Synced');
  assert.equal(syncVerdict(result, ['Deployment/web/web']), 'OutOfSync');
  assert.equal(syncVerdict({ ...result, error: { stage: 'render', message: 'no manifests' } }), 'Unknown');
});

test('an empty render names the path and the files it did not render', () => {
  assert.equal(
    emptyRenderMessage('envs/dev/web', [{ path: 'envs/dev/web/README.md' }, { path: 'envs/dev/web/notes.txt' }]),
    'no manifests at envs/dev/web (only files Tether does not render: README.md, notes.txt); set allowEmpty to sync an empty app',
  );
  assert.match(emptyRenderMessage('envs/dev/web', []), /^no manifests at envs\/dev\/web \(no files\)/);
});

test('the hooks a sync ran are counted; a failed one is the failure', () => {
  const ok = base({});
  const hook = { phase: 'PreSync' as const, subject: 'Job/web/migrate', message: 'job complete', durationMs: 5 };
  ok.lastSync!.hooks = [{ ...hook, outcome: 'Succeeded', deleted: false }];
  assert.equal(statusFor(ok, { cluster: 'dev' }).description, 'Synced 2 resources · 1 hook succeeded · Healthy');
  const failed = base({});
  failed.lastSync!.hooks = [{ ...hook, outcome: 'Failed', message: 'BackoffLimitExceeded', deleted: false }];
  failed.lastSync!.error = { stage: 'apply', message: 'PreSync hook Job/web/migrate failed: BackoffLimitExceeded' };
  const s = statusFor(failed, { cluster: 'dev' });
  assert.equal(s.state, 'failure');
  assert.equal(s.description, 'Sync failed: PreSync hook Job/web/migrate failed: BackoffLimitExceeded');
});
