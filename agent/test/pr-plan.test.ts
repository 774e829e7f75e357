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

/** An app changing `count` ConfigMaps, each value `width` characters of `char` (so `count × width` of diff or so). */
function changedConfigMaps(app: string, count: number, width: number, char = 'x'): AppPlan {
  const cm = (i: number, v: string): K8sObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${app}-${i}`, namespace: app, resourceVersion: '3' },
    data: { value: v },
  });
  return {
    app,
    sha: SHA,
    objects: Array.from({ length: count }, (_, i) =>
      judgeObject({ desired: cm(i, char.repeat(width)), live: cm(i, 'old'), dryRun: cm(i, char.repeat(width)) }),
    ),
    prune: { delete: [], keep: [] },
  };
}

const rowOf = (plan: AppPlan) => ({ plan, status: planStatus(plan, { cluster: 'dev' }) });
const chars = (text: string) => [...text].length;
/** No lone surrogate: UTF-8 cannot encode one, so a round trip through it changes the text. */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

/** The fences of the comment's code blocks, checked to close each one they open, inside its `<details>`. */
function assertFencesClosed(text: string): void {
  let open: string | undefined;
  let details = 0;
  for (const line of text.split('\n')) {
    if (open !== undefined) {
      if (line === open) open = undefined;
      continue;
    }
    if (line.startsWith('<details>')) details++;
    if (line === '</details>') details--;
    const m = /^(`{3,})(diff|text)$/.exec(line);
    if (m) {
      assert.equal(details, 1, 'a code block sits inside its <details>');
      open = m[1];
    }
  }
  assert.equal(open, undefined, 'every code block is closed');
  assert.equal(details, 0, 'every <details> is closed');
}

test('one app with a short diff: the comment is whole, with no note of anything left out', () => {
  const text = planComment([rowOf(bumpPlan())], SHA, defaultPlanCommentOptions('dev'));
  assert.doesNotMatch(text, /Not everything fits|left out|tether diff/);
  assert.match(text, /^# prune ConfigMap\/web\/old$/m);
  assertFencesClosed(text);
});

test('six apps with large diffs fit in one comment GitHub accepts: the largest diffs give way, every verdict stays', () => {
  // Each diff is cut to 12,000 characters per app; six of those and the rest make more than 65,536.
  const plans = ['a', 'b', 'c', 'd', 'e', 'f'].map((app, i) => changedConfigMaps(app, 30 + i * 5, 1000));
  const small = changedConfigMaps('small', 2, 40);
  const rows = [...plans, small].map(rowOf);
  const options = defaultPlanCommentOptions('dev');
  const unfitted = planComment(rows, SHA, { ...options, maxChars: Number.POSITIVE_INFINITY });
  assert.ok(chars(unfitted) > 65_536, `the case needs fitting: ${chars(unfitted)} characters`);
  const text = planComment(rows, SHA, options);
  assert.ok(chars(text) <= options.maxChars, `${chars(text)} characters`);
  assert.ok(chars(text) > options.maxChars - 3_000, `the room is used: ${chars(text)} characters`);
  assert.ok(text.startsWith(`${planMarker('dev')}\n`));
  for (const plan of [...plans, small]) {
    assert.match(text, new RegExp(`^\\| \`${plan.app}\` \\| ✅ ${plan.objects.length} to change \\|`, 'm'));
  }
  // The small diff is shown whole; the large ones are cut to a common length, each with a count.
  const block = (app: string) => new RegExp(`<code>${app}</code>: diff[^]*?</details>`).exec(text)?.[0] ?? '';
  assert.doesNotMatch(block('small'), /not shown/);
  const lengths = plans.map((p) => chars(block(p.app)));
  for (const p of plans) assert.match(block(p.app), /\n… (the rest of that line and )?\d+ more lines not shown\n/);
  assert.ok(Math.max(...lengths) - Math.min(...lengths) < 400, `common length: ${lengths}`);
  assert.match(text, /\*\*Not everything fits in this comment\*\*/);
  assert.match(text, /- cut short, with a count of the lines left out: `a`, `b`, `c`, `d`, `e`, `f`\n/);
  assert.match(
    text,
    /`tether diff --config <file> --app <app>`, with the app's `ref` set to this pull request's branch/,
  );
  assertFencesClosed(text);
});

test('fifty apps: every verdict stays in the table, small diffs whole, the large ones cut to a common length', () => {
  const plans = Array.from({ length: 50 }, (_, i) => changedConfigMaps(`app-${i}`, i % 5 === 0 ? 1 : 10 + i * 2, 300));
  const options = defaultPlanCommentOptions('dev');
  const text = planComment(plans.map(rowOf), SHA, options);
  assert.ok(chars(text) <= options.maxChars, `${chars(text)} characters`);
  const block = (app: string) => new RegExp(`<code>${app}</code>: diff[^]*?</details>`).exec(text)?.[0] ?? '';
  const cut: number[] = [];
  for (const [i, plan] of plans.entries()) {
    assert.match(text, new RegExp(`^\\| \`${plan.app}\` \\| ✅ ${plan.objects.length} to change \\|`, 'm'));
    if (i % 5 === 0) assert.doesNotMatch(block(plan.app), /not shown/);
    else {
      assert.match(block(plan.app), /\n… (the rest of that line and )?\d+ more lines not shown\n/);
      cut.push(chars(block(plan.app)));
    }
  }
  assert.ok(Math.max(...cut) - Math.min(...cut) < 400, `common length: ${cut}`);
  assert.doesNotMatch(text, /^- left out/m);
  assertFencesClosed(text);
});

test('two hundred apps: diffs too many to show a useful part of each are left out, largest first, and named', () => {
  const plans = Array.from({ length: 200 }, (_, i) => changedConfigMaps(`app-${i}`, 1 + (i % 9), 200));
  const options = defaultPlanCommentOptions('dev');
  const text = planComment(plans.map(rowOf), SHA, options);
  assert.ok(chars(text) <= options.maxChars, `${chars(text)} characters`);
  for (const plan of plans) assert.match(text, new RegExp(`^\\| \`${plan.app}\` \\| ✅`, 'm'));
  const shown = plans.filter((p) => text.includes(`<code>${p.app}</code>: diff`));
  const left = plans.filter((p) => !shown.includes(p));
  assert.ok(left.length > 0 && shown.length > 0, `${shown.length} shown`);
  // Only diffs at least as large as every shown one are left out.
  const smallestLeft = Math.min(...left.map((p) => p.objects.length));
  assert.ok(shown.every((p) => p.objects.length <= smallestLeft));
  const note = /^- left out: the diffs of (.*)$/m.exec(text)?.[1] ?? '';
  assert.match(note, /^`app-\d+`, /);
  assert.match(note, new RegExp(` and ${left.length - 10} more$`));
  assert.match(text, /`tether diff --config <file> --app <app>`/);
  assertFencesClosed(text);
});

test('a diff of astral characters is cut and counted as GitHub counts: code points, never half an emoji', () => {
  // Every emoji is two UTF-16 units: counted in units, this comment would seem twice its length.
  const plans = ['a', 'b', 'c', 'd', 'e', 'f'].map((app) => changedConfigMaps(app, 40, 301, '🚀'));
  const options = defaultPlanCommentOptions('dev');
  const text = planComment(plans.map(rowOf), SHA, options);
  assert.ok(wellFormed(text), 'no lone surrogate');
  assert.ok(chars(text) <= options.maxChars, `${chars(text)} characters`);
  assert.ok(text.length > 65_536, `room counted in code points: ${text.length} UTF-16 units`);
  assertFencesClosed(text);
  // One line longer than the whole allowance still shows its start, cut on a character boundary.
  const one = changedConfigMaps('one', 1, 20_000, '🚀');
  const cut = planComment([rowOf(one)], SHA, options);
  assert.ok(wellFormed(cut));
  assert.match(cut, /^\+ {2}value: 🚀+…$/mu);
  assert.match(cut, /\n… the rest of that line and \d+ more lines? not shown\n/);
  assertFencesClosed(cut);
});

test('past what diffs can free, findings are counted instead of listed, then passing apps leave the table', () => {
  const entry = (i: number) => ({
    subject: `ConfigMap/web/c${i}`,
    reason: `owned by the ApplySet of ${'x'.repeat(200)}`,
  });
  const plans = Array.from({ length: 40 }, (_, i) => ({
    ...changedConfigMaps(`app-${i}`, 20, 100),
    conflicts: Array.from({ length: 20 }, (_, j) => entry(j)),
  }));
  const options = defaultPlanCommentOptions('dev');
  const text = planComment(plans.map(rowOf), SHA, options);
  assert.ok(chars(text) <= options.maxChars, `${chars(text)} characters`);
  for (const plan of plans) assert.match(text, new RegExp(`^\\| \`${plan.app}\` \\| ❌ Conflict`, 'm'));
  assert.match(text, /^\*\*`app-\d+`\*\* — 20 another owner manages \(not listed: see below\)$/m);
  assert.match(text, /^- counted, not listed: the objects and hooks of /m);
  // A thousand apps do not fit even as rows: the passing ones go first, the failing ones stay.
  const many = Array.from({ length: 1000 }, (_, i) => {
    const plan = changedConfigMaps(`app-${i}-${'n'.repeat(60)}`, 1, 10);
    return i % 100 === 0 ? { ...plan, renderError: 'bad' } : plan;
  });
  const crowded = planComment(many.map(rowOf), SHA, options);
  assert.ok(chars(crowded) <= options.maxChars, `${chars(crowded)} characters`);
  for (const p of many.filter((p) => p.renderError))
    assert.match(crowded, new RegExp(`^\\| \`${p.app}\` \\| ❌ Render failed`, 'm'));
  const hidden = Number(
    /^- not in the table: (\d+) more apps; each app's verdict is its `tether\/dev\/<app>\/plan` status on `aaaaaaa`$/m.exec(
      crowded,
    )?.[1],
  );
  assert.ok(hidden > 0 && hidden < 1000, String(hidden));
  assert.equal(crowded.split('\n').filter((l) => /^\| `app-/.test(l)).length, 1000 - hidden);
  assert.doesNotMatch(crowded, /not passing/, 'only passing apps left the table');
  assertFencesClosed(crowded);
});
