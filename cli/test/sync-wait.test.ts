import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthResult } from '../../agent/src/core/types.ts';
import { waitForHealth } from '../sync-wait.ts';

/** A stand-in agent whose health reads answer from a script (a value, or an error to throw). */
function scripted(steps: (HealthResult | Error)[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    async refreshHealthNow(): Promise<HealthResult> {
      const step = steps[Math.min(calls++, steps.length - 1)]!;
      if (step instanceof Error) throw step;
      return step;
    },
  };
}
const h = (status: HealthResult['status'], message = `Deployment/web/web: ${status}`): HealthResult => ({
  status,
  message,
});

test('waits through Progressing and a failed read until Healthy', async () => {
  const agent = scripted([
    h('Progressing'),
    new Error('429 storage is (re)initializing'),
    h('Progressing'),
    h('Healthy'),
  ]);
  const r = await waitForHealth(agent, 'web', 10_000, { pollMs: 1 });
  assert.deepEqual(r, { health: h('Healthy'), timedOut: false });
  assert.equal(agent.calls, 4);
});

test('Degraded and Suspended end the wait at once', async () => {
  assert.deepEqual(await waitForHealth(scripted([h('Degraded')]), 'web', 10_000, { pollMs: 1 }), {
    health: h('Degraded'),
    timedOut: false,
  });
  assert.equal((await waitForHealth(scripted([h('Suspended')]), 'web', 10_000, { pollMs: 1 })).timedOut, false);
});

test('a rollout that does not settle times out with the last health', async () => {
  const agent = scripted([h('Progressing', 'Deployment/web/web: 0 of 2 replicas created')]);
  const started = Date.now();
  const r = await waitForHealth(agent, 'web', 60, { pollMs: 10 });
  assert.equal(r.timedOut, true);
  assert.equal(r.health.message, 'Deployment/web/web: 0 of 2 replicas created');
  assert.ok(Date.now() - started < 1000);
  // A read that keeps failing is Unknown, saying why.
  const down = await waitForHealth(scripted([new Error('connect ECONNREFUSED')]), 'web', 30, { pollMs: 10 });
  assert.deepEqual(down, {
    health: { status: 'Unknown', message: 'cannot read health: connect ECONNREFUSED' },
    timedOut: true,
  });
});

test('the whole timeout is waited before giving up, even when it is not a multiple of the poll interval', async () => {
  const started = Date.now();
  const r = await waitForHealth(scripted([h('Progressing')]), 'web', 250, { pollMs: 100 });
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - started >= 250, `gave up after ${Date.now() - started} ms`);
});

test('health the sync judged is not read again: settled ends the wait, else the first read is a poll later', async () => {
  const settled = scripted([h('Healthy')]);
  assert.deepEqual(await waitForHealth(settled, 'web', 10_000, { pollMs: 1, judged: h('Healthy') }), {
    health: h('Healthy'),
    timedOut: false,
  });
  assert.equal(settled.calls, 0, 'a Healthy sync needs no second read');
  const degraded = scripted([h('Healthy')]);
  assert.equal((await waitForHealth(degraded, 'web', 10_000, { judged: h('Degraded') })).health.status, 'Degraded');
  assert.equal(degraded.calls, 0);

  const rolling = scripted([h('Healthy')]);
  const started = Date.now();
  const r = await waitForHealth(rolling, 'web', 10_000, { pollMs: 50, judged: h('Progressing') });
  assert.deepEqual(r, { health: h('Healthy'), timedOut: false });
  assert.equal(rolling.calls, 1);
  assert.ok(Date.now() - started >= 45, `read again after ${Date.now() - started} ms, not a poll later`);
});
