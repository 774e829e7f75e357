// An app's history as data: triggers from loop reasons, counts from sync entries, idle polls folded, bounds kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addHeal,
  addSync,
  decodeHistory,
  encodeHistory,
  mergeRestored,
  PERSISTED_HISTORY_LIMIT,
  persistWorthy,
  type SyncHistoryEntry,
  syncHistoryEntry,
  triggerOf,
} from '../src/core/history.ts';
import { SyncHistory } from '../src/reconcile/history.ts';

const SHA = '3f9c2a7d1e4b5a6c7d8e9f0a1b2c3d4e5f6a7b8c';

function result(noop: boolean, extra: Partial<Parameters<typeof syncHistoryEntry>[0]> = {}) {
  return { revision: SHA, startedAt: '2026-11-21T22:45:00.000Z', durationMs: 2312.4, entries: [], noop, ...extra };
}

test('triggers are read from the reasons the loop, the webhook, the API, the UI and the CLI give', () => {
  assert.equal(triggerOf('startup'), 'start');
  assert.equal(triggerOf('interval'), 'poll');
  assert.equal(triggerOf('retry'), 'poll');
  assert.equal(triggerOf('cluster reachable again'), 'poll');
  assert.equal(triggerOf('webhook push 3f9c2a7'), 'webhook');
  assert.equal(triggerOf('api request'), 'api');
  assert.equal(triggerOf('ui sync'), 'api');
  assert.equal(triggerOf('manual'), 'api');
});

test('a sync entry counts applied, pruned, unchanged and failed objects and keeps the status and the error', () => {
  const e = syncHistoryEntry(
    result(false, {
      entries: [
        { subject: 'Deployment/web/api', action: 'configured' },
        { subject: 'ConfigMap/web/a', action: 'created' },
        { subject: 'ConfigMap/web/b', action: 'adopted' },
        { subject: 'ConfigMap/web/old', action: 'pruned' },
        { subject: 'Service/web/api', action: 'unchanged' },
        { subject: 'Secret/web/x', action: 'conflict' },
        { subject: 'Job/web/y', action: 'failed' },
        { subject: 'PersistentVolumeClaim/web/data', action: 'skipped' },
      ],
      error: { stage: 'apply', message: 'Job/web/y: forbidden' },
    }),
    'webhook push 3f9c2a7',
    { context: 'tether/prod/web', state: 'failure', description: 'Apply failed', targetUrl: 'https://x' },
  );
  assert.deepEqual(e, {
    revision: SHA,
    startedAt: '2026-11-21T22:45:00.000Z',
    durationMs: 2312,
    trigger: 'webhook',
    reason: 'webhook push 3f9c2a7',
    noop: false,
    repeats: 0,
    counts: { applied: 3, pruned: 1, unchanged: 1, failed: 2, skipped: 1 },
    status: { context: 'tether/prod/web', state: 'failure', description: 'Apply failed' },
    error: { stage: 'apply', message: 'Job/web/y: forbidden' },
  });
});

test('idle polls on one revision fold into one entry; a real sync, another trigger or an error does not fold', () => {
  let list: SyncHistoryEntry[] = [];
  list = addSync(list, syncHistoryEntry(result(false), 'startup'));
  list = addSync(list, syncHistoryEntry(result(true), 'interval'));
  list = addSync(list, syncHistoryEntry(result(true), 'interval'));
  list = addSync(list, syncHistoryEntry(result(true), 'interval'));
  assert.equal(list.length, 2);
  assert.equal(list[0]!.repeats, 2);
  list = addSync(list, syncHistoryEntry(result(true), 'api request'));
  list = addSync(list, syncHistoryEntry(result(true), 'interval'));
  assert.deepEqual(
    list.map((e) => e.trigger),
    ['poll', 'api', 'poll', 'start'],
  );
});

test('the history keeps the newest 20 syncs and heals, newest first, per app', () => {
  const h = new SyncHistory();
  for (let i = 0; i < 25; i++) {
    h.recordSync('web', syncHistoryEntry(result(false, { durationMs: i }), 'api request'));
    h.recordHeal('web', {
      subject: `ConfigMap/web/c${i}`,
      at: 't',
      action: 'configured',
      latencyMs: i,
      mode: 'healed',
    });
  }
  h.recordSync('other', syncHistoryEntry(result(false), 'startup'));
  const web = h.get('web');
  assert.equal(web.syncs.length, 20);
  assert.equal(web.syncs[0]!.durationMs, 24);
  assert.equal(web.syncs[19]!.durationMs, 5);
  assert.equal(web.heals.length, 20);
  assert.equal(web.heals[0]!.subject, 'ConfigMap/web/c24');
  assert.equal(h.get('other').syncs.length, 1);
  assert.deepEqual(h.get('none'), { syncs: [], heals: [] });
  assert.equal(addHeal([], web.heals[0]!, 1).length, 1);
});

test('the persisted history keeps the 10 newest real syncs, texts cut, no credentials, and reads back as entries', () => {
  let list: SyncHistoryEntry[] = [];
  for (let i = 0; i < 14; i++) {
    list = addSync(
      list,
      syncHistoryEntry(
        result(false, {
          durationMs: i,
          error: {
            stage: 'apply',
            message: `https://x-access-token:ghs_secret@github.com/acme/env.git ${'y'.repeat(900)}`,
          },
        }),
        'api request',
        { context: 'tether/prod/web', state: 'failure', description: 'Sync failed', targetUrl: 'https://x' },
      ),
    );
    list = addSync(list, syncHistoryEntry(result(true), 'interval'));
  }
  list[1] = {
    ...list[1]!,
    status: { ...list[1]!.status!, delivery: 'posted' },
    attempt: 2,
    replica: 'r-1',
  } as SyncHistoryEntry;
  const text = encodeHistory(list);
  assert.ok(text.length < 8192, `${text.length} bytes`);
  assert.doesNotMatch(text, /ghs_secret/);
  const back = decodeHistory(text);
  assert.equal(back.length, PERSISTED_HISTORY_LIMIT);
  assert.ok(back.every((e) => !e.noop));
  assert.deepEqual(
    back.map((e) => e.durationMs),
    [13, 12, 11, 10, 9, 8, 7, 6, 5, 4],
  );
  assert.ok(back[0]!.error!.message.length <= 300);
  assert.deepEqual(back[0]!.status, { context: 'tether/prod/web', state: 'failure', description: 'Sync failed' });
  // Fields the entry type gains elsewhere ride along unchanged.
  assert.equal((back[0] as SyncHistoryEntry & { replica?: string }).replica, 'r-1');
  assert.equal(back[0]!.attempt, 2);
  assert.deepEqual(decodeHistory('not json'), []);
  assert.deepEqual(decodeHistory('[{"revision": 1}]'), []);
  assert.deepEqual(decodeHistory(undefined), []);
});

test('a restored history goes under what was recorded since, without repeating an entry', () => {
  const older = syncHistoryEntry(result(false, { startedAt: '2026-11-21T22:00:00.000Z' }), 'startup');
  const newer = syncHistoryEntry(result(false, { startedAt: '2026-11-21T23:00:00.000Z' }), 'interval');
  const now = syncHistoryEntry(result(false, { startedAt: '2026-11-22T08:00:00.000Z' }), 'startup');
  assert.deepEqual(mergeRestored([now, newer], [newer, older]), [now, newer, older]);
  const h = new SyncHistory();
  h.recordSync('web', now);
  h.restore('web', [newer, older]);
  assert.deepEqual(
    h.get('web').syncs.map((e) => e.startedAt),
    [now.startedAt, newer.startedAt, older.startedAt],
  );
});

test('a history read again after a take-over puts the other replica newer entries above the stale ones in memory', () => {
  const at = (iso: string, replica: string) =>
    ({ ...syncHistoryEntry(result(false, { startedAt: iso }), 'interval'), replica }) as SyncHistoryEntry;
  const mine = [at('2026-11-21T10:00:00.000Z', 'a'), at('2026-11-21T09:00:00.000Z', 'a')];
  const theirs = [
    at('2026-11-21T12:00:00.000Z', 'b'),
    at('2026-11-21T11:00:00.000Z', 'b'),
    mine[0] as SyncHistoryEntry,
  ];
  assert.deepEqual(
    mergeRestored(mine, theirs).map((e) => `${e.replica}@${e.startedAt.slice(11, 13)}`),
    ['b@12', 'b@11', 'a@10', 'a@09'],
  );
});

test('only syncs worth keeping are written: not idle polls, fetch failures or the same failure again', () => {
  const ok = syncHistoryEntry(result(false), 'webhook push 3f9c2a7');
  assert.equal(persistWorthy(ok, undefined), false, 'a first sync that wrote nothing');
  assert.equal(persistWorthy(syncHistoryEntry(result(true), 'interval'), ok), false);
  const fetch = syncHistoryEntry(result(false, { error: { stage: 'fetch', message: '503' } }), 'interval');
  assert.equal(persistWorthy(fetch, ok), false);
  const render = syncHistoryEntry(result(false, { error: { stage: 'render', message: 'bad yaml' } }), 'interval');
  assert.equal(persistWorthy(render, ok), true);
  assert.equal(persistWorthy(render, render), false, 'the same render error at every poll');
  assert.equal(persistWorthy({ ...render, attempt: 2 }, { ...render, attempt: 1 }), true, 'a retry is a new attempt');
  const applied = syncHistoryEntry(
    result(false, { entries: [{ subject: 'ConfigMap/web/a', action: 'configured' }] }),
    'webhook push 3f9c2a7',
  );
  assert.equal(persistWorthy(applied, ok), true, 'a sync that applied');
  assert.equal(persistWorthy(applied, undefined), true);
  const unchanged = { subject: 'ConfigMap/web/a', action: 'unchanged' as const };
  const manual = syncHistoryEntry(result(false, { entries: [unchanged] }), 'manual sync by cli');
  assert.equal(persistWorthy(manual, ok), false, 'a manual sync that changed nothing');
  assert.equal(persistWorthy(syncHistoryEntry(result(false, { entries: [unchanged] }), 'startup'), ok), false);
  assert.equal(persistWorthy(manual, render), true, 'a sync that ends a failure');
  assert.equal(persistWorthy(manual, undefined), false, 'the first sync ever, when it changed nothing');
});
