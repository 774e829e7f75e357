import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EditPlan } from '../../shared/src/plan-edits.ts';
import { type PushDeps, pushDirect } from '../src/push.ts';

const planOf = (text: string): EditPlan => ({
  edits: text ? [{ path: 'envs/dev/web/deploy.yaml', newText: text }] : [],
  changes: [],
  skipped: [],
  unmatched: [],
});

/** A base that moves `moves` times under the pusher before letting it fast-forward. */
function world(moves: number, replanned: (n: number) => EditPlan = (n) => planOf(`v${n}`)) {
  const log: string[] = [];
  let tip = 0;
  let refusals = moves;
  let clock = 0;
  const deps: PushDeps = {
    commit: async (parent, plan) => {
      log.push(`commit ${plan.edits[0]?.newText} on ${parent}`);
      return `c-${parent}`;
    },
    fastForward: async (sha) => {
      if (refusals-- > 0) {
        tip++;
        log.push(`refused ${sha}`);
        return { refused: 'Update is not a fast forward' };
      }
      log.push(`landed ${sha}`);
      return 'ok';
    },
    replanOnTip: async () => ({ sha: `t${tip}`, plan: replanned(tip) }),
    sleep: async (ms) => {
      clock += ms;
      log.push(`sleep ${ms > 0}`);
    },
    info: () => {},
    now: () => clock,
    random: () => 0.5,
  };
  return { deps, log };
}

test('a direct push re-applies the edit on the moved tip and lands', async () => {
  const { deps, log } = world(2);
  const r = await pushDirect('main', { sha: 't0', plan: planOf('v0') }, deps);
  assert.equal(r.commitSha, 'c-t2');
  assert.equal(r.retries, 2);
  assert.equal(r.plan.edits[0]?.newText, 'v2');
  assert.deepEqual(log, [
    'commit v0 on t0',
    'refused c-t0',
    'sleep true',
    'commit v1 on t1',
    'refused c-t1',
    'sleep true',
    'commit v2 on t2',
    'landed c-t2',
  ]);
});

test('a direct push keeps trying until its deadline, with jittered exponential backoff, then says nothing was forced', async () => {
  const { deps, log } = world(1000);
  const waits: number[] = [];
  const sleep = deps.sleep;
  deps.sleep = async (ms) => {
    waits.push(ms);
    await sleep(ms);
  };
  await assert.rejects(
    pushDirect('main', { sha: 't0', plan: planOf('v0') }, deps, { deadlineMs: 10_000 }),
    /main kept moving: \d+ fast-forward attempt\(s\) in \d+ s were refused \(deadline 10 s; the last: Update is not a fast forward\); nothing was forced/,
  );
  // Half of 250 ms doubling, capped at 8 s: 125, 250, 500, 1000, 2000, 4000, then past the deadline.
  assert.deepEqual(waits, [125, 250, 500, 1000, 2000, 4000]);
  assert.equal(log.filter((l) => l.startsWith('landed')).length, 0);
});

test('many moves within the deadline all end in a landed push', async () => {
  const { deps } = world(25);
  const r = await pushDirect('main', { sha: 't0', plan: planOf('v0') }, deps);
  assert.equal(r.retries, 25);
  assert.equal(r.commitSha, 'c-t25');
});

test('a value another run changed meanwhile is reported, and this run sets its own', async () => {
  const change = (old: string) => ({
    file: 'a.yaml',
    document: 0,
    location: 'image',
    image: 'ghcr.io/acme/web',
    old,
    new: 'ghcr.io/acme/web:2',
  });
  const first = { ...planOf('v0'), changes: [change('ghcr.io/acme/web:1')] };
  const { deps } = world(1, () => ({ ...planOf('v1'), changes: [change('ghcr.io/acme/web:3')] }));
  const r = await pushDirect('main', { sha: 't0', plan: first }, deps);
  assert.deepEqual(r.overridden, [
    'a.yaml image: another commit set it to ghcr.io/acme/web:3 (it was ghcr.io/acme/web:1) while this run retried; this run set ghcr.io/acme/web:2',
  ]);
});

test('a direct push stops without a commit when the moved base already has the change', async () => {
  const { deps, log } = world(1, () => planOf(''));
  const r = await pushDirect('main', { sha: 't0', plan: planOf('v0') }, deps);
  assert.equal(r.commitSha, undefined);
  assert.equal(r.retries, 1);
  assert.equal(log.filter((l) => l.startsWith('commit')).length, 1);
  const none = await pushDirect('main', { sha: 't0', plan: planOf('') }, deps);
  assert.deepEqual([none.commitSha, none.retries], [undefined, 0]);
});

test('a fast-forward refused while the base does not move is not a race: the run stops and names the refusal', async () => {
  let clock = 0;
  const attempts: string[] = [];
  const deps: PushDeps = {
    commit: async (parent) => `c-${parent}`,
    // A protected base (or a token that may not push to it) refuses every update; nobody else moves it.
    fastForward: async (sha) => {
      attempts.push(sha);
      return { refused: 'Protected branch update failed for refs/heads/main.' };
    },
    replanOnTip: async () => ({ sha: 't0', plan: planOf('v0') }),
    sleep: async (ms) => {
      clock += ms;
    },
    info: () => {},
    now: () => clock,
    random: () => 0.5,
  };
  await assert.rejects(
    pushDirect('main', { sha: 't0', plan: planOf('v0') }, deps, { deadlineMs: 120_000 }),
    (err: Error) => {
      assert.match(
        err.message,
        /^main refused the fast-forward to c-t0 and did not move for \d+ s \(\d+ attempts\): Protected branch update failed for refs\/heads\/main\.; not a race with another writer \(a protected branch, or a token that may not push to it\); nothing was forced and nothing was pushed$/,
      );
      return true;
    },
  );
  // It stops once the base has sat still for 10 s of refusals, not at the two-minute deadline.
  assert.ok(clock >= 10_000 && clock < 20_000, `stopped after ${clock} ms`);
});
