// A sync the apiserver refuses is retried after its backoff, `limit` times, then waits while the interval keeps
// polling: no more applies of that revision until a manual sync or a new commit. The history of those syncs is kept
// on the app's ApplySet parent, so a restarted agent shows it again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StatusRow, statusCommand, syncCommand } from '../../cli/agent.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import type { AppView } from '../src/core/agent-view.ts';
import { HISTORY_ANNOTATION, type SyncHistoryEntry } from '../src/core/history.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const cm = (name: string, key: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata: {"${key}": "x"}\n`;

describe('retries of a failed sync, and the history across a restart', () => {
  let w: AgentWorld;
  let agent: Agent;
  let url: string;
  let bad: string;
  const config = () => ({
    apps: [w.app('web', 'envs/dev/web', { interval: '5s', retry: { limit: 2, backoff: { duration: '1s' } } })],
  });

  before(async () => {
    w = await startAgentWorld({
      github: true,
      // A ConfigMap key may not hold a space: the apiserver refuses the object (422), the sync fails at apply.
      files: { 'envs/dev/web/ok.yaml': cm('ok', 'a'), 'envs/dev/web/bad.yaml': cm('bad', 'not a key') },
    });
    bad = await w.head();
    ({ agent, url } = await w.startAgent(config(), { server: {} }));
  });
  after(() => w?.stop());

  const syncs = (a: Agent = agent): SyncHistoryEntry[] => a.history('web')?.syncs ?? [];
  const attempts = (a: Agent = agent) => syncs(a).filter((e) => e.attempt !== undefined && e.revision === bad);

  test('limit 2: three attempts, the last status says it gave up, then the polls apply nothing', async () => {
    await waitFor(() => agent.app('web')?.retry?.retriesExhausted === true, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify({ retry: agent.app('web')?.retry, syncs: syncs() }, null, 1),
    });
    assert.deepEqual(
      attempts().map((e) => [e.attempt, e.error?.stage, e.counts.failed]),
      [
        [3, 'apply', 1],
        [2, 'apply', 1],
        [1, 'apply', 1],
      ],
    );
    assert.match(attempts()[0]!.error!.message, /ConfigMap\/default\/bad/);
    const view = (await (await fetch(`${url}/api/apps/web`)).json()) as AppView;
    assert.deepEqual(view.retry, {
      revision: bad,
      attempt: 3,
      limit: 2,
      retriesExhausted: true,
      message: 'gave up after 3 attempts; push a fix or sync by hand',
    });
    await agent.flushStatuses();
    const [status] = await w.statuses(bad, 'tether/dev/web');
    assert.equal(status?.state, 'failure');
    assert.match(
      status?.description ?? '',
      /^Sync failed: .* \(gave up after 3 attempts; push a fix or sync by hand\)$/,
    );
    assert.ok((status?.description?.length ?? 0) <= 140);

    // The interval keeps polling (two polls at least, folded into one waiting row) without applying the revision.
    await waitFor(() => (syncs()[0]?.waiting !== undefined && syncs()[0]!.repeats >= 1) || false, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(syncs().slice(0, 3), null, 1),
    });
    assert.match(syncs()[0]!.waiting!, /gave up after 3 attempts/);
    assert.equal(attempts().length, 3);
    assert.equal(agent.app('web')?.state.sync, 'OutOfSync');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^tether_app_sync_retries_exhausted\{app="web"\} 1$/m);

    // `tether status` runs no sync: it reads the retries from the history the agent persisted.
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: () => {} };
    await statusCommand.run(['--config', w.writeConfig('status', config()), '--json'], io);
    const [row] = JSON.parse(out.join('\n')) as StatusRow[];
    assert.equal(row?.retry?.retriesExhausted, true, out.join('\n'));
    assert.match(row?.message ?? '', /^last sync gave up after 3 attempts; push a fix or sync by hand/);
  });

  test('a manual sync applies the revision again and re-arms its retries', async () => {
    assert.deepEqual(agent.requestManualSync('web', 'tester'), { accepted: true });
    await waitFor(() => agent.app('web')?.retry?.retriesExhausted === true && attempts().length === 6, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify({ retry: agent.app('web')?.retry, syncs: syncs() }, null, 1),
    });
    assert.deepEqual(
      attempts().map((e) => [e.attempt, e.trigger]),
      [
        [3, 'poll'],
        [2, 'poll'],
        [1, 'api'],
        [3, 'poll'],
        [2, 'poll'],
        [1, 'start'],
      ],
    );
  });

  test('tether sync --once, from its own process, re-arms the retries of the running agent', async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (t: string) => err.push(t) };
    const code = await syncCommand.run(['--config', w.writeConfig('cli', config()), '--app', 'web', '--once'], io);
    assert.equal(code, 1, 'the revision still fails');
    assert.match(err.join('\n'), /apply failed: .*ConfigMap\/default\/bad/);
    // The running agent finds that sync on top of the persisted history at its next poll, takes it into its own
    // history (so its next write keeps it) and tries again.
    await waitFor(() => agent.app('web')?.retry?.retriesExhausted === true && attempts().length === 10, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify({ retry: agent.app('web')?.retry, syncs: syncs() }, null, 1),
    });
    assert.deepEqual(
      attempts()
        .slice(0, 4)
        .map((e) => [e.attempt, e.trigger]),
      [
        [3, 'poll'],
        [2, 'poll'],
        [1, 'poll'],
        [1, 'api'],
      ],
    );
  });

  test('a new commit fixing it syncs at its first poll, and clears the retries', async () => {
    const fixed = await w.commit({ 'envs/dev/web/bad.yaml': cm('bad', 'b') }, 'fix the key');
    await waitFor(() => agent.app('web')?.state.lastSync?.revision === fixed && !agent.app('web')?.retry, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify({ state: agent.app('web')?.state, retry: agent.app('web')?.retry }, null, 1),
    });
    const top = syncs().find((e) => !e.noop)!;
    assert.equal(top.revision, fixed);
    assert.equal(top.error, undefined);
    assert.equal(top.attempt, undefined);
    assert.ok(await w.get('/api/v1/namespaces/default/configmaps/bad'));
    assert.equal(agent.app('web')?.state.sync, 'Synced');
  });

  test('a restarted agent shows the syncs persisted on the ApplySet parent', async () => {
    const before = syncs().filter((e) => !e.noop);
    const parent = await w.get('/api/v1/namespaces/tether-system/configmaps/tether-web');
    const stored = JSON.parse(parent?.metadata.annotations?.[HISTORY_ANNOTATION] ?? '[]') as SyncHistoryEntry[];
    // The ten newest syncs that did something (nine attempts here, the fix); none of the idle polls were written.
    assert.equal(stored.length, 10, JSON.stringify(stored.map((e) => [e.revision.slice(0, 7), e.attempt])));
    assert.ok(stored.every((e) => !e.noop));
    // Its merge patch names Tether's field manager (without one the apiserver takes it from the User-Agent).
    const managers = (
      (parent?.metadata as { managedFields?: { manager: string; fieldsV1?: unknown }[] } | undefined)?.managedFields ??
      []
    )
      .filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes(`f:${HISTORY_ANNOTATION}`))
      .map((f) => f.manager);
    assert.deepEqual(managers, ['tether']);
    await agent.stop();

    const kube = new CountingKubeClient(w.client);
    const restarted = (await w.startAgent(config(), { kube })).agent;
    await waitFor(() => restarted.ready().ready, { timeoutMs: 30_000, describe: () => restarted.ready().reason ?? '' });
    const after = syncs(restarted).filter((e) => !e.noop);
    // The restart's own first sync finds the tree unchanged since nothing it knows was synced: it applies (all
    // unchanged) and goes on top; what came before is read back under it.
    const key = (e: SyncHistoryEntry) => `${e.startedAt}#${e.revision}#${e.attempt ?? ''}`;
    assert.deepEqual(after.slice(-stored.length).map(key), before.slice(0, stored.length).map(key));
    assert.equal(attempts(restarted).length, 9);
    // It changed nothing: no object, parent or history write (the newest persisted sync already says Synced); its
    // Synced Event (a POST) is the restarted process's first word on the app.
    const patches = () => (kube.requests.PATCH ?? 0) + (kube.requests.PUT ?? 0) + (kube.requests.DELETE ?? 0);
    assert.equal(patches(), 0, JSON.stringify(kube.requests));
    // Nor does a manual sync that changes nothing (beyond its SyncRequested Event).
    const manualAt = syncs(restarted).length;
    assert.deepEqual(restarted.requestManualSync('web', 'tester'), { accepted: true });
    await waitFor(() => syncs(restarted)[0]?.trigger === 'api' || syncs(restarted).length > manualAt + 1, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(syncs(restarted).slice(0, 2)),
    });
    assert.equal(syncs(restarted)[0]?.trigger, 'api');
    assert.equal(patches(), 0, JSON.stringify(kube.requests));

    // What keeping the history costs a sync that applies a change: one merge patch of the parent's annotation.
    const mergePatches = () =>
      (kube.requests.PATCH ?? 0) - (kube.requests.APPLY ?? 0) - (kube.requests.APPLY_DRYRUN ?? 0);
    const before2 = { merge: mergePatches(), apply: kube.requests.APPLY ?? 0 };
    const next = await w.commit({ 'envs/dev/web/ok.yaml': cm('ok', 'c') }, 'change ok');
    restarted.requestSync('web', 'webhook push');
    // The write follows the entry: wait for both.
    await waitFor(() => syncs(restarted).find((e) => !e.noop)?.revision === next && mergePatches() > before2.merge, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(syncs(restarted).slice(0, 2)),
    });
    assert.equal(mergePatches() - before2.merge, 1);
    assert.ok((kube.requests.APPLY ?? 0) - before2.apply >= 1, 'the changed ConfigMap was applied');
    // Idle polls after it write nothing at all.
    const writes = () => patches() + (kube.requests.POST ?? 0);
    const idle = writes();
    await waitFor(() => (syncs(restarted)[0]?.noop && syncs(restarted)[0]!.repeats >= 1) || false, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(syncs(restarted).slice(0, 2)),
    });
    assert.equal(writes() - idle, 0);
  });
});

describe('a tether sync --once that succeeded where the running agent gave up', () => {
  let w: AgentWorld;
  const config = () => ({ apps: [w.app('late', 'envs/dev/late', { interval: '5s', retry: { limit: 0 } })] });

  before(async () => {
    w = await startAgentWorld({
      github: true,
      // Its namespace does not exist (and createNamespace is off): the apply fails until someone creates it.
      files: {
        'envs/dev/late/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n  namespace: later\ndata: {a: x}\n',
      },
    });
  });
  after(() => w?.stop());

  test('is taken as the agent own sync: nothing applied again, the retries cleared, Synced', async () => {
    const kube = new CountingKubeClient(w.client);
    const { agent } = await w.startAgent(config(), { kube });
    await waitFor(() => agent.app('late')?.retry?.retriesExhausted === true, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.history('late')?.syncs.slice(0, 3), null, 1),
    });
    await w.createNamespace('later');
    const io = { out: () => {}, err: () => {} };
    const code = await syncCommand.run(['--config', w.writeConfig('cli', config()), '--app', 'late', '--once'], io);
    assert.equal(code, 0, 'the same revision applies now');
    const applies = kube.requests.APPLY ?? 0;
    await waitFor(() => agent.app('late')?.retry === undefined, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.history('late')?.syncs.slice(0, 3), null, 1),
    });
    assert.equal(kube.requests.APPLY ?? 0, applies, 'the running agent applied nothing (and ran no hook)');
    assert.equal(agent.app('late')?.state.sync, 'Synced');
    const top = agent.history('late')?.syncs.find((e) => !e.noop);
    assert.equal(top?.trigger, 'api', "the other process's sync is in the agent's history");
    assert.equal(top?.error, undefined);
  });
});
