import assert from 'node:assert/strict';
import { test } from 'node:test';
import { projectSchema } from '../src/config.ts';
import type { AppView, ProjectView } from '../src/core/agent-view.ts';
import { refusedSummary, statusFor, syncVerdict } from '../src/core/commit-status.ts';
import { ProjectSet } from '../src/core/project-set.ts';
import { renderAppPage, renderIndexPage } from '../src/core/status-page.ts';
import { decideSync, healAllowed, heldText, manualSyncRefusal, type PolicyInput } from '../src/core/sync-policy.ts';
import type { SyncWindow } from '../src/core/sync-windows.ts';

const night: SyncWindow = { kind: 'deny', schedule: '0 22 * * *', duration: 8 * 3_600_000, manualSync: true };
const inWindow = new Date('2026-12-02T23:00:00Z');
const outside = new Date('2026-12-02T12:00:00Z');
const auto: PolicyInput = { syncPolicy: 'automated', suspended: false, windows: [night] };
const req = { by: 'api', at: '2026-12-02T23:00:00Z' };

test('automated syncs run outside windows and are held inside a deny', () => {
  assert.deepEqual(decideSync(auto, undefined, outside), { kind: 'sync' });
  assert.deepEqual(decideSync(auto, undefined, inWindow), {
    kind: 'preview',
    reason: 'sync window deny until 2026-12-03 06:00 UTC',
  });
});

test('a manual request runs inside a deny that allows manual syncs, and is held by one that does not', () => {
  assert.deepEqual(decideSync(auto, req, inWindow), { kind: 'sync', requestedBy: 'api' });
  const strict = { ...auto, windows: [{ ...night, manualSync: false }] };
  assert.deepEqual(decideSync(strict, req, inWindow), {
    kind: 'preview',
    reason: 'manual sync by api refused: sync window deny until 2026-12-03 06:00 UTC',
  });
  assert.match(manualSyncRefusal(strict, inWindow) ?? '', /does not allow manual syncs/);
  assert.equal(manualSyncRefusal(auto, inWindow), undefined);
});

test('manual policy only compares until asked; suspended does nothing and refuses requests', () => {
  const manual: PolicyInput = { syncPolicy: 'manual', suspended: false, windows: [] };
  assert.deepEqual(decideSync(manual, undefined, outside), { kind: 'preview', reason: 'awaiting sync' });
  assert.deepEqual(decideSync(manual, req, outside), { kind: 'sync', requestedBy: 'api' });
  const paused = { ...manual, suspended: true };
  assert.deepEqual(decideSync(paused, req, outside), { kind: 'skip', reason: 'suspended' });
  assert.equal(manualSyncRefusal(paused, outside), 'the app is suspended');
});

test('self-heal writes only for automated, unsuspended apps outside blocking windows', () => {
  assert.equal(healAllowed(auto, outside), true);
  assert.equal(healAllowed(auto, inWindow), false);
  assert.equal(healAllowed({ ...auto, syncPolicy: 'manual' }, outside), false);
  assert.equal(healAllowed({ ...auto, suspended: true }, outside), false);
});

test('held text counts what awaits, and says nothing when nothing differs', () => {
  assert.equal(
    heldText('awaiting sync', { toApply: 3, toPrune: 1, refused: 0 }),
    'awaiting sync: 3 to apply, 1 to prune',
  );
  assert.equal(
    heldText('awaiting sync', { toApply: 0, toPrune: 0, refused: 2 }),
    'awaiting sync: 2 refused by the project',
  );
  assert.equal(heldText('awaiting sync', { toApply: 0, toPrune: 0, refused: 0 }), undefined);
});

test('projects by origin: replaced per origin, a name defined twice is refused, default is built in until defined', () => {
  const set = new ProjectSet([projectSchema.parse({ name: 'team-a' })]);
  assert.equal(set.resolve('default').origin, 'built-in');
  assert.equal(set.resolve('team-a').origin, 'config');
  assert.match(set.resolve('team-b').problem ?? '', /project team-b is not defined/);
  const changed = set.set('apps-git', [
    projectSchema.parse({ name: 'team-b' }),
    projectSchema.parse({ name: 'team-a' }),
  ]);
  assert.deepEqual([...changed].sort(), ['team-a', 'team-b']);
  assert.equal(set.resolve('team-b').origin, 'apps-git');
  assert.equal(set.resolve('team-a').problem, 'project team-a is defined 2 times (config, apps-git)');
  assert.deepEqual(
    set.list().map((p) => [p.name, p.origin, p.problem !== undefined]),
    [
      ['default', 'built-in', false],
      ['team-a', 'config', true],
      ['team-a', 'apps-git', true],
      ['team-b', 'apps-git', false],
    ],
  );
  // The origin drops its documents: what it defined goes, what others define stays.
  set.set('apps-git', []);
  assert.equal(set.resolve('team-a').origin, 'config');
  assert.match(set.resolve('team-b').problem ?? '', /not defined/);
  set.set('apps-git', [projectSchema.parse({ name: 'default', sourceRepos: ['https://github.com/acme/*'] })]);
  assert.equal(set.resolve('default').origin, 'apps-git');
});

test('refused objects: OutOfSync, and a failure status naming them', () => {
  const entries = [
    { subject: 'ClusterRoleBinding/admin', action: 'refused' as const, reason: 'project team-a: … cluster-scoped' },
    { subject: 'ConfigMap/kube-system/x', action: 'refused' as const, reason: 'project team-a: namespace …' },
  ];
  const lastSync = {
    revision: 'a'.repeat(40),
    startedAt: '2026-12-02T00:00:00Z',
    durationMs: 1,
    entries,
    error: { stage: 'apply' as const, message: 'refused, nothing was applied: …' },
  };
  assert.equal(syncVerdict(lastSync), 'OutOfSync');
  assert.equal(refusedSummary(entries), 'ClusterRoleBinding/admin, ConfigMap/kube-system/x outside project team-a');
  const s = statusFor(
    { app: 'web', sync: 'OutOfSync', health: { status: 'Unknown', message: '' }, lastSync },
    { cluster: 'dev' },
  );
  assert.equal(s.state, 'failure');
  assert.equal(s.description, 'Refused: ClusterRoleBinding/admin, ConfigMap/kube-system/x outside project team-a');
  const refusedApp = statusFor(
    {
      app: 'web',
      sync: 'Unknown',
      health: { status: 'Unknown', message: '' },
      lastSync: { ...lastSync, entries: [], error: { stage: 'project', message: 'project x is not defined' } },
    },
    { cluster: 'dev' },
  );
  assert.deepEqual([refusedApp.state, refusedApp.description], ['error', 'Refused: project x is not defined']);
});

const view = (name: string, project: string, extra: Partial<AppView> = {}): AppView => ({
  name,
  repo: 'https://github.com/acme/env.git',
  ref: 'main',
  path: `envs/dev/${name}`,
  origin: 'config',
  state: { app: name, sync: 'Synced', health: { status: 'Healthy', message: 'ok' } },
  resources: [],
  policy: { project, syncPolicy: 'automated', suspended: false, prune: true, selfHeal: true, windows: [] },
  ...extra,
});
const projectView = (name: string, apps: string[], extra: Partial<ProjectView> = {}): ProjectView => ({
  name,
  origin: 'config',
  sourceRepos: ['*'],
  destinationNamespaces: ['*'],
  clusterResourceAllowlist: [],
  namespaceResourceDenylist: [],
  prune: true,
  selfHeal: true,
  windows: [],
  apps,
  ...extra,
});

test('the index page groups apps by project with each project’s rules and each app’s policy', () => {
  const apps = [
    view('web', 'team-a'),
    view('batch', 'default', {
      state: {
        app: 'batch',
        sync: 'OutOfSync',
        health: { status: 'Healthy', message: 'ok' },
        held: 'awaiting sync: 3 to apply, 1 to prune',
      },
      policy: { project: 'default', syncPolicy: 'manual', suspended: false, prune: true, selfHeal: false, windows: [] },
    }),
    view('old', 'default', {
      policy: {
        project: 'default',
        syncPolicy: 'automated',
        suspended: true,
        prune: true,
        selfHeal: true,
        windows: [],
      },
    }),
  ];
  const projects = [
    projectView('default', ['batch', 'old'], { origin: 'built-in', clusterResourceAllowlist: ['*'] }),
    projectView('team-a', ['web'], {
      destinationNamespaces: ['team-a-*'],
      prune: false,
      windows: ['deny 0 22 * * * for 8h (manual syncs allowed)'],
      windowNow: 'sync window deny until 06:00 UTC',
    }),
  ];
  const html = renderIndexPage('dev', apps, { now: new Date('2026-12-02T23:00:00Z'), projects });
  const defaultAt = html.indexOf('<h2>Project default</h2>');
  const teamAt = html.indexOf('<h2>Project team-a</h2>');
  assert.ok(defaultAt > 0 && teamAt > defaultAt, 'one heading per project');
  assert.ok(html.indexOf('>batch<') > defaultAt && html.indexOf('>batch<') < teamAt);
  assert.ok(html.indexOf('>web<') > teamAt);
  assert.match(html, /<th>Policy<\/th>/);
  assert.match(html, /awaiting sync: 3 to apply, 1 to prune/);
  assert.match(html, />manual</);
  assert.match(html, />suspended</);
  assert.match(html, /no prune/);
  assert.match(html, /deny 0 22 \* \* \* for 8h \(manual syncs allowed\)/);
  assert.match(html, /<strong>sync window deny until 06:00 UTC<\/strong>/);
  // Only the default project: the flat table, as before projects existed.
  const flat = renderIndexPage('dev', [view('web', 'default')], { projects: [projectView('default', ['web'])] });
  assert.match(flat, /<h2>Apps<\/h2>/);
  assert.doesNotMatch(flat, /Project default/);
});

test('the app page shows its project, policy, why it waits and who asked for the last manual sync', () => {
  const html = renderAppPage(
    'dev',
    view('web', 'team-a', {
      state: {
        app: 'web',
        sync: 'OutOfSync',
        health: { status: 'Healthy', message: 'ok' },
        held: 'sync window deny until 06:00 UTC: 1 to apply',
      },
      lastManualSync: { by: 'api', at: '2026-12-02T22:58:00Z', revision: 'b'.repeat(40) },
    }),
    undefined,
    { now: new Date('2026-12-02T23:00:00Z') },
  );
  assert.match(html, /<dt>Project<\/dt><dd>team-a/);
  assert.match(html, /<dt>Waiting<\/dt><dd>sync window deny until 06:00 UTC: 1 to apply<\/dd>/);
  assert.match(html, /asked by <strong>api<\/strong> 2 min ago · <span class="mono">bbbbbbb<\/span>/);
});
