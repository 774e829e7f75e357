// Apps defined in Git, against the real thing: a kube-apiserver, the Git smart-HTTP server and the GitHub emulator.
// One agent reads two app sources (Tether App documents in acme/env, an Argo CD app-of-apps repo in acme/argo) and
// runs what they define; each test changes Git and checks the cluster, the agent and the commit statuses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { statusCommand } from '../../cli/agent.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { ORPHANED_ANNOTATION } from '../src/reconcile/remove-app.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const SECRET = 'apps-from-git-webhook-secret';
const cm = (name: string, v = '1') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {v: "${v}"}\n`;
const app = (name: string, path: string, extra = '') =>
  `apiVersion: tether.dev/v1alpha1\nkind: App\nmetadata:\n  name: ${name}\nspec:\n  source: {path: ${path}}\n  namespace: default\n  interval: 1h\n${extra}`;
const argoApp = (
  name: string,
  path: string,
  destination = 'server: https://kubernetes.default.svc',
) => `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ${name}
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source: {repoURL: "REPO", targetRevision: HEAD, path: ${path}}
  destination: {${destination}, namespace: default}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
`;

/** A PreDelete Job as Argo CD users write one. */
const preDeleteJob = (name: string) => `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  annotations: {argocd.argoproj.io/hook: PreDelete, argocd.argoproj.io/hook-delete-policy: BeforeHookCreation}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "ghcr.io/acme/drain:1.0.0"}]
`;

describe('apps defined in Git', () => {
  let w: AgentWorld;
  let agent: Agent;
  let config: Record<string, unknown>;
  const makeAgent = () => w.createAgent(config);

  before(async () => {
    w = await startAgentWorld({
      github: true,
      files: { 'apps/web.yaml': app('web', 'envs/web'), 'envs/web/cm.yaml': cm('web-cm') },
    });
    const argoUrl = w.cloneUrl('acme/argo');
    // An Argo CD app-of-apps repo as Argo CD users have it: a root Application pointing at a directory of child
    // Applications, one of them for another cluster.
    await w.createRepo('acme/argo', {
      'bootstrap/root.yaml': argoApp('argo-root', 'apps').replace('REPO', argoUrl),
      'apps/guestbook.yaml': argoApp('guestbook', 'manifests/guestbook').replace('REPO', argoUrl),
      'apps/prod-only.yaml': argoApp('prod-only', 'manifests/prod-only', 'name: prod').replace('REPO', argoUrl),
      'manifests/guestbook/cm.yaml': cm('guestbook-cm'),
      'manifests/prod-only/cm.yaml': cm('prod-only-cm'),
    });
    config = {
      appsFrom: [
        { repo: w.cloneUrl('acme/env'), path: 'apps', interval: '1h' },
        { name: 'argo', repo: argoUrl, path: 'bootstrap', interval: '1h' },
      ],
    };
    ({ agent } = await w.startAgent(config, { server: { webhookSecret: SECRET } }));
  });
  after(() => w?.stop());

  const head = (repo: string) => w.head(repo);
  const commit = (files: Record<string, string | null>, message: string) => w.commit(files, message);
  const status = async (repo: string, sha: string, context: string) =>
    (await w.statuses(sha, context, `acme/${repo}`))[0];
  const configMap = (name: string, namespace = 'default') =>
    w.kube.request('GET', `/api/v1/namespaces/${namespace}/configmaps/${name}`);
  const exists = async (name: string, namespace = 'default') => (await configMap(name, namespace)).status === 200;
  const synced = (name: string) => agent.app(name)?.state.sync === 'Synced';
  const sources = () => JSON.stringify(agent.appSources(), null, 1);
  const refresh = (name = 'apps') => assert.ok(agent.requestSourceSync(name, 'test'));

  // The Job controller's last status write: the terminal condition follows the one that decided it.
  const finishJob = async (jobPath: string, outcome: 'Complete' | 'Failed') => {
    let uid = '';
    await waitFor(
      async () => {
        const got = await w.kube.request('GET', jobPath);
        const meta = (got.body as { metadata?: { uid?: string; deletionTimestamp?: string } }).metadata;
        uid = got.status === 200 && !meta?.deletionTimestamp ? (meta?.uid ?? '') : '';
        return uid !== '';
      },
      { timeoutMs: 60_000, describe: () => `no PreDelete Job yet; sources: ${sources()}` },
    );
    const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const cond = (type: string) => ({ type, status: 'True', lastProbeTime: t, lastTransitionTime: t });
    const status =
      outcome === 'Complete'
        ? {
            startTime: t,
            completionTime: t,
            succeeded: 1,
            conditions: [cond('SuccessCriteriaMet'), cond('Complete')],
          }
        : {
            startTime: t,
            failed: 1,
            conditions: [
              { ...cond('FailureTarget'), reason: 'BackoffLimitExceeded', message: 'drain refused' },
              { ...cond('Failed'), reason: 'BackoffLimitExceeded', message: 'drain refused' },
            ],
          };
    const res = await w.kube.request(
      'PATCH',
      `${jobPath}/status`,
      { metadata: { uid }, status },
      'application/merge-patch+json',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return uid;
  };

  test('the Apps of a source run, each showing where it is defined, and the source posts its own status', async () => {
    await waitFor(async () => synced('web') && (await exists('web-cm')), {
      timeoutMs: 60_000,
      describe: () => `web: ${JSON.stringify(agent.app('web')?.state)}; sources: ${sources()}`,
    });
    assert.equal(agent.app('web')!.origin, `${w.cloneUrl('acme/env')}@main:apps/web.yaml`);
    const sha = await head('acme/env');
    await agent.flushStatuses();
    await waitFor(async () => (await status('env', sha, 'tether/dev/apps'))?.state === 'success', {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    assert.equal((await status('env', sha, 'tether/dev/apps'))!.description, '1 app, 0 projects');
    // Its inventory records which source defines it (the source's name and a hash of repo, ref and path).
    const parent = (await configMap('tether-web', 'tether-system')).body as {
      metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
    };
    assert.match(parent.metadata.labels?.['tether.dev/app-source'] ?? '', /^apps\.[0-9a-f]{12}$/);
    assert.equal(parent.metadata.annotations?.['tether.dev/deletion-policy'], 'orphan');
  });

  test('an App merged into the apps path is synced without a restart (the push webhook wakes the source)', async () => {
    await w.gh.repos.createOrUpdateFileContents({
      owner: 'acme',
      repo: 'env',
      path: 'apps/api.yaml',
      message: 'add api',
      content: Buffer.from(app('api', 'envs/api')).toString('base64'),
    });
    await commit({ 'envs/api/cm.yaml': cm('api-cm') }, 'api manifests');
    // The source polls hourly: only the webhook can have read the new App this soon. The manifests landed a moment
    // later; the new app's first sync reads whatever is newest.
    await waitFor(async () => synced('api') && (await exists('api-cm')), {
      timeoutMs: 60_000,
      describe: () => `api: ${JSON.stringify(agent.app('api')?.state)}; sources: ${sources()}`,
    });
    assert.ok(synced('web'), 'web kept running');
  });

  test('an App removed with the default policy is orphaned: its objects stay, its inventory is marked', async () => {
    await commit({ 'apps/api.yaml': null }, 'remove api');
    refresh();
    // The app stops before its removal is written to the cluster (the orphan mark, then the definition mark
    // released): wait for all of it, then check each part.
    const orphaned = async () => {
      const body = JSON.stringify((await configMap('tether-api', 'tether-system')).body);
      return body.includes(ORPHANED_ANNOTATION) && !body.includes('tether.dev/app-source');
    };
    await waitFor(async () => agent.app('api') === undefined && (await orphaned()), {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    assert.ok(await exists('api-cm'), 'the orphaned ConfigMap is still there');
    const parent = await configMap('tether-api', 'tether-system');
    assert.equal(parent.status, 200);
    const { annotations, labels } = (
      parent.body as { metadata: { annotations?: Record<string, string>; labels?: Record<string, string> } }
    ).metadata;
    assert.equal(labels?.['tether.dev/app-source'], undefined, 'the removal is done: no source claims it any more');
    assert.ok(annotations?.[ORPHANED_ANNOTATION], JSON.stringify(annotations));
    assert.ok(!Number.isNaN(Date.parse(annotations![ORPHANED_ANNOTATION]!)));
    assert.match(annotations!['tether.dev/orphaned-reason'] ?? '', /apps\/api\.yaml/);
  });

  test('an App removed with deletionPolicy cascade takes its objects with it, through the prune guardrails', async () => {
    await commit(
      {
        'apps/tmp.yaml': app('tmp', 'envs/tmp', '  deletionPolicy: cascade\n'),
        'envs/tmp/a.yaml': cm('tmp-a'),
        'envs/tmp/b.yaml': `${cm('tmp-kept')}`.replace(
          'metadata:\n',
          'metadata:\n  annotations: {tether.dev/prune: disabled}\n',
        ),
      },
      'add tmp',
    );
    refresh();
    await waitFor(async () => synced('tmp') && (await exists('tmp-a')) && (await exists('tmp-kept')), {
      timeoutMs: 60_000,
      describe: () => `tmp: ${JSON.stringify(agent.app('tmp')?.state)}; sources: ${sources()}`,
    });
    await commit({ 'apps/tmp.yaml': null }, 'remove tmp');
    refresh();
    await waitFor(async () => agent.app('tmp') === undefined && !(await exists('tmp-a')), {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    // The object marked to be kept stays, and so does the inventory that still lists it (marked orphaned).
    assert.ok(await exists('tmp-kept'), 'tether.dev/prune: disabled kept the object');
    const parent = await configMap('tether-tmp', 'tether-system');
    assert.equal(parent.status, 200);
    assert.match(JSON.stringify(parent.body), /tmp-kept/);
    assert.doesNotMatch(JSON.stringify(parent.body), /tmp-a/);
  });

  test('a cascade of an app whose every object may go deletes its inventory too', async () => {
    await commit(
      { 'apps/gone.yaml': app('gone', 'envs/gone', '  deletionPolicy: cascade\n'), 'envs/gone/a.yaml': cm('gone-a') },
      'add gone',
    );
    refresh();
    await waitFor(async () => synced('gone') && (await exists('gone-a')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    await commit({ 'apps/gone.yaml': null }, 'remove gone');
    refresh();
    await waitFor(async () => !(await exists('gone-a')) && !(await exists('tether-gone', 'tether-system')), {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
  });

  test('a cascade runs the PreDelete Job first (a failed one stops it), PostDelete after; Delete=false is let go', async () => {
    // A PreDelete Job as Argo CD users write one. In this API-only world no controller runs Jobs, so the test
    // finishes each hook Job itself by writing its status as the Job controller would.
    const preDelete = preDeleteJob('hooked-drain');
    const postDelete = cm('hooked-post').replace(
      'metadata:\n',
      'metadata:\n  annotations: {helm.sh/hook: post-delete}\n',
    );
    const letGo = cm('hooked-letgo').replace(
      'metadata:\n',
      'metadata:\n  annotations: {argocd.argoproj.io/sync-options: Delete=false}\n',
    );
    await commit(
      {
        'apps/hooked.yaml': app('hooked', 'envs/hooked', '  deletionPolicy: cascade\n'),
        'envs/hooked/a.yaml': cm('hooked-a'),
        'envs/hooked/letgo.yaml': letGo,
        'envs/hooked/hooks.yaml': `${preDelete}---\n${postDelete}`,
      },
      'add hooked',
    );
    refresh();
    await waitFor(async () => synced('hooked') && (await exists('hooked-a')) && (await exists('hooked-letgo')), {
      timeoutMs: 60_000,
      describe: () => `hooked: ${JSON.stringify(agent.app('hooked')?.state)}; sources: ${sources()}`,
    });
    const jobPath = '/apis/batch/v1/namespaces/default/jobs/hooked-drain';
    assert.equal((await w.kube.request('GET', jobPath)).status, 404, 'a deletion hook does not run on sync');
    assert.equal(await exists('hooked-post'), false);

    // A failed PreDelete hook stops the cascade: nothing deleted, the inventory kept, the source says why.
    await commit({ 'apps/hooked.yaml': null }, 'remove hooked');
    refresh();
    const firstJob = await finishJob(jobPath, 'Failed');
    await waitFor(() => /removal of app hooked failed/.test(sources()), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    assert.equal(agent.app('hooked'), undefined);
    assert.match(
      sources(),
      /PreDelete hook Job\/default\/hooked-drain failed: drain refused; nothing of the app was deleted/,
    );
    assert.ok(await exists('hooked-a'), 'nothing pruned after a failed PreDelete hook');
    assert.ok(await exists('hooked-letgo'));
    assert.equal(await exists('hooked-post'), false, 'PostDelete does not run when PreDelete failed');
    const parent = await configMap('tether-hooked', 'tether-system');
    assert.equal(parent.status, 200);
    assert.match(JSON.stringify(parent.body), /hooked-a/);

    // The next read retries: the hook runs again (a new Job), succeeds, and the cascade goes through.
    refresh();
    await waitFor(
      async () => {
        const got = await w.kube.request('GET', jobPath);
        return got.status === 200 && (got.body as { metadata: { uid: string } }).metadata.uid !== firstJob;
      },
      { timeoutMs: 60_000, describe: () => `the PreDelete Job was not created again; sources: ${sources()}` },
    );
    await finishJob(jobPath, 'Complete');
    await waitFor(async () => !(await exists('hooked-a')) && (await exists('hooked-post')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    // Delete=false: left in place and let go, so the inventory, with nothing left in it, is deleted.
    assert.ok(await exists('hooked-letgo'), 'Delete=false kept the object on a cascade');
    await waitFor(async () => !(await exists('tether-hooked', 'tether-system')), {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    assert.doesNotMatch(sources(), /removal of app hooked failed/);
  });

  test('app of apps, two levels deep: the leaves run, the parents are expanded', async () => {
    await commit(
      {
        'apps/team.yaml': app('team', 'nested/team'),
        'nested/team/mid.yaml': app('mid', 'nested/mid'),
        'nested/mid/leaf.yaml': app('leaf', 'envs/leaf'),
        'envs/leaf/cm.yaml': cm('leaf-cm'),
      },
      'app of apps',
    );
    refresh();
    await waitFor(async () => synced('leaf') && (await exists('leaf-cm')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    assert.equal(agent.app('team'), undefined, 'a parent is not run as an app');
    assert.equal(agent.app('mid'), undefined);
    const view = agent.appSources().find((s) => s.name === 'apps')!;
    assert.deepEqual(view.parents, ['team', 'mid']);
    assert.equal(agent.app('leaf')!.origin, `${w.cloneUrl('acme/env')}@main:nested/mid/leaf.yaml`);
  });

  test('an Argo CD app-of-apps repo runs unchanged; an Application for another cluster is skipped with a note', async () => {
    await waitFor(async () => synced('guestbook') && (await exists('guestbook-cm')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    assert.equal(agent.app('prod-only'), undefined);
    assert.ok(!(await exists('prod-only-cm')));
    const view = agent.appSources().find((s) => s.name === 'apps-argo')!;
    assert.deepEqual(view.parents, ['argo-root']);
    assert.ok(
      view.notes.some((n) =>
        /apps\/prod-only\.yaml: Application\/prod-only: skipped: destination\.name "prod"/.test(n),
      ),
      view.notes.join('\n'),
    );
    const g = agent.appSync('guestbook')!;
    assert.equal(g.app.prune.enabled, true);
    const sha = await head('acme/argo');
    await agent.flushStatuses();
    await waitFor(async () => (await status('argo', sha, 'tether/dev/apps-argo'))?.state === 'success', {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    assert.equal((await status('argo', sha, 'tether/dev/apps-argo'))!.description, '1 app, 0 projects, 1 skipped');
  });

  test('an invalid App document fails the source status naming file and field; the other apps keep running', async () => {
    const sha = await commit({ 'apps/bad.yaml': app('bad', 'envs/bad', '  prune: sometimes\n') }, 'bad app');
    refresh();
    await agent.flushStatuses();
    await waitFor(async () => (await status('env', sha, 'tether/dev/apps'))?.state === 'failure', {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    const s = await status('env', sha, 'tether/dev/apps');
    assert.match(s!.description ?? '', /^apps\/bad\.yaml: App\/bad: spec\.prune: /);
    assert.equal(agent.app('bad'), undefined);
    // The others keep syncing: web answers a sync request with a sync.
    const before = agent.metrics.syncDurationSeconds.get('web')?.count ?? 0;
    assert.ok(agent.requestSync('web', 'test'));
    await waitFor(() => (agent.metrics.syncDurationSeconds.get('web')?.count ?? 0) > before && synced('web'), {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.app('web')?.state),
    });
    assert.ok(synced('leaf') && synced('guestbook'));
    await commit({ 'apps/bad.yaml': null }, 'drop bad app');
  });

  test('a name defined twice is refused in both places, with a message naming both; fixing it restores the app', async () => {
    const sha = await commit({ 'apps/web-again.yaml': app('web', 'envs/web') }, 'web twice');
    refresh();
    await waitFor(() => agent.app('web') === undefined, { timeoutMs: 30_000, describe: () => sources() });
    assert.ok(await exists('web-cm'), 'a refusal touches nothing in the cluster');
    await agent.flushStatuses();
    await waitFor(async () => (await status('env', sha, 'tether/dev/apps'))?.state === 'failure', {
      timeoutMs: 30_000,
      describe: () => sources(),
    });
    const view = agent.appSources().find((s) => s.name === 'apps')!;
    const message = view.errors.find((e) => e.startsWith('app web is defined 2 times'));
    assert.ok(message, view.errors.join('\n'));
    assert.match(message!, /apps\/web\.yaml/);
    assert.match(message!, /apps\/web-again\.yaml/);
    assert.match((await status('env', sha, 'tether/dev/apps'))!.description ?? '', /app web is defined 2 times/);

    await commit({ 'apps/web-again.yaml': null }, 'web once');
    refresh();
    await waitFor(() => synced('web'), { timeoutMs: 60_000, describe: () => sources() });
  });

  test('tether status lists the apps defined in Git with where each is defined', async () => {
    const file = w.writeConfig('status', {
      github: { gitTokenFile: w.tokenFile() },
      appsFrom: [{ repo: w.cloneUrl('acme/env'), path: 'apps' }],
    });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    const code = await statusCommand.run(['--config', file, '--json'], io);
    assert.equal(code, 0, err.join('\n') + out.join('\n'));
    const rows = JSON.parse(out.join('\n')) as { app: string; origin: string; sync: string }[];
    const web = rows.find((r) => r.app === 'web');
    assert.equal(web?.origin, `${w.cloneUrl('acme/env')}@main:apps/web.yaml`);
    assert.equal(web?.sync, 'Synced');
    assert.ok(rows.some((r) => r.app === 'leaf'));
    out.length = 0;
    assert.equal(await statusCommand.run(['--config', file, '--app', 'leaf'], io), 0, err.join('\n'));
    assert.match(out.join('\n'), /^leaf\s+[0-9a-f]{7}\s+Synced\s+Healthy\s+automated\s+git:nested\/mid\/leaf\.yaml/m);
  });

  test('an App removed while the agent was down is still cascaded when it comes back (its inventory remembers)', async () => {
    await commit(
      { 'apps/late.yaml': app('late', 'envs/late', '  deletionPolicy: cascade\n'), 'envs/late/a.yaml': cm('late-a') },
      'add late',
    );
    refresh();
    await waitFor(async () => synced('late') && (await exists('late-a')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    await agent.stop();
    await commit({ 'apps/late.yaml': null }, 'remove late while the agent is down');
    agent = await makeAgent();
    await agent.start();
    await waitFor(async () => !(await exists('late-a')) && !(await exists('tether-late', 'tether-system')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    // The orphaned app of an earlier test is not removed a second time, and the others run again.
    assert.ok(await exists('api-cm'));
    await waitFor(() => synced('web') && synced('leaf'), { timeoutMs: 60_000, describe: () => sources() });
  });
  test('a PreDelete hook still runs when the App was removed while the agent was down (rendered again from Git)', async () => {
    await commit(
      {
        'apps/drained.yaml': app('drained', 'envs/drained', '  deletionPolicy: cascade\n'),
        'envs/drained/a.yaml': cm('drained-a'),
        'envs/drained/hooks.yaml': preDeleteJob('drained-drain'),
      },
      'add drained',
    );
    refresh();
    await waitFor(async () => synced('drained') && (await exists('drained-a')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    const synced1 = agent.app('drained')?.state.revision;
    await agent.stop();
    // The App and its manifests go in one commit: the hook exists only at the revision the app last synced.
    await commit(
      { 'apps/drained.yaml': null, 'envs/drained/a.yaml': null, 'envs/drained/hooks.yaml': null },
      'remove drained while the agent is down',
    );
    const parent = await configMap('tether-drained', 'tether-system');
    assert.equal(
      (parent.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
        'tether.dev/synced-revision'
      ],
      synced1,
    );
    agent = await makeAgent();
    await agent.start();
    const jobPath = '/apis/batch/v1/namespaces/default/jobs/drained-drain';
    await waitFor(async () => (await w.kube.request('GET', jobPath)).status === 200, {
      timeoutMs: 60_000,
      describe: () => `the PreDelete Job did not run; sources: ${sources()}`,
    });
    // The cascade waits on the hook: nothing of the app is deleted while it runs.
    assert.ok(await exists('drained-a'), 'members are deleted only after the PreDelete hook finished');
    await finishJob(jobPath, 'Complete');
    await waitFor(async () => !(await exists('drained-a')) && !(await exists('tether-drained', 'tether-system')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    const job = await w.kube.request('GET', jobPath);
    assert.equal(job.status, 200, 'the PreDelete Job ran and stays (BeforeHookCreation)');
    assert.match(JSON.stringify(job.body), /"type":"Complete"/);
  });

  test('a cascade whose hooks Git no longer has is refused, with an Event, until the override annotation', async () => {
    await commit(
      { 'apps/lost.yaml': app('lost', 'envs/lost', '  deletionPolicy: cascade\n'), 'envs/lost/a.yaml': cm('lost-a') },
      'add lost',
    );
    refresh();
    await waitFor(async () => synced('lost') && (await exists('lost-a')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
    await agent.stop();
    // The synced revision is gone from the branch's history (as after a force-push).
    const parentPath = '/api/v1/namespaces/tether-system/configmaps/tether-lost';
    const annotate = (annotations: Record<string, string>) =>
      w.kube.request('PATCH', parentPath, { metadata: { annotations } }, 'application/merge-patch+json');
    assert.equal((await annotate({ 'tether.dev/synced-revision': 'f'.repeat(40) })).status, 200);
    await commit({ 'apps/lost.yaml': null }, 'remove lost while the agent is down');
    agent = await makeAgent();
    await agent.start();
    await waitFor(() => /removal of app lost failed .*cascade refused/.test(sources()), {
      timeoutMs: 120_000,
      describe: () => sources(),
    });
    assert.match(sources(), /tether\.dev\/cascade-without-hooks=true/);
    assert.ok(await exists('lost-a'), 'nothing deleted while the hooks are unknown');
    const refusedEvents = async () => {
      const events = await w.kube.request('GET', '/api/v1/namespaces/tether-system/events');
      return (events.body as { items: { reason: string; involvedObject: { name: string } }[] }).items.filter(
        (e) => e.reason === 'CascadeRefused' && e.involvedObject.name === 'tether-lost',
      ).length;
    };
    assert.equal(await refusedEvents(), 1, 'a CascadeRefused Event on the inventory');
    // Later reads of the idle source hold the refusal: no fetch and render again, no Event for each read.
    for (let i = 0; i < 2; i++) {
      const before = agent.appSources().find((s) => s.name === 'apps')?.at;
      refresh();
      await waitFor(() => agent.appSources().find((s) => s.name === 'apps')?.at !== before, {
        timeoutMs: 60_000,
        describe: () => sources(),
      });
    }
    assert.equal(await refusedEvents(), 1, 'one Event for the refusal, not one per read');
    assert.ok(await exists('lost-a'));

    assert.equal((await annotate({ 'tether.dev/cascade-without-hooks': 'true' })).status, 200);
    refresh();
    await waitFor(async () => !(await exists('lost-a')) && !(await exists('tether-lost', 'tether-system')), {
      timeoutMs: 60_000,
      describe: () => sources(),
    });
  });
});
