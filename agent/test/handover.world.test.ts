// Commit statuses across a change of leader: another replica writes on the same commits while it leads, so a replica
// that leads again must not trust what it remembers of GitHub.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGitHub } from '../../shared/src/github.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, ENV_REPO, startAgentWorld } from './fixtures/agent-world.ts';

const LEASE = '/apis/coordination.k8s.io/v1/namespaces/tether-system/leases/tether-dev';
const CONTEXT = 'tether/dev/web';

let w: AgentWorld;

before(async () => {
  w = await startAgentWorld({
    github: true,
    files: { 'envs/dev/web/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata: {v: "1"}\n' },
  });
  await w.createNamespace('tether-system');
});
after(() => w?.stop());

/**
 * Writes the leader Lease's holder (empty: released, as a replica's graceful stop leaves it); read again and written
 * again when the agent renewed the Lease between the read and the write (409).
 */
async function setHolder(holder: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await w.kube.request('GET', LEASE);
    const lease = r.body as { spec: Record<string, unknown> };
    lease.spec = {
      ...lease.spec,
      holderIdentity: holder,
      renewTime: new Date().toISOString().replace(/Z$/, '000Z'),
      leaseDurationSeconds: holder ? 3600 : 1,
    };
    const put = await w.kube.request('PUT', LEASE, lease);
    if (put.status === 409 && attempt < 5) continue;
    assert.equal(put.status, 200, JSON.stringify(put.body));
    return;
  }
}

test('a replica that leads again writes its verdict over the status another leader left on the commit', async () => {
  const { agent } = await w.startAgent({
    leaderElection: { enabled: true, leaseDuration: '2s', renewInterval: '200ms' },
    apps: [w.app('web', 'envs/dev/web', { namespace: 'default', interval: '1h' })],
  });
  const head = await w.head();
  await waitFor(async () => (await w.statuses(head, CONTEXT))[0]?.state === 'success', {
    timeoutMs: 30_000,
    describe: () => `no success on ${head}: ${JSON.stringify(agent.app('web')?.state)}`,
  });

  // Another replica takes the lead, says it is syncing the commit, and stops before its verdict (killed, evicted).
  await setHolder('other-replica');
  await waitFor(() => !agent.isLeader, { timeoutMs: 10_000, describe: () => 'the agent kept leading' });
  const [owner, repo] = ENV_REPO.split('/') as [string, string];
  await w.gh.repos.createCommitStatus({
    owner,
    repo,
    sha: head,
    state: 'pending',
    context: CONTEXT,
    description: `Syncing ${head.slice(0, 7)}`,
  });
  const lostAt = Date.now();
  await setHolder('');

  // This replica leads again and syncs the app: Synced and Healthy, as before.
  await waitFor(() => agent.isLeader && Date.parse(agent.history('web')?.syncs[0]?.startedAt ?? '') > lostAt, {
    timeoutMs: 15_000,
    describe: () => 'the agent did not lead and sync again',
  });
  await agent.flushStatuses();
  const newest = (await w.statuses(head, CONTEXT))[0];
  assert.equal(
    newest?.state,
    'success',
    `the newest status on the commit is the other leader's: ${newest?.state} ${newest?.description}`,
  );
  await agent.stop();
});

/**
 * The world's client, recording when the leader Lease is released, on the clock the emulator's request log uses.
 * Each apply takes `applyMs` longer; the release returns `afterReleaseMs` after it was written (what a replica's
 * stop still does once another replica may lead).
 */
function leaseRecordingKube(options: { applyMs?: number; afterReleaseMs?: number }) {
  const recorded: { releasedAt?: number } = {};
  const kube = new Proxy(w.client, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      if (key === 'apply' && options.applyMs)
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, options.applyMs));
          return value.apply(target, args);
        };
      if (key === 'updateLease')
        return async (lease: { spec: { holderIdentity?: string } }) => {
          const ok = await value.call(target, lease);
          if (!lease.spec.holderIdentity) {
            recorded.releasedAt ??= performance.now();
            await new Promise((r) => setTimeout(r, options.afterReleaseMs ?? 0));
          }
          return ok;
        };
      return value.bind(target);
    },
  });
  return { kube, recorded };
}

/** The status writes on `sha` made after `releasedAt` (a Lease or an app released), as `+N ms` after it. */
function postsAfterRelease(sha: string, releasedAt: number): string[] {
  return w.github.requests
    .filter((r) => r.method === 'POST' && r.path.endsWith(`/statuses/${sha}`) && r.at >= releasedAt)
    .map((r) => `+${Math.round(r.at - releasedAt)} ms (${r.status})`);
}

test('a leader that stops writes its last statuses before it releases the Lease to the next one', async () => {
  // Its applies take 50 ms each, so a big revision is still applying when the agent is told to stop (a rolling
  // update).
  const { kube, recorded } = leaseRecordingKube({ applyMs: 50 });
  const { agent } = await w.startAgent(
    {
      leaderElection: { enabled: true, leaseName: 'tether-stop', leaseDuration: '2s', renewInterval: '200ms' },
      apps: [w.app('web', 'envs/dev/web', { namespace: 'default', interval: '1h' })],
    },
    { kube },
  );
  await waitFor(() => agent.isLeader && agent.app('web')?.state.lastSync !== undefined, {
    timeoutMs: 15_000,
    describe: () => 'the agent did not lead and sync',
  });
  const files: Record<string, string> = {};
  for (let i = 0; i < 400; i++)
    files[`envs/dev/web/many-${i}.yaml`] = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: many-${i}\ndata: {}\n`;
  const head = await w.commit(files, 'many');
  agent.requestSync('web', 'test');
  await waitFor(async () => (await w.exists('/api/v1/namespaces/default/configmaps/many-0')) === true, {
    timeoutMs: 15_000,
    describe: () => 'the big revision never started',
  });
  await agent.stop();
  assert.equal(agent.history('web')?.syncs[0]?.error?.stage, 'cancelled', 'the stop did not interrupt the sync');
  const posts = w.github.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/statuses/${head}`));
  assert.ok(posts.length > 0, 'the sync the stop interrupted said nothing on its commit');
  assert.ok(recorded.releasedAt !== undefined, 'the Lease was not released');
  assert.deepEqual(postsAfterRelease(head, recorded.releasedAt), [], 'statuses written after the Lease was released');
});

test('a leader whose last statuses cannot be written stops retrying them before it releases the Lease', async () => {
  // GitHub fails every status write, so the stop's wait for the last statuses gives up (after 5 s) with a retry
  // armed; the stop's work after the release takes long enough for that retry to come due. (The statuses of the apps
  // it runs are released at the hand-over, those of an app removed meanwhile at its removal; the stop drops what
  // neither names, such as a pull request's plan.)
  const { kube, recorded } = leaseRecordingKube({ afterReleaseMs: 8000 });
  const github = createGitHub({ auth: w.token, baseUrl: w.github.url, retries: 0 });
  const { agent } = await w.startAgent(
    {
      leaderElection: { enabled: true, leaseName: 'tether-retry', leaseDuration: '2s', renewInterval: '200ms' },
      apps: [w.app('unwritten', 'envs/dev/web', { namespace: 'unwritten', interval: '1h' })],
    },
    { kube, github },
  );
  await w.createNamespace('unwritten');
  w.github.faults.failNext(1000, { match: /^POST .*\/statuses\//, status: 500 });
  try {
    const head = await w.head();
    await waitFor(() => w.github.requests.some((r) => r.path.endsWith(`/statuses/${head}`) && r.status === 500), {
      timeoutMs: 15_000,
      describe: () => `no status write tried: ${JSON.stringify(agent.app('unwritten')?.state)}`,
    });
    // Removed meanwhile (its App document deleted, say): the hand-over at the release no longer names its status.
    await agent.removeApp('unwritten');
    await agent.stop();
    assert.ok(recorded.releasedAt !== undefined, 'the Lease was not released');
    assert.deepEqual(postsAfterRelease(head, recorded.releasedAt), [], 'statuses written after the Lease was released');
  } finally {
    w.github.faults.reset();
  }
});

test('a leader that stops while GitHub holds a status write aborts that write before it releases the Lease', async () => {
  // GitHub holds the app's first status write 9 s, longer than the stop waits for its last statuses (5 s): the write
  // would land after the Lease is released, over what the next leader writes there.
  const { kube, recorded } = leaseRecordingKube({});
  const startedAt = performance.now();
  const injected = w.github.faults.injected;
  w.github.faults.holdNext(1, { ms: 9000, match: /^POST .*\/statuses\// });
  try {
    const { agent } = await w.startAgent(
      {
        leaderElection: { enabled: true, leaseName: 'tether-held', leaseDuration: '2s', renewInterval: '200ms' },
        apps: [w.app('slow', 'envs/dev/web', { namespace: 'default', interval: '1h' })],
      },
      { kube },
    );
    const head = await w.head();
    await waitFor(() => w.github.faults.injected > injected, {
      timeoutMs: 15_000,
      describe: () => `no status write held: ${JSON.stringify(agent.app('slow')?.state)}`,
    });
    await agent.stop();
    assert.ok(recorded.releasedAt !== undefined, 'the Lease was not released');
    // The held request ends when its hold does (served, 201) or when its client goes away (never served, 499).
    const writes = () =>
      w.github.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/statuses/${head}`) && r.at > startedAt);
    await waitFor(() => writes().length > 0, { timeoutMs: 15_000, describe: () => 'the held write never ended' });
    assert.deepEqual(
      writes().map((r) => r.status),
      [499],
      'the held write was served after the stop',
    );
    assert.deepEqual(await w.statuses(head, 'tether/dev/slow'), [], 'GitHub holds a status of the stopped leader');
  } finally {
    w.github.faults.reset();
  }
});

test('a removed app writes no more statuses: its verdict due for a retry is dropped with it', async () => {
  // GitHub fails every status write, so the app's verdict waits for a retry (after 1 s, 2 s, 4 s …) when it is removed.
  const github = createGitHub({ auth: w.token, baseUrl: w.github.url, retries: 0 });
  const startedAt = performance.now();
  w.github.faults.failNext(1000, { match: /^POST .*\/statuses\//, status: 500 });
  const { agent } = await w.startAgent(
    { apps: [w.app('removed', 'envs/dev/web', { namespace: 'default', interval: '1h' })] },
    { github },
  );
  try {
    const head = await w.head();
    await waitFor(() => postsAfterRelease(head, startedAt).length > 0, {
      timeoutMs: 15_000,
      describe: () => `no status write tried: ${JSON.stringify(agent.app('removed')?.state)}`,
    });
    await agent.removeApp('removed');
    const removedAt = performance.now();
    await new Promise((r) => setTimeout(r, 4000));
    assert.deepEqual(postsAfterRelease(head, removedAt), [], 'statuses written after the app was removed');
  } finally {
    w.github.faults.reset();
    await agent.stop();
  }
});

/** A commit status as the tests read it back. */
type Posted = { state?: string; description?: string | null } | undefined;

/** The newest status of `context` on `sha` once `ok` holds for it; what the agent queued is flushed between reads. */
async function newestWhen(agent: Agent, sha: string, context: string, ok: (s: Posted) => boolean): Promise<Posted> {
  let newest: Posted;
  await waitFor(
    async () => {
      await agent.flushStatuses();
      newest = (await w.statuses(sha, context))[0];
      return ok(newest);
    },
    { timeoutMs: 30_000, describe: () => `the newest status of ${context}: ${newest?.state} ${newest?.description}` },
  );
  return newest;
}

/**
 * Another replica takes the lead from `agent`, writes `status` on `sha` while it leads, and releases the Lease; the
 * agent then leads again.
 */
async function anotherLeaderWrites(
  agent: Agent,
  sha: string,
  status: { state: 'success' | 'error'; context: string; description: string },
): Promise<void> {
  await setHolder('other-replica');
  await waitFor(() => !agent.isLeader, { timeoutMs: 10_000, describe: () => 'the agent kept leading' });
  const [owner, repo] = ENV_REPO.split('/') as [string, string];
  await w.gh.repos.createCommitStatus({ owner, repo, sha, ...status });
  await setHolder('');
  await waitFor(() => agent.isLeader, { timeoutMs: 15_000, describe: () => 'the agent did not lead again' });
}

const LEADING = { enabled: true, leaseDuration: '2s', renewInterval: '200ms' };
const SYNCED = 'Synced 1 resources · Healthy';

test('a replica that leads again reports a refusal again over the status another leader left on the commit', async () => {
  const context = 'tether/dev/refused';
  const { agent } = await w.startAgent({
    leaderElection: LEADING,
    apps: [w.app('refused', 'envs/dev/web', { namespace: 'default', interval: '1h', project: 'nowhere' })],
  });
  try {
    const head = await w.head();
    await newestWhen(agent, head, context, (s) => s?.state === 'error');
    // The other replica synced the app while its project allowed it.
    await anotherLeaderWrites(agent, head, { state: 'success', context, description: SYNCED });
    // Refused again at the same commit: the commit says so again.
    const newest = await newestWhen(agent, head, context, (s) => s?.state === 'error');
    assert.match(newest?.description ?? '', /^Refused: project nowhere is not defined/);
  } finally {
    await agent.stop();
  }
});

test('a replica that leads again says again that it holds a revision back, over the status another leader left', async () => {
  const context = 'tether/dev/held';
  const { agent } = await w.startAgent({
    leaderElection: LEADING,
    apps: [w.app('held', 'envs/dev/web', { namespace: 'default', interval: '1h', syncPolicy: 'manual' })],
  });
  try {
    const head = await w.head();
    await newestWhen(agent, head, context, (s) => s?.state === 'pending');
    // Someone asked the other replica to sync.
    await anotherLeaderWrites(agent, head, { state: 'success', context, description: SYNCED });
    // Held back again at the same commit for the same reason: the commit says so again.
    const newest = await newestWhen(agent, head, context, (s) => s?.state === 'pending');
    assert.match(newest?.description ?? '', /^awaiting sync/);
  } finally {
    await agent.stop();
  }
});

test('a replica that leads again reports its app source again over the status another leader left on the commit', async () => {
  const { agent } = await w.startAgent({
    leaderElection: LEADING,
    apps: [],
    appsFrom: [{ repo: w.cloneUrl(ENV_REPO), path: 'envs/dev', interval: '1h' }],
  });
  try {
    const context = `tether/dev/${agent.appSources()[0]!.name}`;
    const head = await w.head();
    const first = await newestWhen(agent, head, context, (s) => s !== undefined);
    // The other replica's read of the same commit failed.
    await anotherLeaderWrites(agent, head, {
      state: first?.state === 'error' ? 'success' : 'error',
      context,
      description: 'fetch failed: the other replica',
    });
    // The same read as before: the commit says what it said before again.
    const newest = await newestWhen(agent, head, context, (s) => s?.description === first?.description);
    assert.equal(newest?.state, first?.state);
  } finally {
    await agent.stop();
  }
});

test('a replica that leads again reports its unchanged verdict over another leader status, after a failed fetch', async () => {
  const context = 'tether/dev/retaken';
  // A namespace of its own: the objects in `default` belong to the first test's app.
  await w.createNamespace('retaken');
  const { agent } = await w.startAgent({
    leaderElection: LEADING,
    apps: [w.app('retaken', 'envs/dev/web', { namespace: 'retaken', interval: '1h' })],
  });
  try {
    const head = await w.head();
    await newestWhen(agent, head, context, (s) => s?.state === 'success');
    // The other replica's sync of the same commit failed; this replica's first sync after it leads again cannot
    // fetch, so the commit keeps the other replica's verdict until the next sync, which finds the tree unchanged.
    await setHolder('other-replica');
    await waitFor(() => !agent.isLeader, { timeoutMs: 10_000, describe: () => 'the agent kept leading' });
    const [owner, repo] = ENV_REPO.split('/') as [string, string];
    await w.gh.repos.createCommitStatus({ owner, repo, sha: head, state: 'error', context, description: 'the other' });
    const lostAt = Date.now();
    w.git.faults.failNext(1000, { status: 500 });
    await setHolder('');
    const syncedSince = (since: number, stage?: string) =>
      agent.history('retaken')?.syncs.find((e) => Date.parse(e.startedAt) > since && e.error?.stage === stage);
    await waitFor(() => agent.isLeader && syncedSince(lostAt, 'fetch') !== undefined, {
      timeoutMs: 15_000,
      describe: () => `no failed fetch after leading again: ${JSON.stringify(agent.history('retaken')?.syncs[0])}`,
    });
    const failedAt = Date.parse(syncedSince(lostAt, 'fetch')!.startedAt);
    w.git.faults.reset();
    agent.requestSync('retaken', 'test');
    await waitFor(() => syncedSince(failedAt) !== undefined, {
      timeoutMs: 15_000,
      describe: () => `no sync after the fetch came back: ${JSON.stringify(agent.history('retaken')?.syncs[0])}`,
    });
    await agent.flushStatuses();
    const newest = (await w.statuses(head, context))[0];
    assert.equal(newest?.state, 'success', `the newest status is the other leader's: ${newest?.description}`);
  } finally {
    w.git.faults.reset();
    await agent.stop();
  }
});
