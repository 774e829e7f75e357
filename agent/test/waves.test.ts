import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthResult } from '../src/core/types.ts';
import { formatMs, judgeWave } from '../src/core/waves.ts';

const h = (status: HealthResult['status'], subject: string): HealthResult => ({
  status,
  message: `${subject}: ${status}`,
  subject,
});

test('a wave is ready when every object is Healthy or Suspended', () => {
  assert.deepEqual(judgeWave([]), { state: 'ready' });
  assert.deepEqual(judgeWave([h('Healthy', 'a'), h('Suspended', 'b')]), { state: 'ready' });
});

test('a Degraded object stops the wave, whatever the others say', () => {
  const v = judgeWave([h('Progressing', 'a'), h('Degraded', 'b'), h('Missing', 'c')]);
  assert.equal(v.state, 'degraded');
  assert.equal(v.state === 'degraded' && v.health.subject, 'b');
});

test('otherwise the wave waits on its worst object', () => {
  const v = judgeWave([h('Healthy', 'a'), h('Progressing', 'b'), h('Missing', 'c')]);
  assert.equal(v.state, 'waiting');
  assert.equal(v.state === 'waiting' && v.health.subject, 'c');
});

test('durations read like the config writes them', () => {
  assert.equal(formatMs(850), '850ms');
  assert.equal(formatMs(12_345), '12.3s');
  assert.equal(formatMs(300_000), '5m');
  assert.equal(formatMs(90_000), '1m30s');
});
