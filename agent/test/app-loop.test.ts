import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppLoop, intervalDelay } from '../src/reconcile/app-loop.ts';

test('interval syncs fall on multiples of the interval, at least half an interval away', () => {
  const m = 60_000;
  assert.equal(intervalDelay(m, 10 * m), m, 'on a boundary: the next one');
  assert.equal(intervalDelay(m, 10 * m + 1_000), 59_000);
  assert.equal(intervalDelay(m, 10 * m + 29_000), 31_000);
  // Less than half an interval to the boundary: the one after it.
  assert.equal(intervalDelay(m, 10 * m + 31_000), 89_000);
  assert.equal(intervalDelay(m, 10 * m + 59_999), 60_001);
});

test('loops of one interval started at different times wake together', () => {
  const m = 60_000;
  const t0 = 28_000_000 * m; // a minute boundary
  // Apps whose last syncs ended at different moments of the same minute: one shared wake-up.
  const wakes = [3_000, 11_000, 17_500, 29_999].map((ended) => t0 + ended + intervalDelay(m, t0 + ended));
  assert.equal(new Set(wakes).size, 1, wakes.join(', '));
});

test('a loop syncs at start, again on request, and stops', async () => {
  const reasons: string[] = [];
  let next: (() => void) | undefined;
  const synced = () => new Promise<void>((r) => (next = r));
  let first = synced();
  const loop = new AppLoop(60_000, async (reason) => {
    reasons.push(reason);
    next?.();
  });
  loop.start();
  await first;
  first = synced();
  loop.request('webhook');
  await first;
  await loop.stop();
  assert.deepEqual(reasons, ['startup', 'webhook']);
});

test('a retry set during a sync wakes the loop before its interval, with reason retry; a cleared one does not', async () => {
  const reasons: string[] = [];
  let next: (() => void) | undefined;
  const synced = () => new Promise<void>((r) => (next = r));
  let done = synced();
  const loop = new AppLoop(3_600_000, async (reason) => {
    reasons.push(reason);
    // The first sync failed: its retry is due shortly, an hour before the interval.
    if (reasons.length === 1) loop.retryAt(Date.now() + 20);
    next?.();
  });
  loop.start();
  await done;
  done = synced();
  await done;
  assert.deepEqual(reasons, ['startup', 'retry']);
  // Set and then cleared while the loop sleeps: nothing runs until a request.
  loop.retryAt(Date.now() + 20);
  loop.retryAt(undefined);
  await new Promise((r) => setTimeout(r, 60));
  done = synced();
  loop.request('webhook');
  await done;
  await loop.stop();
  assert.deepEqual(reasons, ['startup', 'retry', 'webhook']);
});
