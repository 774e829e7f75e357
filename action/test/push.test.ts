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
  const deps: PushDeps = {
    commit: async (parent, plan) => {
      log.push(`commit ${plan.edits[0]?.newText} on ${parent}`);
      return `c-${parent}`;
    },
    fastForward: async (sha) => {
      if (refusals-- > 0) {
        tip++;
        log.push(`refused ${sha}`);
        return 'conflict';
      }
      log.push(`landed ${sha}`);
      return 'ok';
    },
    replanOnTip: async () => ({ sha: `t${tip}`, plan: replanned(tip) }),
    sleep: async (ms) => {
      log.push(`sleep ${ms > 0}`);
    },
    info: () => {},
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

test('a direct push gives up after its attempts, saying nothing was forced', async () => {
  const { deps } = world(10);
  await assert.rejects(
    pushDirect('main', { sha: 't0', plan: planOf('v0') }, deps, { maxAttempts: 3 }),
    /main kept moving: 3 fast-forward attempts were refused; nothing was forced/,
  );
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
