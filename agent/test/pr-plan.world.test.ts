// Plans on pull requests against a real apiserver, a real Git server and the GitHub emulator: the pull_request
// webhook starts a plan, the plan status lands on the PR head, one comment per agent is kept up to date, and the
// apiserver's own write counters show that planning wrote nothing to the cluster.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Octokit } from '@octokit/rest';
import { apiserverWrites, writesBetween } from '../../testenv/src/apiserver-writes.ts';
import type { HookRecord } from '../../testenv/src/github/state.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import type { Renderer } from '../src/core/desired-state.ts';
import { toolRenderer } from '../src/edges/render/render.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const SECRET = 'webhook-secret-for-plan-tests';
const REPO = { owner: 'acme', repo: 'env' };
const DIR = 'envs/dev/web';
const CONTEXT = 'tether/dev/web/plan';
const MARKER = '<!-- tether-plan:dev -->';

const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n';
const deploy = (image: string, replicas = 2) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "${image}"}]
`;
const cm = (i: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-${i}\n  namespace: web\ndata:\n  n: "${i}"\n`;
const CONFIGMAPS = [1, 2, 3, 4, 5];

/** Pull requests on the env repo through the emulator's API, and the plan statuses on their heads. */
function pullRequests(gh: () => Octokit) {
  /** A branch off main with `files` changed (null deletes), through the Git data API: pushes announce themselves. */
  const commitTo = async (branch: string, files: Record<string, string | null>, create: boolean) => {
    const parent = (await gh().git.getRef({ ...REPO, ref: `heads/${create ? 'main' : branch}` })).data.object.sha;
    const baseTree = (await gh().git.getCommit({ ...REPO, commit_sha: parent })).data.tree.sha;
    const tree = await gh().git.createTree({
      ...REPO,
      base_tree: baseTree,
      tree: Object.entries(files).map(([path, content]) =>
        content === null
          ? { path, mode: '100644' as const, type: 'blob' as const, sha: null }
          : { path, mode: '100644' as const, type: 'blob' as const, content },
      ),
    });
    const commit = await gh().git.createCommit({
      ...REPO,
      message: `change ${branch}`,
      tree: tree.data.sha,
      parents: [parent],
    });
    if (create) await gh().git.createRef({ ...REPO, ref: `refs/heads/${branch}`, sha: commit.data.sha });
    else await gh().git.updateRef({ ...REPO, ref: `heads/${branch}`, sha: commit.data.sha });
    return commit.data.sha;
  };
  const openPull = async (branch: string, files: Record<string, string | null>) => {
    const sha = await commitTo(branch, files, true);
    const pr = await gh().pulls.create({ ...REPO, title: branch, head: branch, base: 'main' });
    return { number: pr.data.number, sha };
  };
  /** The newest plan status of `context` on `sha`, once it is no longer pending. */
  const planVerdict = async (sha: string, context = CONTEXT) => {
    let latest: { state: string; description?: string | null } | undefined;
    await waitFor(
      async () => {
        const all = (await gh().repos.listCommitStatusesForRef({ ...REPO, ref: sha, per_page: 100 })).data;
        latest = all.find((s) => s.context === context);
        return latest !== undefined && latest.state !== 'pending';
      },
      { timeoutMs: 60_000, describe: () => `plan status on ${sha.slice(0, 7)}: ${JSON.stringify(latest)}` },
    );
    return latest!;
  };
  return { commitTo, openPull, planVerdict };
}

describe('plans on pull requests', () => {
  let w: AgentWorld;
  let gh: Octokit;
  let agent: Agent;
  let writesBefore: Map<string, number>;
  let hook: HookRecord;
  /** While set, renders wait for it: a plan can be held in the middle, as a slow chart would hold it. */
  let renderGate: Promise<void> | undefined;
  let rendersHeld = 0;
  const renderer: Renderer = {
    async render(files, repoFiles, options) {
      if (renderGate) {
        rendersHeld++;
        await renderGate;
      }
      return toolRenderer.render(files, repoFiles, options);
    },
  };

  const { commitTo, openPull, planVerdict } = pullRequests(() => gh);
  const planComments = async (number: number) =>
    (await gh.paginate(gh.issues.listComments, { ...REPO, issue_number: number })).filter((c) =>
      c.body?.startsWith(MARKER),
    );

  before(async () => {
    w = await startAgentWorld({
      github: true,
      files: {
        [`${DIR}/namespace.yaml`]: ns,
        [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.0.0'),
        ...Object.fromEntries(CONFIGMAPS.map((i) => [`${DIR}/cm-${i}.yaml`, cm(i)])),
        'envs/dev/other/readme.txt': 'not an app of this agent\n',
      },
    });
    gh = w.gh;
    const running = await w.startAgent(
      {
        // One plan at a time, so the limit itself is seen working.
        planning: { concurrency: 1 },
        apps: [w.app('web', DIR, { namespace: 'web', interval: '1h', planPullRequests: true })],
      },
      { pollPullRequests: false, renderer, server: { webhookSecret: SECRET }, hookEvents: ['push', 'pull_request'] },
    );
    agent = running.agent;
    hook = running.hook!;
    // The synced state the plans are judged against: main applied, statuses posted, events recorded.
    await waitFor(() => agent.app('web')?.state.lastSync !== undefined && !agent.app('web')?.state.lastSync?.error, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.app('web')?.state),
    });
    await agent.flushStatuses();
    await agent.planner!.idle();
    await new Promise((r) => setTimeout(r, 500));
    writesBefore = await apiserverWrites(w.kube);
  });
  after(() => w?.stop());

  let bump: { number: number; sha: string };

  test('a PR bumping an image: plan success with the count, and one comment whose diff shows the image line', async () => {
    bump = await openPull('bump-web', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.1.0') });
    const status = await planVerdict(bump.sha);
    assert.deepEqual([status.state, status.description], ['success', '1 to change']);
    await agent.planner!.idle();
    const comments = await planComments(bump.number);
    assert.equal(comments.length, 1);
    const body = comments[0]!.body!;
    assert.match(body, /\| `web` \| ✅ 1 to change \| 0 \| 1 \| 0 \| 6 \|/);
    assert.match(body, /^-\s+- image: ghcr\.io\/acme\/web:1\.0\.0$/m);
    assert.match(body, /^\+\s+- image: ghcr\.io\/acme\/web:1\.1\.0$/m);
    assert.match(body, /<details>/);
  });

  test('a second push updates the same comment in place (still exactly one) and plans the new head', async () => {
    const second = await commitTo('bump-web', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.2.0') }, false);
    const status = await planVerdict(second);
    assert.equal(status.state, 'success');
    await agent.planner!.idle();
    const comments = await planComments(bump.number);
    assert.equal(comments.length, 1, comments.map((c) => c.id).join(','));
    assert.match(comments[0]!.body!, /^\+\s+- image: ghcr\.io\/acme\/web:1\.2\.0$/m);
    assert.match(comments[0]!.body!, new RegExp(second.slice(0, 7)));
  });

  test('a manifest the apiserver rejects fails the plan, naming the object and the field', async () => {
    const pr = await openPull('bad-replicas', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.1.0', -1) });
    const status = await planVerdict(pr.sha);
    assert.equal(status.state, 'failure');
    assert.match(status.description ?? '', /^Rejected: Deployment\/web\/web: .*spec\.replicas/);
    await agent.planner!.idle();
    const [comment] = await planComments(pr.number);
    assert.match(comment?.body ?? '', /# Deployment\/web\/web: rejected: .*spec\.replicas/);
  });

  test('a PR deleting most of the app is "prune blocked"', async () => {
    const pr = await openPull('delete-most', Object.fromEntries(CONFIGMAPS.map((i) => [`${DIR}/cm-${i}.yaml`, null])));
    const status = await planVerdict(pr.sha);
    assert.equal(status.state, 'failure');
    assert.match(status.description ?? '', /^prune blocked: 5 of 7 objects would be deleted/);
  });

  test('a PR that does not touch the app is planned as unchanged (so the context can be required), without a comment', async () => {
    const pr = await openPull('other', { 'envs/dev/other/readme.txt': 'changed\n' });
    const status = await planVerdict(pr.sha);
    assert.deepEqual(
      [status.state, status.description],
      ['success', 'No changes: the pull request leaves envs/dev/web unchanged'],
    );
    await agent.planner!.idle();
    const all = (await gh.repos.listCommitStatusesForRef({ ...REPO, ref: pr.sha })).data;
    assert.equal(all.filter((s) => s.context === CONTEXT).length, 1, 'no pending first: nothing was planned');
    assert.deepEqual(await planComments(pr.number), []);
  });

  test('a newer push supersedes the running plan: the older head gets no verdict, the comment shows the newer', async () => {
    let release = () => {};
    renderGate = new Promise<void>((r) => {
      release = r;
    });
    const held = rendersHeld;
    const pr = await openPull('race', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:3.0.0') });
    await waitFor(() => rendersHeld > held, { timeoutMs: 30_000, describe: () => 'the first plan never rendered' });
    renderGate = undefined;
    const newer = await commitTo('race', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:3.0.1') }, false);
    // The newer head's plan replaces the held one (which still holds the only slot until its render returns).
    await waitFor(() => agent.planner!.inFlight().some((p) => p.sha === newer), {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.planner!.inFlight()),
    });
    assert.ok(!agent.planner!.inFlight().some((p) => p.sha === pr.sha));
    release();
    const status = await planVerdict(newer);
    assert.equal(status.state, 'success');
    await agent.planner!.idle();
    const older = (await gh.repos.listCommitStatusesForRef({ ...REPO, ref: pr.sha })).data.filter(
      (s) => s.context === CONTEXT,
    );
    assert.deepEqual(
      older.map((s) => s.state),
      ['pending'],
    );
    const comments = await planComments(pr.number);
    assert.equal(comments.length, 1);
    assert.match(comments[0]!.body!, /web:3\.0\.1/);
    assert.doesNotMatch(comments[0]!.body!, /web:3\.0\.0"?$/m);
  });

  test('at most planning.concurrency plans run at once; the others wait their turn', async () => {
    let release = () => {};
    renderGate = new Promise<void>((r) => {
      release = r;
    });
    const held = rendersHeld;
    // Renaming a ConfigMap is one to create and one to prune; changing its data, one to change.
    const a = await openPull('one-of-two', { [`${DIR}/cm-1.yaml`]: cm(11) });
    const b = await openPull('two-of-two', { [`${DIR}/cm-2.yaml`]: cm(2).replace('n: "2"', 'n: "22"') });
    await waitFor(() => agent.planner!.inFlight().length === 2 && rendersHeld > held, {
      timeoutMs: 30_000,
      describe: () => `${rendersHeld - held} held, in flight ${JSON.stringify(agent.planner!.inFlight())}`,
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(rendersHeld - held, 1, 'a second plan rendered while the first held the only slot');
    renderGate = undefined;
    release();
    assert.equal((await planVerdict(a.sha)).description, '1 to create, 1 to prune');
    assert.equal((await planVerdict(b.sha)).description, '1 to change');
  });

  test('a head in a fork is not planned: error on the head and a note in the comment', async () => {
    // The emulator has no forks: with the hook paused, a pull request is opened and told to the agent as GitHub
    // describes one from a fork.
    hook.active = false;
    let pr: { number: number; sha: string };
    try {
      pr = await openPull('forked', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:4.0.0') });
    } finally {
      hook.active = true;
    }
    const planning = agent.planPullRequest({
      repo: 'acme/env',
      number: pr.number,
      state: 'open',
      headSha: pr.sha,
      headRef: 'forked',
      baseRef: 'main',
      fork: true,
    });
    assert.deepEqual(planning, ['web']);
    const status = await planVerdict(pr.sha);
    assert.equal(status.state, 'error');
    assert.match(status.description ?? '', /^Not planned: the head is in another repository \(a fork\)/);
    await agent.planner!.idle();
    const [comment] = await planComments(pr.number);
    assert.match(comment?.body ?? '', /\| `web` \| ⚠️ Not planned: the head is in another repository/);
  });

  test('without a webhook delivery, a poll of the open pull requests plans them', async () => {
    hook.active = false;
    let pr: { number: number; sha: string };
    try {
      pr = await openPull('polled', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:5.0.0') });
    } finally {
      hook.active = true;
    }
    await agent.planner!.poll();
    const status = await planVerdict(pr.sha);
    assert.deepEqual([status.state, status.description], ['success', '1 to change']);
    await agent.planner!.idle();
    assert.equal((await planComments(pr.number)).length, 1);
  });

  test('a closed PR is dropped: a later push to its branch, or a poll, plans nothing', async () => {
    await gh.pulls.update({ ...REPO, pull_number: bump.number, state: 'closed' });
    await w.github.webhooks.idle();
    const late = await commitTo('bump-web', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:9.9.9') }, false);
    await w.github.webhooks.idle();
    await agent.planner!.poll();
    await agent.planner!.idle();
    const all = (await gh.repos.listCommitStatusesForRef({ ...REPO, ref: late })).data;
    assert.deepEqual(
      all.filter((s) => s.context === CONTEXT),
      [],
    );
    assert.equal((await planComments(bump.number)).length, 1);
  });

  test('planning wrote nothing to the cluster: the apiserver counted no write', async () => {
    const after = await apiserverWrites(w.kube);
    // The apiserver itself renews its identity lease and reconciles the `kubernetes` Service's endpoints; nothing
    // else may have written.
    assert.deepEqual(writesBetween(writesBefore, after, ['leases', 'endpoints', 'endpointslices']), []);
    assert.equal(agent.app('web')?.state.lastSync?.revision, await w.head());
  });
});

describe('plans for an app defined in Git', () => {
  const context = 'tether/dev/api/plan';
  const appDoc = (plans: boolean) =>
    `apiVersion: tether.dev/v1alpha1\nkind: App\nmetadata: {name: api}\nspec:\n  source: {path: envs/dev/api}\n  namespace: default\n  interval: 1h\n  planPullRequests: ${plans}\n`;
  const settings = (size: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-settings}\ndata: {size: ${size}}\n`;
  let w: AgentWorld;
  let agent: Agent;
  const { openPull, planVerdict } = pullRequests(() => w.gh);

  before(async () => {
    w = await startAgentWorld({
      github: true,
      files: { 'apps/api.yaml': appDoc(true), 'envs/dev/api/cm.yaml': settings('small') },
    });
    ({ agent } = await w.startAgent(
      { appsFrom: [{ repo: w.cloneUrl(), path: 'apps', interval: '1h' }] },
      { pollPullRequests: false, server: { webhookSecret: SECRET }, hookEvents: ['push', 'pull_request'] },
    ));
    await waitFor(() => agent.app('api')?.state.sync === 'Synced', {
      timeoutMs: 60_000,
      describe: () => `api: ${JSON.stringify(agent.app('api')?.state)}; sources: ${JSON.stringify(agent.appSources())}`,
    });
  });
  after(() => w?.stop());

  test('an App document with planPullRequests gets its plan status on a pull request touching its path', async () => {
    const pr = await openPull('api-bigger', { 'envs/dev/api/cm.yaml': settings('large') });
    const status = await planVerdict(pr.sha, context);
    assert.deepEqual([status.state, status.description], ['success', '1 to change']);
  });

  test('once the App no longer asks for plans, a new pull request gets none', async () => {
    await w.commit({ 'apps/api.yaml': appDoc(false) }, 'api: no plans');
    assert.ok(agent.requestSourceSync('apps', 'test'));
    await waitFor(() => !agent.planner!.targetNames().includes('api'), {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.appSources()),
    });
    // Still running, only no longer planned.
    await waitFor(() => agent.app('api')?.state.sync === 'Synced', {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.app('api')?.state),
    });
    const pr = await openPull('api-huge', { 'envs/dev/api/cm.yaml': settings('huge') });
    await w.github.webhooks.idle();
    await agent.planner!.idle();
    assert.deepEqual(await w.statuses(pr.sha, context), []);
  });
});
