import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeOpening, type SyncWindow, scheduleProblem, windowsAt, windowText } from '../src/core/sync-windows.ts';

const H = 3_600_000;
const at = (iso: string) => new Date(iso);
const deny = (schedule: string, hours: number, manualSync = false): SyncWindow => ({
  kind: 'deny',
  schedule,
  duration: hours * H,
  manualSync,
});
const allow = (schedule: string, hours: number, manualSync = false): SyncWindow => ({
  kind: 'allow',
  schedule,
  duration: hours * H,
  manualSync,
});

test('no windows: automated and manual syncs both run', () => {
  assert.deepEqual(windowsAt([], at('2026-12-02T10:00:00Z')), { automated: true, manual: true, active: [] });
});

test('a deny window blocks automated syncs from its start for its duration (half-open)', () => {
  const w = [deny('0 22 * * *', 8)];
  assert.equal(windowsAt(w, at('2026-12-02T21:59:59Z')).automated, true);
  const inside = windowsAt(w, at('2026-12-02T22:00:00Z'));
  assert.equal(inside.automated, false);
  assert.equal(inside.reason, 'sync window deny until 2026-12-03 06:00 UTC');
  assert.equal(windowsAt(w, at('2026-12-03T05:59:59Z')).automated, false);
  assert.equal(windowsAt(w, at('2026-12-03T05:59:59Z')).reason, 'sync window deny until 06:00 UTC');
  assert.equal(windowsAt(w, at('2026-12-03T06:00:00Z')).automated, true);
});

test('manual syncs pass a deny only when every blocking window says manualSync', () => {
  const t = at('2026-12-02T23:00:00Z');
  assert.equal(windowsAt([deny('0 22 * * *', 8, true)], t).manual, true);
  assert.equal(windowsAt([deny('0 22 * * *', 8, false)], t).manual, false);
  assert.equal(windowsAt([deny('0 22 * * *', 8, true), deny('30 22 * * *', 1, false)], t).manual, false);
  // A window that is not open does not block.
  assert.equal(windowsAt([deny('0 22 * * *', 8, true), deny('0 12 * * *', 1, false)], t).manual, true);
});

test('with allow windows, automated syncs run only inside one; a deny inside an allow still wins', () => {
  const w = [allow('0 9 * * 1-5', 8)];
  // 2026-12-02 is a Wednesday.
  assert.equal(windowsAt(w, at('2026-12-02T10:00:00Z')).automated, true);
  const outside = windowsAt(w, at('2026-12-02T18:00:00Z'));
  assert.equal(outside.automated, false);
  assert.equal(outside.manual, false);
  assert.equal(outside.reason, 'outside sync windows: next allow at 2026-12-03 09:00 UTC');
  // Saturday: no opening that day.
  assert.equal(windowsAt(w, at('2026-12-05T10:00:00Z')).automated, false);
  assert.equal(windowsAt([allow('0 9 * * 1-5', 8, true)], at('2026-12-02T18:00:00Z')).manual, true);
  const both = windowsAt([...w, deny('0 12 * * *', 1)], at('2026-12-02T12:30:00Z'));
  assert.equal(both.automated, false);
  assert.equal(both.reason, 'sync window deny until 13:00 UTC');
});

test('cron fields: lists, ranges, steps and names', () => {
  const w = [deny('*/15 8-10,14 * * *', 0.1)];
  assert.equal(windowsAt(w, at('2026-12-02T08:30:05Z')).automated, false);
  assert.equal(windowsAt(w, at('2026-12-02T08:37:00Z')).automated, true);
  assert.equal(windowsAt(w, at('2026-12-02T14:45:01Z')).automated, false);
  assert.equal(windowsAt(w, at('2026-12-02T12:00:00Z')).automated, true);
  assert.equal(windowsAt([deny('0 0 1 jan *', 24)], at('2027-01-01T23:00:00Z')).automated, false);
  assert.equal(windowsAt([deny('0 0 * * sun', 24)], at('2026-12-06T12:00:00Z')).automated, false);
});

test('overlapping openings: the latest end is when the deny lifts', () => {
  const o = activeOpening(deny('0 * * * *', 3), at('2026-12-02T10:30:00Z'));
  assert.deepEqual(o, { start: at('2026-12-02T10:00:00Z'), end: at('2026-12-02T13:00:00Z') });
});

test('schedules: five fields or a clear error', () => {
  assert.equal(scheduleProblem('0 22 * * *'), undefined);
  assert.match(scheduleProblem('0 0 22 * * *') ?? '', /has 6 fields; a schedule has five/);
  assert.match(scheduleProblem('@daily') ?? '', /has 1 field;/);
  assert.match(scheduleProblem('0 24 * * *') ?? '', /is not a cron schedule/);
  assert.equal(windowText(deny('0 22 * * *', 8, true)), 'deny 0 22 * * * for 8h (manual syncs allowed)');
});
