// Plans on pull requests against a real apiserver, a real Git server and the GitHub emulator: the pull_request
// webhook starts a plan, the plan status lands on the PR head, one comment per agent is kept up to date, and the
// apiserver's own write counters show that planning wrote nothing to the cluster.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Octokit } from '@octokit/rest';
import { apiserverWrites, writesBetween } from '../../testenv/src/apiserver-writes.ts';
import type { HookRecord } from '../../testenv/src/github/state.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import type { Renderer } from '../src/core/desired-state.ts';
import type { ApplyOptions, ApplyResult, ResourceType } from '../src/core/kube-port.ts';
import type { K8sObject } from '../src/core/types.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import { toolRenderer } from '../src/edges/render/render.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { defaultPlannerOptions } from '../src/reconcile/pr-plan.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const SECRET = 'webhook-secret-for-plan-tests';
const REPO = { owner: 'acme', repo: 'env' };
const DIR = 'envs/dev/web';
const CONTEXT = 'tether/dev/web/plan';
/** An app whose project refuses its repository: it is never synced, nor fetched for a plan. */
const FENCED = 'envs/dev/fenced';
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
const crb = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: web-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: ServiceAccount, name: default, namespace: web}]
`;
const namedCm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: web\n`;
const migrateHook = `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: web
  annotations:
    tether.dev/hook: PreSync
    tether.dev/sync-wave: "-1"
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "ghcr.io/acme/web:1.1.0", command: [migrate]}]
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
  /** This agent's plan comments on a pull request (found by the marker). */
  const planComments = async (number: number) =>
    (await gh().paginate(gh().issues.listComments, { ...REPO, issue_number: number })).filter((c) =>
      c.body?.startsWith(MARKER),
    );
  return { commitTo, openPull, planVerdict, planComments };
}

/** An agent in `w` planning the pull requests the webhook announces (no polling). */
function startPlanningAgent(w: AgentWorld, config: Record<string, unknown>) {
  return w.startAgent(config, {
    pollPullRequests: false,
    server: { webhookSecret: SECRET },
    hookEvents: ['push', 'pull_request'],
  });
}

/**
 * The agent's client, counting what it forwards: its dry-runs can be held at a gate (a slow admission webhook would
 * hold them so), and the objects it reads one by one are recorded.
 */
class PlanKube extends CountingKubeClient {
  gate: Promise<void> | undefined;
  dryRuns = 0;
  readonly gets: string[] = [];
  override async apply(type: ResourceType, obj: K8sObject, options?: Partial<ApplyOptions>): Promise<ApplyResult> {
    if (options?.dryRun) {
      this.dryRuns++;
      if (this.gate) await this.gate;
    }
    return super.apply(type, obj, options);
  }
  override get(type: ResourceType, name: string, namespace?: string): Promise<K8sObject | undefined> {
    this.gets.push(`${type.kind}/${namespace ? `${namespace}/` : ''}${name}`);
    return super.get(type, name, namespace);
  }
}

describe('plans on pull requests', () => {
  let w: AgentWorld;
  let gh: Octokit;
  let agent: Agent;
  let kube: PlanKube;
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

  const { commitTo, openPull, planVerdict, planComments } = pullRequests(() => gh);

  before(async () => {
    w = await startAgentWorld({
      github: true,
      files: {
        [`${DIR}/namespace.yaml`]: ns,
        [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.0.0'),
        ...Object.fromEntries(CONFIGMAPS.map((i) => [`${DIR}/cm-${i}.yaml`, cm(i)])),
        'envs/dev/other/readme.txt': 'not an app of this agent\n',
        [`${FENCED}/cm.yaml`]: namedCm('fenced'),
      },
    });
    gh = w.gh;
    kube = new PlanKube(w.client);
    const running = await w.startAgent(
      {
        // One plan at a time, so the limit itself is seen working.
        planning: { concurrency: 1 },
        projects: [
          // The app's own namespace and objects are inside; a ClusterRoleBinding is not.
          { name: 'team-web', destinationNamespaces: ['web'], clusterResourceAllowlist: ['Namespace'] },
          // Apps may fetch only from GitHub: the test's Git server is not.
          { name: 'github-only', sourceRepos: ['https://github.com/acme/*'] },
        ],
        apps: [
          w.app('web', DIR, {
            namespace: 'web',
            interval: '1h',
            planPullRequests: true,
            project: 'team-web',
            takeOver: ['argocd'],
          }),
          w.app('fenced', FENCED, { namespace: 'web', interval: '1h', planPullRequests: true, project: 'github-only' }),
        ],
      },
      {
        kube,
        pollPullRequests: false,
        renderer,
        server: { webhookSecret: SECRET },
        hookEvents: ['push', 'pull_request'],
      },
    );
    agent = running.agent;
    hook = running.hook!;
    // The synced state the plans are judged against: main applied, statuses posted, events recorded.
    await waitFor(() => agent.app('web')?.state.lastSync !== undefined && !agent.app('web')?.state.lastSync?.error, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(agent.app('web')?.state),
    });
    // Objects other tools manage, in the app's namespace: one of kubectl's own ApplySet, one Argo CD tracks.
    const dir = mkdtempSync(join(tmpdir(), 'tether-plan-'));
    writeFileSync(join(dir, 'shared.yaml'), namedCm('shared'));
    execFileSync(
      'kubectl',
      [
        ...[
          '--kubeconfig',
          w.kube.kubeconfig,
          'apply',
          '--server-side',
          '--prune',
          '--applyset=configmaps/kubectl-set',
        ],
        ...['-n', 'web', '-f', join(dir, 'shared.yaml')],
      ],
      { env: { ...process.env, KUBECTL_APPLYSET: 'true' }, stdio: 'pipe' },
    );
    rmSync(dir, { recursive: true, force: true });
    const legacy = await w.kube.request('POST', '/api/v1/namespaces/web/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'legacy',
        labels: { 'app.kubernetes.io/instance': 'guestbook' },
        annotations: { 'argocd.argoproj.io/tracking-id': 'guestbook:/ConfigMap:web/legacy' },
      },
    });
    assert.equal(legacy.status, 201);
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
    assert.match(body, /\| `web` \| ✅ 1 to change \| 0 \| 1 \| 0 \| 0 \| 6 \|/);
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

  test('a verdict GitHub refuses once is posted again: the head does not keep its "Planning" pending', async () => {
    let release = () => {};
    renderGate = new Promise<void>((r) => {
      release = r;
    });
    const held = rendersHeld;
    const pr = await openPull('verdict-refused', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.3.0') });
    await waitFor(() => rendersHeld > held, { timeoutMs: 30_000, describe: () => 'the plan never rendered' });
    // The plan has said `Planning` on the head; its verdict's post is refused (GitHub's bad minute).
    const statuses = (await gh.repos.listCommitStatusesForRef({ ...REPO, ref: pr.sha })).data;
    assert.deepEqual(
      statuses.filter((s) => s.context === CONTEXT).map((s) => s.state),
      ['pending'],
    );
    w.github.faults.failNext(1, { match: new RegExp(`^POST /repos/acme/env/statuses/${pr.sha}$`), status: 403 });
    renderGate = undefined;
    release();
    const status = await planVerdict(pr.sha);
    assert.deepEqual([status.state, status.description], ['success', '1 to change']);
    assert.equal(w.github.faults.pending, 0, 'the fault was never hit');
  });

  test('a "No changes" status GitHub refuses once is posted again', async () => {
    const sha = await commitTo('untouched-refused', { 'envs/dev/other/readme.txt': 'changed again\n' }, true);
    w.github.faults.failNext(1, { match: new RegExp(`^POST /repos/acme/env/statuses/${sha}$`), status: 403 });
    await gh.pulls.create({ ...REPO, title: 'untouched', head: 'untouched-refused', base: 'main' });
    // Both apps that plan pull requests into main say so; whichever post was refused is posted again.
    for (const [context, path] of [
      [CONTEXT, DIR],
      ['tether/dev/fenced/plan', FENCED],
    ]) {
      const status = await planVerdict(sha, context);
      assert.deepEqual(
        [status.state, status.description],
        ['success', `No changes: the pull request leaves ${path} unchanged`],
      );
    }
    assert.equal(w.github.faults.pending, 0, 'the fault was never hit');
  });

  test('a verdict GitHub refuses for good is tried 3 times, then given up: planning goes on', async () => {
    const sha = await commitTo('verdict-forbidden', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:1.4.0') }, true);
    const posts = new RegExp(`^POST /repos/acme/env/statuses/${sha}$`);
    // The pending, then every try of the verdict: a token that may not write statuses on the repository.
    w.github.faults.failNext(10, { match: posts, status: 403 });
    await gh.pulls.create({ ...REPO, title: 'forbidden', head: 'verdict-forbidden', base: 'main' });
    await waitFor(() => agent.planner!.inFlight().length > 0, { timeoutMs: 30_000, describe: () => 'never planned' });
    await agent.planner!.idle();
    const tries = w.github.requests.filter((r) => r.method === 'POST' && posts.test(`POST ${r.path}`)).length;
    // web: its pending once and its verdict three times; fenced (untouched): its "No changes" three times.
    assert.equal(tries, 1 + 3 + 3);
    w.github.faults.reset();
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
    assert.deepEqual(planning, ['web', 'fenced']);
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

  test('a PR adding a ClusterRoleBinding the project does not allow: failure naming the rule, listed in the comment', async () => {
    const pr = await openPull('admin-binding', { [`${DIR}/admin.yaml`]: crb });
    const status = await planVerdict(pr.sha);
    assert.deepEqual(
      [status.state, status.description],
      [
        'failure',
        'Refused: ClusterRoleBinding/web-admin is cluster-scoped and not in clusterResourceAllowlist (project team-web)',
      ],
    );
    await agent.planner!.idle();
    const [comment] = await planComments(pr.number);
    assert.match(
      comment?.body ?? '',
      /^\*\*`web`\*\* — refused by its project: a sync would apply and prune nothing$/m,
    );
    assert.match(
      comment?.body ?? '',
      /^- `ClusterRoleBinding\/web-admin`: project team-web: rbac\.authorization\.k8s\.io\/ClusterRoleBinding is cluster-scoped and not in clusterResourceAllowlist$/m,
    );
  });

  test('an app its project refuses is planned as refused, naming the rule (an error, as its synced status would be)', async () => {
    const pr = await openPull('fenced-change', { [`${FENCED}/cm.yaml`]: namedCm('fenced-2') });
    const status = await planVerdict(pr.sha, 'tether/dev/fenced/plan');
    assert.equal(status.state, 'error');
    assert.match(status.description ?? '', /^Refused: project github-only: repo \S+ is not in sourceRepos/);
  });

  test("a PR adding an object kubectl's ApplySet owns: conflict naming the owner, with no GET beyond the dry-run's", async () => {
    const gets = kube.gets.length;
    const pr = await openPull('take-shared', { [`${DIR}/shared.yaml`]: namedCm('shared') });
    const status = await planVerdict(pr.sha);
    assert.equal(status.state, 'failure');
    assert.match(
      status.description ?? '',
      /^Conflict: ConfigMap\/web\/shared: owned by the ApplySet of ConfigMap\/web\/kubectl-set \(kubectl\//,
    );
    await agent.planner!.idle();
    const [comment] = await planComments(pr.number);
    assert.match(
      comment?.body ?? '',
      /^\*\*`web`\*\* — another owner manages these: a sync would leave them alone and fail$/m,
    );
    assert.match(
      comment?.body ?? '',
      /^- `ConfigMap\/web\/shared`: owned by the ApplySet of ConfigMap\/web\/kubectl-set/m,
    );
    assert.match(comment?.body ?? '', /^# ConfigMap\/web\/shared: conflict, not applied: owned by the ApplySet of/m);
    // The ownership check decided on the live object the dry-run's own read returned: each object was read once.
    const read = kube.gets.slice(gets);
    assert.deepEqual(
      read.filter((g) => g === 'ConfigMap/web/shared'),
      ['ConfigMap/web/shared'],
    );
    assert.equal(new Set(read).size, read.length, read.join(', '));
  });

  test('with takeOver: [argocd], an object Argo CD tracks is planned as taken over, and nothing is released yet', async () => {
    const pr = await openPull('take-legacy', { [`${DIR}/legacy.yaml`]: namedCm('legacy') });
    const status = await planVerdict(pr.sha);
    assert.deepEqual([status.state, status.description], ['success', '1 to adopt']);
    await agent.planner!.idle();
    const [comment] = await planComments(pr.number);
    assert.match(
      comment?.body ?? '',
      /^- `ConfigMap\/web\/legacy`: would take over from Argo CD application guestbook \(takeOver: argocd\)$/m,
    );
    const live = await w.get('/api/v1/namespaces/web/configmaps/legacy');
    assert.equal(live?.metadata.annotations?.['argocd.argoproj.io/tracking-id'], 'guestbook:/ConfigMap:web/legacy');
  });

  test('a PR adding a PreSync hook: the plan lists it and says it was not run; no Job was created', async () => {
    const pr = await openPull('add-migrate', { [`${DIR}/migrate.yaml`]: migrateHook });
    const status = await planVerdict(pr.sha);
    assert.deepEqual([status.state, status.description], ['success', 'No changes; 1 hook would run']);
    await agent.planner!.idle();
    const [comment] = await planComments(pr.number);
    assert.match(
      comment?.body ?? '',
      /^\*\*`web`\*\* — hooks a sync would run \(this plan neither runs nor dry-runs them: a plan creates no Jobs\)\n- PreSync · wave -1 · `Job\/web\/migrate`$/m,
    );
    assert.equal(await w.exists('/apis/batch/v1/namespaces/web/jobs/migrate'), false);
  });

  test('a newer push stops the running plan between its dry-runs: the older head starts none after it is superseded', async () => {
    let release = () => {};
    kube.gate = new Promise<void>((r) => {
      release = r;
    });
    const before = kube.dryRuns;
    const atOnce = defaultPlannerOptions().objectConcurrency;
    const pr = await openPull('slow-admission', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:6.0.0') });
    // The first head's plan is held in its dry-runs, as many at once as a plan runs.
    await waitFor(() => kube.dryRuns - before === atOnce, {
      timeoutMs: 30_000,
      describe: () => `${kube.dryRuns - before} dry-runs held`,
    });
    kube.gate = undefined;
    const newer = await commitTo('slow-admission', { [`${DIR}/deploy.yaml`]: deploy('ghcr.io/acme/web:6.0.1') }, false);
    await waitFor(() => agent.planner!.inFlight().some((p) => p.sha === newer), {
      timeoutMs: 30_000,
      describe: () => JSON.stringify(agent.planner!.inFlight()),
    });
    assert.ok(!agent.planner!.inFlight().some((p) => p.sha === pr.sha));
    // The newer head's plan waits for the only slot, which the older holds: no dry-run started meanwhile.
    assert.equal(kube.dryRuns - before, atOnce);
    release();
    const status = await planVerdict(newer);
    assert.deepEqual([status.state, status.description], ['success', '1 to change']);
    await agent.planner!.idle();
    // The older plan finished the dry-runs it had started and started no other: every later one is the newer head's,
    // one per object (the Namespace, the Deployment and the ConfigMaps).
    assert.equal(kube.dryRuns - before - atOnce, 2 + CONFIGMAPS.length);
    assert.deepEqual(
      (await w.statuses(pr.sha, CONTEXT)).map((s) => s.state),
      ['pending'],
    );
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
    ({ agent } = await startPlanningAgent(w, { appsFrom: [{ repo: w.cloneUrl(), path: 'apps', interval: '1h' }] }));
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

describe('a pull request touching many apps with large diffs', () => {
  const apps = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => `big-${x}`);
  /** Twenty ConfigMaps of the app, each holding `value`. */
  const configMaps = (app: string, value: string) =>
    Array.from(
      { length: 20 },
      (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${app}-${i}}\ndata: {value: "${value}"}\n`,
    ).join('---\n');
  let w: AgentWorld;
  let agent: Agent;
  const { openPull, planVerdict, planComments } = pullRequests(() => w.gh);

  before(async () => {
    w = await startAgentWorld({
      github: true,
      files: Object.fromEntries(apps.map((app) => [`envs/big/${app}/cms.yaml`, configMaps(app, 'small')])),
    });
    ({ agent } = await startPlanningAgent(w, {
      apps: apps.map((app) =>
        w.app(app, `envs/big/${app}`, { namespace: 'default', interval: '1h', planPullRequests: true }),
      ),
    }));
    await waitFor(() => apps.every((app) => agent.app(app)?.state.sync === 'Synced'), {
      timeoutMs: 60_000,
      describe: () => apps.map((app) => `${app}: ${JSON.stringify(agent.app(app)?.state.sync)}`).join(', '),
    });
  });
  after(() => w?.stop());

  test('the one comment still lands, within what GitHub takes, with every verdict and a note of what is cut', async () => {
    // Each app's diff is over 12,000 characters: six of them are more than a comment may hold.
    const pr = await openPull('big-values', {
      ...Object.fromEntries(apps.map((app) => [`envs/big/${app}/cms.yaml`, configMaps(app, 'x'.repeat(1_000))])),
    });
    for (const app of apps) {
      const status = await planVerdict(pr.sha, `tether/dev/${app}/plan`);
      assert.deepEqual([status.state, status.description], ['success', '20 to change']);
    }
    await agent.planner!.idle();
    const comments = await planComments(pr.number);
    assert.equal(comments.length, 1);
    const body = comments[0]!.body!;
    assert.ok([...body].length <= 65_536, `${[...body].length} characters`);
    for (const app of apps) assert.match(body, new RegExp(`^\\| \`${app}\` \\| ✅ 20 to change \\|`, 'm'));
    assert.match(body, /^- cut short, with a count of the lines left out: /m);
    assert.match(body, /`tether diff --config <file> --app <app>`/);
  });
});
