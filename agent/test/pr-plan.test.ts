import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeObject } from '../src/core/inspection.ts';
import { subject } from '../src/core/objects.ts';
import {
  type AppPlan,
  changeSummary,
  cutLines,
  defaultPlanCommentOptions,
  hookSubject,
  planComment,
  planContext,
  planCounts,
  planMarker,
  planPendingStatus,
  planStatus,
  pullRequestFields,
  refusalText,
  touchesPath,
  untouchedPlanStatus,
} from '../src/core/pr-plan.ts';
import { appRefusal, defaultProject, refuseObjects } from '../src/core/projects.ts';
import type { K8sObject } from '../src/core/types.ts';

const SHA = 'a'.repeat(40);

const deploy = (image: string, extra: Record<string, unknown> = {}): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'web', ...extra },
  spec: { replicas: 2, template: { spec: { containers: [{ name: 'web', image }] } } },
});
// Live objects and dry-run answers carry a resourceVersion, as the apiserver's do.
const svc: K8sObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'web', resourceVersion: '7' },
  spec: { ports: [{ port: 80 }] },
};
const secret = (value: string): K8sObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'creds', namespace: 'web' },
  data: { password: Buffer.from(value).toString('base64') },
});

/** An image bump of the Deployment, the Service unchanged, a new ConfigMap: judged as the dry-run would be. */
function bumpPlan(): AppPlan {
  const cm: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'web' } };
  return {
    app: 'web',
    sha: SHA,
    objects: [
      judgeObject({
        desired: deploy('ghcr.io/acme/web:1.1.0'),
        live: deploy('ghcr.io/acme/web:1.0.0', { resourceVersion: '5' }),
        dryRun: deploy('ghcr.io/acme/web:1.1.0', { resourceVersion: '5' }),
      }),
      judgeObject({ desired: svc, live: svc, dryRun: svc }),
      judgeObject({ desired: cm, dryRun: cm }),
    ],
    prune: { delete: ['ConfigMap/web/old'], keep: [] },
  };
}

test('counts split create, change, unchanged and prune from the judged objects', () => {
  const c = planCounts(bumpPlan());
  assert.deepEqual(c, { create: 1, change: 1, adopt: 0, unchanged: 1, prune: 1, rejected: 0, conflict: 0 });
  assert.equal(changeSummary(c), '1 to create, 1 to change, 1 to prune');
  assert.equal(
    changeSummary({ create: 0, change: 0, adopt: 0, unchanged: 4, prune: 0, rejected: 0, conflict: 0 }),
    'No changes',
  );
});

test('a plan that would apply cleanly is success with the counts, on the plan context', () => {
  const s = planStatus(bumpPlan(), { cluster: 'dev', targetUrl: 'https://t.example/apps/web' });
  assert.deepEqual(s, {
    state: 'success',
    description: '1 to create, 1 to change, 1 to prune',
    context: 'tether/dev/web/plan',
    targetUrl: 'https://t.example/apps/web',
  });
  assert.equal(planContext('prod-eu', 'api'), 'tether/prod-eu/api/plan');
  assert.deepEqual(untouchedPlanStatus('dev', 'web', 'envs/dev/web'), {
    state: 'success',
    description: 'No changes: the pull request leaves envs/dev/web unchanged',
    context: 'tether/dev/web/plan',
  });
  assert.deepEqual(planPendingStatus('dev', 'web', SHA), {
    state: 'pending',
    description: 'Planning aaaaaaa',
    context: 'tether/dev/web/plan',
  });
});

test('an apiserver rejection fails the plan naming the object and the field, within 140 characters', () => {
  const why = 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0';
  const plan: AppPlan = {
    ...bumpPlan(),
    objects: [
      judgeObject({
        desired: deploy('x:1'),
        error: `PATCH /apis/apps/v1/namespaces/web/deployments/web?dryRun=All: 422 ${why}`,
      }),
      judgeObject({ desired: svc, error: `Service "web" is invalid: spec.ports[0].port: Invalid value: 0` }),
    ],
  };
  const s = planStatus(plan, { cluster: 'dev' });
  assert.equal(s.state, 'failure');
  assert.ok(s.description.length <= 140, s.description);
  assert.match(s.description, /^Rejected: Deployment\/web\/web: Deployment\.apps "web" is invalid: spec\.replicas/);
  assert.equal(planCounts(plan).rejected, 2);
  const text = planComment([{ plan, status: s }], SHA, defaultPlanCommentOptions('dev'));
  assert.match(text, /^# Deployment\/web\/web: rejected: Deployment\.apps "web" is invalid: spec\.replicas/m);
});

test('render errors, refused objects and a blocked prune fail; a fork or a fetch error is an error', () => {
  const base = bumpPlan();
  assert.deepEqual(
    [
      planStatus({ ...base, renderError: 'envs/dev/web/a.yaml: not YAML' }, { cluster: 'dev' }),
      planStatus(
        { ...base, refused: [{ subject: 'Namespace/x', reason: 'cluster-scoped kinds are not allowed' }] },
        {
          cluster: 'dev',
        },
      ),
      planStatus(
        {
          ...base,
          prune: {
            delete: [],
            keep: [],
            blocked: 'prune blocked: 5 of 6 objects would be deleted, budget 50 %',
            blockFails: true,
          },
        },
        { cluster: 'dev' },
      ),
      planStatus({ ...base, notPlanned: 'the head is in a fork' }, { cluster: 'dev' }),
      planStatus({ ...base, error: 'cluster unreachable' }, { cluster: 'dev' }),
    ].map((s) => `${s.state} ${s.description}`),
    [
      'failure Render failed: envs/dev/web/a.yaml: not YAML',
      'failure Refused: Namespace/x: cluster-scoped kinds are not allowed',
      'failure prune blocked: 5 of 6 objects would be deleted, budget 50 %',
      'error Not planned: the head is in a fork',
      'error Plan error: cluster unreachable',
    ],
  );
  // A prune that is off by setting is no verdict on the PR.
  const off = planStatus(
    { ...base, prune: { delete: [], keep: [], blocked: 'pruning is disabled' } },
    { cluster: 'dev' },
  );
  assert.equal(off.state, 'success');
});

test('the comment carries the marker, a row per app and a collapsed diff showing the image line', () => {
  const plan = bumpPlan();
  const text = planComment(
    [
      { plan, status: planStatus(plan, { cluster: 'dev' }) },
      { app: 'api', status: planPendingStatus('dev', 'api', SHA) },
    ],
    SHA,
    defaultPlanCommentOptions('dev'),
  );
  assert.ok(text.startsWith(`${planMarker('dev')}\n`));
  assert.equal(planMarker('dev'), '<!-- tether-plan:dev -->');
  assert.match(text, /\| `web` \| ✅ 1 to create, 1 to change, 1 to prune \| 1 \| 1 \| 0 \| 1 \| 1 \|/);
  assert.match(text, /\| `api` \| ⏳ Planning aaaaaaa \|/);
  assert.match(text, /<details><summary><code>web<\/code>: diff \(\d+ lines\)<\/summary>/);
  assert.match(text, /^-\s+- image: ghcr\.io\/acme\/web:1\.0\.0$/m);
  assert.match(text, /^\+\s+- image: ghcr\.io\/acme\/web:1\.1\.0$/m);
  assert.match(text, /^# prune ConfigMap\/web\/old$/m);
  assert.match(text, /```diff\n/);
});

test('Secret values never reach the comment; a changed value still shows as changed', () => {
  const plan: AppPlan = {
    app: 'web',
    sha: SHA,
    objects: [judgeObject({ desired: secret('hunter3'), live: secret('hunter2'), dryRun: secret('hunter3') })],
    prune: { delete: [], keep: [] },
  };
  const text = planComment(
    [{ plan, status: planStatus(plan, { cluster: 'dev' }) }],
    SHA,
    defaultPlanCommentOptions('dev'),
  );
  for (const v of [
    'hunter2',
    'hunter3',
    Buffer.from('hunter2').toString('base64'),
    Buffer.from('hunter3').toString('base64'),
  ]) {
    assert.ok(!text.includes(v), `comment leaks ${v}`);
  }
  assert.match(text, /redacted, changed/);
});

test('a long diff is cut with a count of the lines left out; backticks in it cannot close the block', () => {
  assert.equal(cutLines('a\nb\nc', 5, 1000), 'a\nb\nc');
  assert.equal(cutLines('a\nb\nc\nd', 2, 1000), 'a\nb\n… 2 more lines not shown');
  assert.equal(cutLines('aaaa\nbbbb\ncccc', 10, 10), 'aaaa\nbbbb\n… 1 more line not shown');
  const many: K8sObject[] = Array.from({ length: 400 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `c${i}`, namespace: 'web' },
    data: { note: 'has ``` inside' },
  }));
  const plan: AppPlan = {
    app: 'web',
    sha: SHA,
    objects: many.map((o) => judgeObject({ desired: o, dryRun: o })),
    prune: { delete: [], keep: [] },
  };
  const text = planComment(
    [{ plan, status: planStatus(plan, { cluster: 'dev' }) }],
    SHA,
    defaultPlanCommentOptions('dev'),
  );
  assert.match(text, /… \d+ more lines not shown/);
  assert.ok(text.length < 20_000, String(text.length));
  assert.match(text, /````diff\n/);
});

test('why a plan was not made is shown in place of a diff; URLs lose their credentials', () => {
  const plan: AppPlan = {
    app: 'web',
    sha: SHA,
    error: 'fetch https://x-access-token:ghs_secret@github.com/acme/env.git failed',
    objects: [],
    prune: { delete: [], keep: [] },
  };
  const text = planComment(
    [{ plan, status: planStatus(plan, { cluster: 'dev' }) }],
    SHA,
    defaultPlanCommentOptions('dev'),
  );
  assert.ok(!text.includes('ghs_secret'), text);
  assert.match(text, /<code>web<\/code>: why/);
  assert.match(
    text,
    /\| `web` \| ⚠️ Plan error: fetch https:\/\/\S*github\.com\/acme\/env\.git failed \| \| \| \| \| \|/,
  );
});

test('a pull request is read from a webhook or list item; a head in another repository is a fork', () => {
  const pull = (headRepo: unknown) => ({
    number: 3,
    state: 'open',
    head: { sha: SHA, ref: 'bump', repo: headRepo },
    base: { ref: 'main', repo: { full_name: 'Acme/Env' } },
  });
  assert.deepEqual(pullRequestFields(pull({ full_name: 'acme/env' })), {
    repo: 'Acme/Env',
    number: 3,
    state: 'open',
    headSha: SHA,
    headRef: 'bump',
    baseRef: 'main',
    fork: false,
  });
  assert.equal(pullRequestFields(pull({ full_name: 'mallory/env' }))?.fork, true);
  // GitHub sends `repo: null` once a fork is deleted: still not ours.
  assert.equal(pullRequestFields(pull(null))?.fork, true);
  assert.equal(pullRequestFields({ number: 3, state: 'open', head: {} }), undefined);
  assert.equal(pullRequestFields('nope'), undefined);
});

test('an app is touched by files inside its path only', () => {
  assert.equal(touchesPath(['envs/dev/web/deploy.yaml'], 'envs/dev/web'), true);
  assert.equal(touchesPath(['envs/dev/web'], 'envs/dev/web'), true);
  assert.equal(touchesPath(['envs/dev/web2/deploy.yaml', 'README.md'], 'envs/dev/web'), false);
  assert.equal(touchesPath(['README.md'], ''), true);
  assert.equal(touchesPath([], ''), false);
});

test('objects the project refuses fail the plan first, naming the rule; the comment lists each with its rule', () => {
  const project = {
    ...defaultProject(),
    name: 'team-a',
    clusterResourceAllowlist: ['Namespace'],
    destinationNamespaces: ['web'],
  };
  const crb: K8sObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'web-admin' },
  };
  const elsewhere: K8sObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'x', namespace: 'kube-system' },
  };
  const refused = refuseObjects(project, [crb, deploy('x:1'), elsewhere], subject).map((e) => ({
    subject: e.subject,
    reason: e.reason ?? '',
  }));
  assert.equal(refused.length, 2);
  const plan: AppPlan = {
    ...bumpPlan(),
    refused,
    // A rejection too: the sync stops at the project before any request, so the plan names the refusal.
    objects: [...bumpPlan().objects, judgeObject({ desired: svc, error: 'Service "web" is invalid' })],
  };
  const s = planStatus(plan, { cluster: 'dev' });
  assert.equal(s.state, 'failure');
  assert.equal(
    s.description,
    'Refused: ClusterRoleBinding/web-admin is cluster-scoped and not in clusterResourceAllowlist (project team-a) (+1 more)',
  );
  const text = planComment([{ plan, status: s }], SHA, defaultPlanCommentOptions('dev'));
  assert.match(text, /^\*\*`web`\*\* — refused by its project: a sync would apply and prune nothing$/m);
  assert.match(
    text,
    /^- `ClusterRoleBinding\/web-admin`: project team-a: rbac\.authorization\.k8s\.io\/ClusterRoleBinding is cluster-scoped and not in clusterResourceAllowlist$/m,
  );
  assert.match(
    text,
    /^- `ConfigMap\/kube-system\/x`: project team-a: namespace kube-system is not in destinationNamespaces \(web\)$/m,
  );
  // A reason in another shape is kept whole.
  assert.equal(
    refusalText(refused[1]!),
    'ConfigMap/kube-system/x: project team-a: namespace kube-system is not in destinationNamespaces (web)',
  );
});

test('an app its project refuses outright is an error saying so, as the synced status would', () => {
  const reason = appRefusal(
    { ...defaultProject(), name: 'team-a', sourceRepos: ['https://github.com/acme/*'] },
    { project: 'team-a', repo: 'https://github.com/mallory/env.git', namespace: 'web' },
  )!;
  const plan: AppPlan = { app: 'web', sha: SHA, appRefused: reason, objects: [], prune: { delete: [], keep: [] } };
  const s = planStatus(plan, { cluster: 'dev' });
  assert.deepEqual(
    [s.state, s.description],
    [
      'error',
      'Refused: project team-a: repo https://github.com/mallory/env.git is not in sourceRepos (https://github.com/acme/*)',
    ],
  );
  const text = planComment([{ plan, status: s }], SHA, defaultPlanCommentOptions('dev'));
  assert.match(text, /\| `web` \| ⚠️ Refused: project team-a: repo .* \| \| \| \| \| \|/);
  assert.match(text, /<code>web<\/code>: why/);
});

test('an object another owner has fails the plan naming the owner and is not counted as a change; adoptions are counted', () => {
  const shared: K8sObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'shared', namespace: 'web', resourceVersion: '3', labels: { a: 'b' } },
  };
  const legacy: K8sObject = { ...shared, metadata: { ...shared.metadata, name: 'legacy' } };
  const want = (o: K8sObject): K8sObject => ({ ...o, data: { v: '1' } });
  const base = bumpPlan();
  const plan: AppPlan = {
    ...base,
    objects: [
      ...base.objects,
      judgeObject({ desired: want(shared), live: shared, dryRun: want(shared) }),
      judgeObject({ desired: want(legacy), live: legacy, dryRun: want(legacy) }),
    ],
    conflicts: [
      {
        subject: 'ConfigMap/web/shared',
        reason: 'owned by the ApplySet of ConfigMap/tether-system/tether-api (tether/v1)',
      },
    ],
    adopt: [
      {
        subject: 'ConfigMap/web/legacy',
        reason: 'would take over from Argo CD application guestbook (takeOver: argocd)',
      },
    ],
  };
  assert.deepEqual(planCounts(plan), {
    create: 1,
    change: 1,
    adopt: 1,
    unchanged: 1,
    prune: 1,
    rejected: 0,
    conflict: 1,
  });
  const s = planStatus(plan, { cluster: 'dev' });
  assert.deepEqual(
    [s.state, s.description],
    [
      'failure',
      'Conflict: ConfigMap/web/shared: owned by the ApplySet of ConfigMap/tether-system/tether-api (tether/v1)',
    ],
  );
  const text = planComment([{ plan, status: s }], SHA, defaultPlanCommentOptions('dev'));
  assert.match(text, /\| `web` \| ❌ Conflict: .* \| 1 \| 1 \| 1 \| 1 \| 1 \|/);
  assert.match(
    text,
    /^- `ConfigMap\/web\/shared`: owned by the ApplySet of ConfigMap\/tether-system\/tether-api \(tether\/v1\)$/m,
  );
  assert.match(
    text,
    /^- `ConfigMap\/web\/legacy`: would take over from Argo CD application guestbook \(takeOver: argocd\)$/m,
  );
  // The object in conflict shows no diff: nothing of it would be applied.
  assert.match(text, /^# ConfigMap\/web\/shared: conflict, not applied: owned by the ApplySet of/m);
  assert.doesNotMatch(text, /git\/ConfigMap\/web\/shared/);
  assert.match(text, /git\/ConfigMap\/web\/legacy/);
  const { conflicts: _, ...adoptOnly } = plan;
  assert.deepEqual(
    [planStatus(adoptOnly, { cluster: 'dev' }).state, planStatus(adoptOnly, { cluster: 'dev' }).description],
    ['success', '1 to create, 2 to change, 1 to adopt, 1 to prune'],
  );
});

test('hooks a sync would run are listed in order and said not to run; long lists are cut with a count', () => {
  const hooks = [
    { phase: 'PreSync', wave: -1, subject: 'Job/web/migrate' },
    {
      phase: 'PostSync',
      wave: 0,
      subject: hookSubject({ kind: 'Job', metadata: { generateName: 'smoke-', namespace: 'web' } }),
    },
    { phase: 'SyncFail', wave: 0, subject: 'Job/web/page-someone' },
  ];
  const plan: AppPlan = { ...bumpPlan(), hooks };
  const s = planStatus(plan, { cluster: 'dev' });
  assert.deepEqual([s.state, s.description], ['success', '1 to create, 1 to change, 1 to prune; 2 hooks would run']);
  const text = planComment([{ plan, status: s }], SHA, { ...defaultPlanCommentOptions('dev'), maxListed: 2 });
  assert.match(
    text,
    /^\*\*`web`\*\* — hooks a sync would run \(this plan neither runs nor dry-runs them: a plan creates no Jobs\)$/m,
  );
  assert.match(
    text,
    /^- PreSync · wave -1 · `Job\/web\/migrate`\n- PostSync · wave 0 · `Job\/web\/smoke-…`\n- … and 1 more$/m,
  );
  const all = planComment([{ plan, status: s }], SHA, defaultPlanCommentOptions('dev'));
  assert.match(all, /^- SyncFail \(only if the sync fails\) · wave 0 · `Job\/web\/page-someone`$/m);
});
