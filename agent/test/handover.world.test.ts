// Commit statuses across a change of leader: another replica writes on the same commits while it leads, so a replica
// that leads again must not trust what it remembers of GitHub.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
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

/** Writes the leader Lease's holder (empty: released, as a replica's graceful stop leaves it). */
async function setHolder(holder: string): Promise<void> {
  const r = await w.kube.request('GET', LEASE);
  const lease = r.body as { spec: Record<string, unknown> };
  lease.spec = {
    ...lease.spec,
    holderIdentity: holder,
    renewTime: new Date().toISOString().replace(/Z$/, '000Z'),
    leaseDurationSeconds: holder ? 3600 : 1,
  };
  const put = await w.kube.request('PUT', LEASE, lease);
  assert.equal(put.status, 200, JSON.stringify(put.body));
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

test('a leader that stops writes its last statuses before it releases the Lease to the next one', async () => {
  // The Lease is released through this client; when, is recorded on the clock the emulator's request log uses. Its
  // applies take 50 ms each, so a big revision is still applying when the agent is told to stop (a rolling update).
  let releasedAt: number | undefined;
  const kube = new Proxy(w.client, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      if (key === 'apply')
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, 50));
          return value.apply(target, args);
        };
      if (key === 'updateLease')
        return async (lease: { spec: { holderIdentity?: string } }) => {
          const ok = await value.call(target, lease);
          if (!lease.spec.holderIdentity) releasedAt ??= performance.now();
          return ok;
        };
      return value.bind(target);
    },
  });
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
  assert.ok(releasedAt !== undefined, 'the Lease was not released');
  for (const p of posts)
    assert.ok(
      p.at < releasedAt,
      `a status was written ${Math.round(p.at - releasedAt)} ms after the Lease was released`,
    );
});

test('a replica that leads again reports a refusal again over the status another leader left on the commit', async () => {
  const context = 'tether/dev/refused';
  const { agent } = await w.startAgent({
    leaderElection: { enabled: true, leaseDuration: '2s', renewInterval: '200ms' },
    apps: [w.app('refused', 'envs/dev/web', { namespace: 'default', interval: '1h', project: 'nowhere' })],
  });
  const head = await w.head();
  await waitFor(async () => (await w.statuses(head, context))[0]?.state === 'error', {
    timeoutMs: 30_000,
    describe: () => `no refusal on ${head}: ${JSON.stringify(agent.app('refused')?.state)}`,
  });

  // Another replica leads meanwhile and writes on the same commit (the project allowed the app there for a while).
  await setHolder('other-replica');
  await waitFor(() => !agent.isLeader, { timeoutMs: 10_000, describe: () => 'the agent kept leading' });
  const [owner, repo] = ENV_REPO.split('/') as [string, string];
  await w.gh.repos.createCommitStatus({
    owner,
    repo,
    sha: head,
    state: 'success',
    context,
    description: 'Synced 1 resources · Healthy',
  });
  const lostAt = Date.now();
  await setHolder('');

  // This replica leads again and is refused at the same commit: the commit must say so again.
  await waitFor(() => agent.isLeader && Date.parse(agent.history('refused')?.syncs[0]?.startedAt ?? '') > lostAt, {
    timeoutMs: 15_000,
    describe: () => 'the agent did not lead and turn again',
  });
  await agent.flushStatuses();
  const newest = (await w.statuses(head, context))[0];
  assert.equal(
    newest?.state,
    'error',
    `the newest status on the commit is the other leader's: ${newest?.state} ${newest?.description}`,
  );
  assert.match(newest?.description ?? '', /^Refused: project nowhere is not defined/);
  await agent.stop();
});

test('a replica that leads again says again that it holds a revision back, over the status another leader left', async () => {
  const context = 'tether/dev/held';
  const { agent } = await w.startAgent({
    leaderElection: { enabled: true, leaseDuration: '2s', renewInterval: '200ms' },
    apps: [w.app('held', 'envs/dev/web', { namespace: 'default', interval: '1h', syncPolicy: 'manual' })],
  });
  const head = await w.head();
  await waitFor(async () => (await w.statuses(head, context))[0]?.state === 'pending', {
    timeoutMs: 30_000,
    describe: () => `no pending on ${head}: ${JSON.stringify(agent.app('held')?.state)}`,
  });

  // Another replica leads meanwhile and writes on the same commit (someone asked it to sync).
  await setHolder('other-replica');
  await waitFor(() => !agent.isLeader, { timeoutMs: 10_000, describe: () => 'the agent kept leading' });
  const [owner, repo] = ENV_REPO.split('/') as [string, string];
  await w.gh.repos.createCommitStatus({
    owner,
    repo,
    sha: head,
    state: 'success',
    context,
    description: 'Synced 1 resources · Healthy',
  });
  await setHolder('');

  // This replica leads again and holds the same revision back for the same reason (a held turn keeps no history
  // row): the commit must say so again.
  await waitFor(() => agent.isLeader, { timeoutMs: 15_000, describe: () => 'the agent did not lead again' });
  let newest: { state?: string; description?: string | null } | undefined;
  await waitFor(
    async () => {
      await agent.flushStatuses();
      newest = (await w.statuses(head, context))[0];
      return newest?.state === 'pending';
    },
    {
      timeoutMs: 15_000,
      describe: () => `the newest status on the commit is the other leader's: ${newest?.state} ${newest?.description}`,
    },
  );
  assert.match(newest?.description ?? '', /^awaiting sync/);
  await agent.stop();
});

test('a replica that leads again reports its app source again over the status another leader left on the commit', async () => {
  const { agent } = await w.startAgent({
    leaderElection: { enabled: true, leaseDuration: '2s', renewInterval: '200ms' },
    apps: [],
    appsFrom: [{ repo: w.cloneUrl(ENV_REPO), path: 'envs/dev', interval: '1h' }],
  });
  const context = `tether/dev/${agent.appSources()[0]!.name}`;
  const head = await w.head();
  let first: { state?: string; description?: string | null } | undefined;
  await waitFor(
    async () => {
      first = (await w.statuses(head, context))[0];
      return first !== undefined;
    },
    {
      timeoutMs: 30_000,
      describe: () => `no status of the app source on ${head}: ${JSON.stringify(agent.appSources())}`,
    },
  );

  // Another replica leads meanwhile and says something else of the same commit (its read failed).
  await setHolder('other-replica');
  await waitFor(() => !agent.isLeader, { timeoutMs: 10_000, describe: () => 'the agent kept leading' });
  const [owner, repo] = ENV_REPO.split('/') as [string, string];
  await w.gh.repos.createCommitStatus({
    owner,
    repo,
    sha: head,
    state: first?.state === 'error' ? 'success' : 'error',
    context,
    description: 'fetch failed: the other replica',
  });
  await setHolder('');

  // This replica leads again and reads the same commit as before: the commit must say what it read again.
  await waitFor(() => agent.isLeader, { timeoutMs: 15_000, describe: () => 'the agent did not lead again' });
  let newest: { state?: string; description?: string | null } | undefined;
  await waitFor(
    async () => {
      await agent.flushStatuses();
      newest = (await w.statuses(head, context))[0];
      return newest?.description === first?.description;
    },
    {
      timeoutMs: 15_000,
      describe: () => `the newest status on the commit is the other leader's: ${newest?.state} ${newest?.description}`,
    },
  );
  assert.equal(newest?.state, first?.state);
  await agent.stop();
});
