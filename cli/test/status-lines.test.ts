import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyView, ProjectView } from '../../agent/src/core/agent-view.ts';
import { type StatusRow, statusLines } from '../agent.ts';

const policy = (project: string, extra: Partial<PolicyView> = {}): PolicyView => ({
  project,
  syncPolicy: 'automated',
  suspended: false,
  prune: true,
  selfHeal: true,
  windows: [],
  ...extra,
});
const row = (app: string, p: PolicyView): StatusRow => ({
  app,
  revision: 'abcdef0123',
  sync: 'Synced',
  health: 'Healthy',
  message: 'ok',
  project: p.project,
  policy: p,
});
const project = (name: string, apps: string[], extra: Partial<ProjectView> = {}): ProjectView => ({
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

test('with only the default project: one flat table with a POLICY column', () => {
  const lines = statusLines(
    [row('web', policy('default')), row('api', policy('default', { syncPolicy: 'manual' }))],
    [project('default', ['web', 'api'], { origin: 'built-in' })],
  );
  assert.match(lines[0]!, /^APP\s+REVISION\s+SYNC\s+HEALTH\s+POLICY\s+DEFINED IN\s+MESSAGE$/);
  assert.match(lines[1]!, /^web\s+abcdef0\s+Synced\s+Healthy\s+automated\s+config\s+ok$/);
  assert.match(lines[2]!, /^api\s+abcdef0\s+Synced\s+Healthy\s+manual\s+config\s+ok$/);
  assert.equal(lines.length, 3);
});

test('with projects: apps under a line per project naming its rules and what its windows say now', () => {
  const lines = statusLines(
    [
      row('web', policy('team-a', { windowNow: 'sync window deny until 06:00 UTC' })),
      row('batch', policy('default', { suspended: true })),
      row('ghost', policy('nope')),
    ],
    [
      project('default', ['batch'], { origin: 'built-in', clusterResourceAllowlist: ['*'] }),
      project('team-a', ['web'], {
        sourceRepos: ['https://github.com/acme/*'],
        destinationNamespaces: ['team-a-*'],
        prune: false,
        windows: ['deny 0 22 * * * for 8h (manual syncs allowed)'],
        windowNow: 'sync window deny until 06:00 UTC',
      }),
      project('nope', ['ghost'], {
        origin: 'undefined',
        problem: 'project nope is not defined; its apps are not synced',
      }),
    ],
  );
  assert.deepEqual(
    lines.slice(1).map((l) => l.split(/\s+/)[0]),
    ['project', 'batch', 'project', 'web', 'project', 'ghost'],
  );
  assert.equal(lines[1], 'project default (built-in): repos *; namespaces *; cluster kinds *');
  assert.equal(
    lines[3],
    'project team-a (config): repos https://github.com/acme/*; namespaces team-a-*; cluster kinds none; no prune; windows deny 0 22 * * * for 8h (manual syncs allowed); * sync window deny until 06:00 UTC',
  );
  assert.match(lines[2]!, /^batch\s.*\ssuspended\s/);
  assert.match(lines[4]!, /^web\s.*\sautomated\*\s/);
  assert.match(lines[5]!, /! project nope is not defined/);
});
