import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appConfigSchema } from '../src/config.ts';
import {
  CONFIG_ORIGIN,
  type DefinedApp,
  duplicateMessage,
  gitOrigin,
  planAppChanges,
  type RunningApp,
  resolveApps,
} from '../src/core/app-set-plan.ts';

const cfg = (name: string, extra: Record<string, unknown> = {}) =>
  appConfigSchema.parse({ name, repo: 'https://github.com/acme/env.git', path: `envs/${name}`, ...extra });
const git = (name: string, file = `apps/${name}.yaml`, extra: Record<string, unknown> = {}): DefinedApp => ({
  app: cfg(name, extra),
  origin: gitOrigin('https://github.com/acme/env.git', 'main', file),
  source: 'apps',
});
const fromConfig = (name: string): DefinedApp => ({ app: cfg(name), origin: CONFIG_ORIGIN, source: CONFIG_ORIGIN });
const running = (...defs: DefinedApp[]): Map<string, RunningApp> => new Map(defs.map((d) => [d.app.name, d]));

test('a name defined once stands; defined twice it is refused with every place named', () => {
  const { apps, duplicates } = resolveApps([fromConfig('web'), git('web'), git('api'), git('api', 'apps/api-2.yaml')]);
  assert.deepEqual([...apps.keys()], []);
  assert.deepEqual(
    duplicates.map((d) => d.name),
    ['web', 'api'],
  );
  assert.equal(
    duplicateMessage(duplicates[0]!),
    'app web is defined 2 times (config and https://github.com/acme/env.git@main:apps/web.yaml): refused in every place',
  );
  const one = resolveApps([fromConfig('web'), git('api')]);
  assert.deepEqual([...one.apps.keys()], ['web', 'api']);
  assert.deepEqual(one.duplicates, []);
});

test('the changes: new apps start, changed ones restart, removed ones go, duplicates are refused, held ones stay', () => {
  const now = running(fromConfig('web'), git('api'), git('old'), git('held'), git('twice'));
  const { apps, duplicates } = resolveApps([
    fromConfig('web'),
    git('api', 'apps/api.yaml', { interval: '30s' }),
    git('new'),
    git('twice'),
    git('twice', 'apps/twice-2.yaml'),
  ]);
  const changes = planAppChanges(now, apps, duplicates, (r) => r.app.name === 'held');
  assert.deepEqual(
    changes.add.map((d) => d.app.name),
    ['new'],
  );
  assert.deepEqual(
    changes.change.map((d) => d.app.name),
    ['api'],
  );
  assert.deepEqual(
    changes.remove.map((r) => r.app.name),
    ['old'],
  );
  assert.deepEqual(
    changes.refuse.map((r) => r.app.name),
    ['twice'],
  );
});

test('the same definition moved to another file is a change (its origin is shown); an identical one is not', () => {
  const now = running(git('api'));
  assert.deepEqual(planAppChanges(now, resolveApps([git('api')]).apps, []), {
    add: [],
    change: [],
    remove: [],
    refuse: [],
  });
  const moved = planAppChanges(now, resolveApps([git('api', 'apps/team/api.yaml')]).apps, []);
  assert.deepEqual(
    moved.change.map((d) => d.origin),
    ['https://github.com/acme/env.git@main:apps/team/api.yaml'],
  );
});
