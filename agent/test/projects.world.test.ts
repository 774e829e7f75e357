// Projects, sync windows and sync policies against a real apiserver, Git server and GitHub emulator: what a project
// refuses is never applied, a deny window holds automated syncs but lets a permitted manual one through, a manual
// app waits for someone to ask (and records who did), a suspended app does nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { appConfigSchema, projectSchema } from '../src/config.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const API_TOKEN = 'api-token-for-projects-test';
const cm = (name: string, namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}data:\n  k: v\n`;
const crb = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: team-a-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: team-a-web}]
`;

/** A cron schedule that opened a minute ago (UTC), so a window of an hour is open now whatever the time. */
function openedAMinuteAgo(): string {
  const t = new Date(Date.now() - 60_000);
  return `${t.getUTCMinutes()} ${t.getUTCHours()} * * *`;
}

describe('projects, sync windows and sync policies', () => {
  let w: AgentWorld;
  let agent: Agent;
  let agentUrl: string;
  let sha: string;

  before(async () => {
    // tether-system: where the agent runs and records its Events, as deploy/ creates it: a refused app writes no
    // ApplySet parent (which would create it), so its Refused event needs it to exist.
    w = await startAgentWorld({
      github: true,
      namespaces: ['tether-system'],
      files: {
        'envs/fenced/ok.yaml': cm('fine', 'team-a-web'),
        'envs/fenced/crb.yaml': crb,
        'envs/fenced/foreign.yaml': cm('sneaky', 'kube-system'),
        'envs/manual/cm.yaml': cm('manual-cm'),
        'envs/windowed/cm.yaml': cm('windowed-cm'),
        'envs/closed/cm.yaml': cm('closed-cm'),
        'envs/paused/cm.yaml': cm('paused-cm'),
        'envs/ghost/cm.yaml': cm('ghost-cm'),
        'envs/late/cm.yaml': cm('late-cm'),
        'envs/keeper/a.yaml': cm('keeper-a'),
        'envs/keeper/b.yaml': cm('keeper-b'),
      },
    });
    sha = await w.head();
    const app = (name: string, extra: Record<string, unknown> = {}) =>
      w.app(name, `envs/${name}`, { namespace: 'default', interval: '1h', ...extra });
    ({ agent, url: agentUrl } = await w.startAgent(
      {
        projects: [
          {
            name: 'team-a',
            sourceRepos: ['http://127.0.0.1:*/acme/*'],
            destinationNamespaces: ['team-a-*'],
          },
          { name: 'elsewhere', sourceRepos: ['https://github.com/other/*'] },
          { name: 'careful', prune: false, selfHeal: false },
          {
            name: 'night',
            syncWindows: [{ kind: 'deny', schedule: openedAMinuteAgo(), duration: '1h', manualSync: true }],
          },
          {
            name: 'frozen',
            syncWindows: [{ kind: 'deny', schedule: openedAMinuteAgo(), duration: '1h', manualSync: false }],
          },
        ],
        apps: [
          app('fenced', { project: 'team-a', namespace: 'team-a-web' }),
          app('foreign-repo', { project: 'elsewhere', path: 'envs/manual' }),
          app('ghost', { project: 'nope' }),
          app('manual', { syncPolicy: 'manual' }),
          app('windowed', { project: 'night' }),
          app('closed', { project: 'frozen' }),
          app('paused', { suspended: true }),
          app('late', { project: 'evening' }),
          app('keeper', { project: 'careful' }),
          // Refused, and its ref names no branch: no commit to report the refusal on.
          app('lost', { project: 'nowhere', ref: 'gone', path: 'envs/ghost' }),
        ],
      },
      { server: { apiToken: API_TOKEN }, start: false },
    ));
    // A project from another origin, as Project documents read from Git are: no windows yet.
    agent.setProjects('evening-docs', [projectSchema.parse({ name: 'evening' })]);
    await agent.start();
    await waitFor(() => agent.ready().ready, {
      timeoutMs: 120_000,
      describe: () => `not ready: ${agent.ready().reason}`,
    });
  });
  after(() => w?.stop());

  const exists = (path: string) => w.exists(path);
  const statuses = (app: string) => w.statuses(sha, `tether/dev/${app}`);
  type Event = { reason: string; message: string; involvedObject: { name: string } };
  /** Waits until the agent has recorded an Event in tether-system that `match` accepts. */
  const eventSeen = (match: (e: Event) => boolean, missing: string) =>
    waitFor(
      async () => {
        const r = await w.kube.request('GET', '/api/v1/namespaces/tether-system/events');
        return (r.body as { items: Event[] }).items.some(match);
      },
      { timeoutMs: 10_000, describe: () => missing },
    );
  const askSync = (app: string) =>
    fetch(`${agentUrl}/api/apps/${app}/sync`, { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}` } });

  test('a project refusing a ClusterRoleBinding and an object in a foreign namespace: nothing applied, failure names both', async () => {
    const a = agent.app('fenced')!;
    const refused = a.state.lastSync!.entries.filter((e) => e.action === 'refused');
    assert.deepEqual(refused.map((e) => e.subject).sort(), [
      'ClusterRoleBinding/team-a-admin',
      'ConfigMap/kube-system/sneaky',
    ]);
    const reasons = refused.map((e) => e.reason).sort();
    assert.deepEqual(reasons, [
      'project team-a: namespace kube-system is not in destinationNamespaces (team-a-*)',
      'project team-a: rbac.authorization.k8s.io/ClusterRoleBinding is cluster-scoped and not in clusterResourceAllowlist',
    ]);
    assert.equal(a.state.sync, 'OutOfSync');
    assert.match(a.state.lastSync!.error!.message, /refused, nothing was applied/);
    // Nothing at all was applied: not the refused objects, not the allowed one beside them.
    assert.equal(await exists('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/team-a-admin'), false);
    assert.equal(await exists('/api/v1/namespaces/kube-system/configmaps/sneaky'), false);
    assert.equal(await exists('/api/v1/namespaces/team-a-web/configmaps/fine'), false);
    await agent.flushStatuses();
    const [latest] = await statuses('fenced');
    assert.equal(latest?.state, 'failure');
    assert.match(
      latest!.description!,
      /ClusterRoleBinding\/team-a-admin, ConfigMap\/kube-system\/sneaky outside project team-a/,
    );
    // A cluster admin sees the attempt in the app's Events, each object with its rule.
    await eventSeen(
      (e) =>
        e.involvedObject.name === 'tether-fenced' &&
        e.reason === 'Refused' &&
        e.message.includes('ClusterRoleBinding/team-a-admin (project team-a:') &&
        e.message.includes('ConfigMap/kube-system/sneaky (project team-a:'),
      'no Refused event naming both objects',
    );
  });

  test('an app whose project forbids its repo, or names no defined project, is refused before any fetch', async () => {
    for (const [name, message] of [
      ['foreign-repo', /project elsewhere: repo http:\/\/127\.0\.0\.1:\d+\/acme\/env\.git is not in sourceRepos/],
      ['ghost', /project nope is not defined/],
    ] as const) {
      const a = agent.app(name)!;
      assert.equal(a.state.lastSync?.error?.stage, 'project', name);
      assert.match(a.state.lastSync!.error!.message, message);
      assert.ok(!a.state.revision, `${name} fetched nothing`);
      assert.match(a.policy?.projectProblem ?? '', message);
    }
    // Whoever waits on the commit (a promotion gate) sees why: `error` on the tip of the app's ref.
    await agent.flushStatuses();
    for (const [name, description] of [
      [
        'foreign-repo',
        /^Refused: project elsewhere: repo http:\/\/127\.0\.0\.1:\d+\/acme\/env\.git is not in sourceRepos/,
      ],
      ['ghost', /^Refused: project nope is not defined/],
    ] as const) {
      const posted = await statuses(name);
      assert.equal(posted.length, 1, `${name}: ${JSON.stringify(posted)}`);
      assert.equal(posted[0]?.state, 'error');
      assert.match(posted[0]!.description!, description);
      assert.ok(posted[0]!.description!.length <= 140);
      assert.equal(agent.history(name)?.syncs[0]?.revision, sha, 'the history row names the commit reported on');
    }
    // A ref that cannot be read gives no commit to post on: nothing is posted, the app still says why it is refused.
    const lost = agent.app('lost')!;
    assert.equal(lost.state.lastSync?.error?.stage, 'project');
    assert.match(lost.state.lastSync!.error!.message, /project nowhere is not defined/);
    assert.equal(agent.history('lost')?.syncs[0]?.status, undefined);
    assert.deepEqual(await statuses('lost'), []);
    // An App document from Git naming a repo its project refuses gets no token sent to that repo: the ref is listed
    // without credentials, which this server answers with 401 (and nothing is posted).
    const gitBefore0 = w.git.requests.length;
    const doc = appConfigSchema.parse(w.app('from-git', 'envs/manual', { project: 'elsewhere', namespace: 'default' }));
    agent.addApp(doc, await w.source('from-git'), 'repo@main:apps/from-git.yaml', 'apps');
    await waitFor(() => (agent.history('from-git')?.syncs.length ?? 0) > 0, {
      timeoutMs: 30_000,
      describe: () => 'the first turn of the App from Git',
    });
    assert.equal(agent.app('from-git')?.state.lastSync?.error?.stage, 'project');
    const listed = w.git.requests.slice(gitBefore0);
    assert.ok(listed.length > 0, 'the ref was asked for');
    assert.deepEqual(
      listed.map((q) => `${q.method} ${q.path.replace(/\?.*/, '')} ${q.status}`),
      listed.map(() => 'GET /acme/env.git/info/refs 401'),
      'asked without credentials only',
    );
    await agent.flushStatuses();
    assert.deepEqual(await statuses('from-git'), []);
    assert.ok(await agent.removeApp('from-git'));
    // Once per commit and refusal: later turns of the refused app post nothing more. The tip is read from the Git
    // server's ref listing alone (GETs of info/refs; no upload-pack, which would send objects).
    const turns = agent.history('ghost')!.syncs.length;
    const gitBefore = w.git.requests.length;
    assert.ok(agent.requestSync('ghost', 'test'));
    await waitFor(() => agent.history('ghost')!.syncs.length > turns, {
      timeoutMs: 30_000,
      describe: () => 'a second turn of the refused app',
    });
    await agent.flushStatuses();
    assert.equal((await statuses('ghost')).length, 1);
    assert.equal(agent.history('ghost')!.syncs[0]?.status, undefined, 'nothing asked for again');
    const asked = w.git.requests.slice(gitBefore).map((q) => `${q.method} ${q.path.replace(/\?.*/, '')}`);
    assert.ok(asked.length > 0, 'the ref was listed');
    assert.deepEqual(new Set(asked), new Set(['GET /acme/env.git/info/refs']), 'only the ref listing: nothing fetched');
    const res = await fetch(`${agentUrl}/api/projects`);
    const body = (await res.json()) as { projects: { name: string; apps: string[]; problem?: string }[] };
    const byName = new Map(body.projects.map((p) => [p.name, p]));
    assert.deepEqual(byName.get('team-a')?.apps, ['fenced']);
    assert.deepEqual(byName.get('default')?.apps, ['manual', 'paused']);
    assert.match(byName.get('nope')?.problem ?? '', /not defined/);
  });

  test('projects defined at runtime (as Project documents from Git are) re-check their apps at once', async () => {
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/ghost-cm'), false);
    agent.setProjects('apps-from-git', [projectSchema.parse({ name: 'nope', destinationNamespaces: ['default'] })]);
    await waitFor(() => exists('/api/v1/namespaces/default/configmaps/ghost-cm'), {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.app('ghost')?.state),
    });
    assert.equal(agent.app('ghost')?.policy?.projectProblem, undefined);
    const listed = (await (await fetch(`${agentUrl}/api/projects`)).json()) as {
      projects: { name: string; origin: string }[];
    };
    assert.equal(listed.projects.find((p) => p.name === 'nope')?.origin, 'apps-from-git');
    // The origin drops it again: the app is refused before its next fetch; what it applied stays (nothing prunes).
    agent.setProjects('apps-from-git', []);
    await waitFor(() => agent.app('ghost')?.state.lastSync?.error?.stage === 'project', {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.app('ghost')?.state),
    });
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/ghost-cm'), true);
  });

  test('a deny window holds an automated sync; a manual one goes through when the window allows it', async () => {
    const w = agent.app('windowed')!;
    assert.equal(w.state.sync, 'OutOfSync');
    assert.match(
      w.state.held ?? '',
      /^sync window deny until \d\d:\d\d UTC: 1 to apply$|^sync window deny until \d{4}-/,
    );
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/windowed-cm'), false);
    await agent.flushStatuses();
    assert.equal((await statuses('windowed'))[0]?.state, 'pending');
    assert.match((await statuses('windowed'))[0]!.description!, /^sync window deny until/);

    // The window that says manualSync: false refuses at once, and nothing is applied.
    const refused = await askSync('closed');
    assert.equal(refused.status, 409);
    assert.match(
      ((await refused.json()) as { error: string }).error,
      /sync window deny until .* does not allow manual syncs/,
    );

    const ok = await askSync('windowed');
    assert.equal(ok.status, 202);
    await waitFor(() => exists('/api/v1/namespaces/default/configmaps/windowed-cm'), {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.app('windowed')?.state),
    });
    await waitFor(() => agent.app('windowed')?.lastManualSync?.by === 'api', {
      timeoutMs: 10_000,
      describe: () => JSON.stringify(agent.app('windowed')?.lastManualSync),
    });
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/closed-cm'), false);
  });

  test('manual policy: OutOfSync and pending until asked through the API, then Synced with the requester recorded', async () => {
    const before = agent.app('manual')!;
    assert.equal(before.state.sync, 'OutOfSync');
    assert.equal(before.state.held, 'awaiting sync: 1 to apply');
    assert.equal(before.policy?.syncPolicy, 'manual');
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/manual-cm'), false);
    await agent.flushStatuses();
    const pending = await statuses('manual');
    assert.equal(pending[0]?.state, 'pending');
    assert.equal(pending[0]?.description, 'awaiting sync: 1 to apply');

    const res = await askSync('manual');
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { requestedBy: string }).requestedBy, 'api');
    await waitFor(
      () => agent.app('manual')?.state.sync === 'Synced' && !!agent.app('manual')?.lastManualSync?.revision,
      {
        timeoutMs: 60_000,
        describe: () => JSON.stringify(agent.app('manual')?.state),
      },
    );
    const after = agent.app('manual')!;
    assert.equal(after.state.held, undefined);
    assert.equal(after.lastManualSync?.by, 'api');
    assert.equal(after.lastManualSync?.revision, sha);
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/manual-cm'), true);
    await agent.flushStatuses();
    await waitFor(async () => (await statuses('manual'))[0]?.state === 'success', {
      timeoutMs: 30_000,
      describe: () => 'no success status on the manually synced commit',
    });
    // The Event on the app's ApplySet parent says who asked.
    await eventSeen(
      (e) => e.involvedObject.name === 'tether-manual' && e.reason === 'SyncRequested' && /by api/.test(e.message),
      'no SyncRequested event naming api',
    );
    // The page shows who asked.
    const page = await (await fetch(`${agentUrl}/apps/manual`)).text();
    assert.match(page, /asked by <strong>api<\/strong>/);
  });

  test('a suspended app does nothing, and a manual sync of it is refused', async () => {
    const a = agent.app('paused')!;
    assert.equal(a.state.held, 'suspended');
    assert.equal(a.state.revision, undefined);
    assert.equal(a.state.lastSync, undefined);
    assert.equal(a.policy?.suspended, true);
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/paused-cm'), false);
    const res = await askSync('paused');
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { error: string }).error, /suspended/);
    const index = await (await fetch(`${agentUrl}/`)).text();
    assert.match(index, /<h2>Project team-a<\/h2>/);
    assert.match(index, />suspended</);
  });

  test('a deny window opening after a sync holds the next revision: the synced commit keeps success, the new one is pending', async () => {
    await agent.flushStatuses();
    await waitFor(async () => (await statuses('late'))[0]?.state === 'success', {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.app('late')?.state),
    });
    agent.setProjects('evening-docs', [
      projectSchema.parse({
        name: 'evening',
        syncWindows: [{ kind: 'deny', schedule: openedAMinuteAgo(), duration: '1h', manualSync: false }],
      }),
    ]);
    assert.equal(agent.app('late')?.policy?.selfHeal, true);
    assert.match(agent.app('late')?.policy?.windowNow ?? '', /^sync window deny until/);
    const next = await w.commit({ 'envs/late/cm.yaml': cm('late-cm').replace('k: v', 'k: changed') }, 'late change');
    assert.ok(agent.requestSync('late', 'test push'));
    await waitFor(() => agent.app('late')?.state.revision === next && agent.app('late')?.state.held !== undefined, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.app('late')?.state),
    });
    const a = agent.app('late')!;
    assert.equal(a.state.sync, 'OutOfSync');
    assert.match(a.state.held!, /^sync window deny until .*: 1 to apply$/);
    assert.equal(a.state.lastSync?.revision, sha, 'the last sync is still the first commit');
    const live = await w.kube.request('GET', '/api/v1/namespaces/default/configmaps/late-cm');
    assert.deepEqual((live.body as { data: Record<string, string> }).data, { k: 'v' });
    // Self-heal is held too: a hand edit inside the window stays.
    await w.kube.request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/late-cm?fieldManager=kubectl-edit',
      { data: { k: 'by-hand' } },
      'application/merge-patch+json',
    );
    await new Promise((r) => setTimeout(r, 1500));
    const edited = await w.kube.request('GET', '/api/v1/namespaces/default/configmaps/late-cm');
    assert.deepEqual((edited.body as { data: Record<string, string> }).data, { k: 'by-hand' });
    await agent.flushStatuses();
    assert.equal((await statuses('late'))[0]?.state, 'success', 'the synced commit is still what the cluster runs');
    const onNext = await w.statuses(next, 'tether/dev/late');
    assert.equal(onNext[0]?.state, 'pending');
    assert.match(onNext[0]!.description!, /^sync window deny until .*: 1 to apply$/);
    // The API's diff is what a sync would apply.
    const body = (await (await fetch(`${agentUrl}/api/apps/late`)).json()) as { diff?: string };
    assert.match(body.diff ?? '', /\+\s+k: changed/);
  });

  test('a project that forbids prune and self-heal narrows its apps (both on in the app)', async () => {
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/keeper-b'), true);
    const policy = agent.app('keeper')!.policy!;
    assert.deepEqual([policy.prune, policy.selfHeal], [false, false]);
    // A hand edit is not healed: the app reports the drift instead.
    await w.kube.request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/keeper-a?fieldManager=kubectl-edit',
      { data: { k: 'by-hand' } },
      'application/merge-patch+json',
    );
    await waitFor(() => agent.app('keeper')?.state.sync === 'OutOfSync', {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.app('keeper')?.state),
    });
    const a = await w.kube.request('GET', '/api/v1/namespaces/default/configmaps/keeper-a');
    assert.deepEqual((a.body as { data: Record<string, string> }).data, { k: 'by-hand' });
    // Git drops b: the sync does not prune it.
    await w.commit({ 'envs/keeper/b.yaml': null }, 'drop b');
    const n = agent.metrics.syncDurationSeconds.get('keeper')?.count ?? 0;
    assert.ok(agent.requestSync('keeper', 'test push'));
    await waitFor(() => (agent.metrics.syncDurationSeconds.get('keeper')?.count ?? 0) > n, {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.app('keeper')?.state),
    });
    // Git no longer has it (so a prune would delete it), and it is still there.
    assert.deepEqual(
      agent.app('keeper')!.resources.map((r) => r.subject),
      ['ConfigMap/default/keeper-a'],
    );
    assert.equal(await exists('/api/v1/namespaces/default/configmaps/keeper-b'), true);
    assert.ok(!agent.app('keeper')!.state.lastSync!.entries.some((e) => e.action === 'pruned'));
  });
});
