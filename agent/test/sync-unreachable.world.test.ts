import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syncAgainstClosedPort } from './fixtures/unreachable-sync.ts';

test('sync --once against an unreachable cluster exits once it reported, without waiting for its Git fetch', async () => {
  // Every Git answer comes 4.5 s late: the fetch the command starts during its cluster check (to have the app's files
  // by the time the cluster answers) lists the refs by ~4.8 s and has its pack ~4.5 s later. The cluster check gives
  // up after its retries (about 4 s); the command reports that and exits without the fetch.
  const r = await syncAgainstClosedPort(4500);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /ECONNREFUSED/);
  assert.equal(
    r.packsAskedBeforeExit,
    0,
    `the command waited for the Git fetch (exited after ${Math.round(r.exitMs)} ms)`,
  );
});
