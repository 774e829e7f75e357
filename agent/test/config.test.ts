import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configHealthRules, helmOptions, loadConfig, parseConfig, parseDuration } from '../src/config.ts';

const minimal = {
  cluster: 'prod-eu',
  apps: [{ name: 'web', repo: 'https://github.com/acme/env.git', path: 'envs/prod/web' }],
};

test('durations parse like Go durations', () => {
  assert.equal(parseDuration('60s'), 60_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5'), undefined);
  assert.equal(parseDuration('5x'), undefined);
  assert.equal(parseDuration(''), undefined);
});

test('a minimal config gets the documented defaults', () => {
  const c = parseConfig(minimal);
  const app = c.apps[0]!;
  assert.equal(app.ref, 'main');
  assert.equal(app.namespace, 'default');
  assert.equal(app.prune, true);
  assert.equal(app.selfHeal, true);
  assert.equal(app.interval, 60_000);
  assert.equal(app.maxDeleteFraction, 0.5);
  assert.equal(app.pruneAdopted, false);
  assert.equal(app.waveTimeout, 300_000);
  assert.equal(c.inventoryNamespace, 'tether-system');
  assert.equal(c.server.port, 8080);
  assert.equal(c.leaderElection.enabled, false);
});

test('every bad field is named, with the file', () => {
  const bad = {
    cluster: 'Prod EU',
    github: { tokenFile: '/t', app: { appId: 1, privateKeyFile: '/k', installationId: 2 } },
    apps: [
      { name: 'web', repo: 'r', interval: 'soon', prunee: true },
      { name: 'web', repo: 'r' },
    ],
  };
  assert.throws(
    () => parseConfig(bad, 'tether.yaml'),
    (err: Error) => {
      assert.match(err.message, /tether\.yaml: cluster: must be a DNS label/);
      assert.match(err.message, /tether\.yaml: apps\[0\]\.interval: "soon" is not a duration/);
      assert.match(err.message, /tether\.yaml: apps\[0\]: unknown field "prunee"/);
      assert.match(err.message, /tether\.yaml: github: give tokenFile or app, not both/);
      return true;
    },
  );
  // Cross-field checks run once the fields themselves are valid.
  assert.throws(
    () => parseConfig({ cluster: 'x', apps: [minimal.apps[0], minimal.apps[0]] }, 'tether.yaml'),
    /tether\.yaml: apps\[1\]\.name: duplicate app name "web"/,
  );
  assert.throws(
    () => parseConfig({ cluster: 'x', apps: [] }),
    /apps: at least one app \(apps\) or app source \(appsFrom\) is needed/,
  );
  assert.throws(
    () => parseConfig({ cluster: 'x', apps: [{ ...minimal.apps[0], pruneAdopted: 'yes' }] }, 'tether.yaml'),
    /tether\.yaml: apps\[0\]\.pruneAdopted: /,
  );
  assert.equal(
    parseConfig({ cluster: 'x', apps: [{ ...minimal.apps[0], pruneAdopted: true }] }).apps[0]?.pruneAdopted,
    true,
  );
});

test('loadConfig names the file for YAML errors and missing files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-config-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'cluster: [unclosed\n');
  assert.throws(() => loadConfig(file), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  assert.throws(() => loadConfig(join(dir, 'missing.yaml')), /missing\.yaml: ENOENT/);
});

test('repo URLs the agent cannot or should not fetch are refused, each with the fix', () => {
  const withRepo = (repo: string, github?: object) => ({
    ...minimal,
    ...(github ? { github } : {}),
    apps: [{ name: 'web', repo, path: 'envs/prod/web' }],
  });
  const cases: [string, RegExp, object?][] = [
    ['ssh://git@github.com/acme/env.git', /apps\[0\]\.repo: .*SSH URL.*use https:\/\//],
    ['git@github.com:acme/env.git', /apps\[0\]\.repo: .*SSH URL/],
    ['file:///srv/env.git', /apps\[0\]\.repo: .*local path/],
    ['https://x-access-token:ghs_secret@github.com/acme/env.git', /carries credentials.*github\.tokenFile/],
    [
      'http://git.internal.example/acme/env.git',
      /plain HTTP and a token is configured.*https:\/\//,
      { tokenFile: '/t' },
    ],
  ];
  for (const [repo, message, github] of cases) {
    assert.throws(
      () => parseConfig(withRepo(repo, github), 'c.yaml'),
      (err: Error) => {
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /ghs_secret/, 'the credential is not echoed');
        return true;
      },
      repo,
    );
  }
  // Plain HTTP is fine to this machine (a local Git server) and without a token.
  parseConfig(withRepo('http://127.0.0.1:8080/acme/env.git', { tokenFile: '/t' }));
  parseConfig(withRepo('http://git.internal.example/acme/env.git'));
});

test('intervals under 5 s and unknown protected kinds are refused, naming the field', () => {
  const app = { name: 'web', repo: 'https://github.com/acme/env.git' };
  assert.throws(
    () => parseConfig({ ...minimal, apps: [{ ...app, interval: '1ms' }] }, 'c.yaml'),
    /c\.yaml: apps\[0\]\.interval: at least 5s/,
  );
  assert.throws(
    () => parseConfig({ ...minimal, apps: [{ ...app, allowProtectedKinds: ['Namespaces'] }] }, 'c.yaml'),
    /c\.yaml: apps\[0\]\.allowProtectedKinds\[0\]: "Namespaces" is not a protected kind; the protected kinds are Namespace, /,
  );
  assert.deepEqual(
    parseConfig({ ...minimal, apps: [{ ...app, interval: '5s', allowProtectedKinds: ['Namespace'] }] }).apps[0]!
      .allowProtectedKinds,
    ['Namespace'],
  );
});

test('health rules: validated and compiled once per config; a bad expression is a config error naming the rule', () => {
  const rule = {
    group: 'example.com',
    kind: 'Widget',
    current: "status.phase == 'Running'",
    failed: "status.phase == 'Failed'",
  };
  const c = parseConfig({ ...minimal, health: [rule] });
  assert.deepEqual(c.health, [rule]);
  assert.equal(parseConfig(minimal).health.length, 0);
  const rules = configHealthRules(c);
  assert.equal(configHealthRules(c), rules, 'compiled once per config object');
  assert.equal(rules.find('example.com', 'Widget')?.name, 'health[0] (example.com/Widget)');
  assert.equal(rules.find('argoproj.io', 'Rollout')?.name, 'built-in rule argoproj.io/Rollout');

  assert.throws(
    () =>
      parseConfig(
        { ...minimal, health: [rule, { group: 'argoproj.io', kind: 'Rollout', current: 'self.status.phase ==' }] },
        'tether.yaml',
      ),
    (err: Error) =>
      /^tether\.yaml: health\[1\]\.current: rule argoproj\.io\/Rollout: .+ in "self\.status\.phase =="$/m.test(
        err.message,
      ),
  );
  assert.throws(
    () => parseConfig({ ...minimal, health: [{ group: 'x.io', kind: 'Y', current: 'true', phase: 'x' }] }, 'c'),
    /c: health\[0\]: unknown field "phase"/,
  );
  assert.throws(
    () => parseConfig({ ...minimal, health: [{ group: 'x.io', kind: 'Y' }] }, 'c'),
    /c: health\[0\]\.current:/,
  );
});

test('Helm renders with the app name as release name unless helm.releaseName says otherwise', () => {
  const c = parseConfig({
    ...minimal,
    apps: [
      { name: 'web', repo: 'https://github.com/acme/env.git', namespace: 'shop' },
      {
        name: 'api',
        repo: 'https://github.com/acme/env.git',
        helm: { releaseName: 'api-v2', valuesFiles: ['prod.yaml'] },
      },
    ],
  });
  assert.deepEqual(helmOptions(c.apps[0]!), { valuesFiles: [], releaseName: 'web', namespace: 'shop' });
  assert.deepEqual(helmOptions(c.apps[1]!), {
    valuesFiles: ['prod.yaml'],
    releaseName: 'api-v2',
    namespace: 'default',
  });
});

test('waveTimeout is a duration, named when it is not', () => {
  const app = (waveTimeout: unknown) => ({ cluster: 'x', apps: [{ ...minimal.apps[0], waveTimeout }] });
  assert.equal(parseConfig(app('90s')).apps[0]!.waveTimeout, 90_000);
  assert.throws(() => parseConfig(app('later'), 'tether.yaml'), /apps\[0\]\.waveTimeout: "later" is not a duration/);
});

test('pull request plans are opt-in per app, with an agent-wide concurrency limit', () => {
  const c = parseConfig(minimal);
  assert.equal(c.apps[0]!.planPullRequests, false);
  assert.equal(c.planning.concurrency, 2);
  const on = parseConfig({
    ...minimal,
    planning: { concurrency: 4 },
    apps: [{ ...minimal.apps[0], planPullRequests: true }],
  });
  assert.equal(on.apps[0]!.planPullRequests, true);
  assert.equal(on.planning.concurrency, 4);
  assert.throws(
    () => parseConfig({ ...minimal, planning: { concurrency: 0 } }, 'tether.yaml'),
    /tether\.yaml: planning\.concurrency: /,
  );
  assert.throws(
    () => parseConfig({ ...minimal, apps: [{ ...minimal.apps[0], planPullRequests: 'yes' }] }, 'tether.yaml'),
    /tether\.yaml: apps\[0\]\.planPullRequests: /,
  );
});

test('an app source over plain HTTP to another machine is refused when a token is configured', () => {
  assert.throws(
    () =>
      parseConfig(
        {
          cluster: 'x',
          github: { tokenFile: '/t' },
          appsFrom: [{ repo: 'http://git.example.com/acme/env.git', path: 'apps' }],
        },
        'tether.yaml',
      ),
    /tether\.yaml: appsFrom\[0\]\.repo: "http:\/\/git\.example\.com\/acme\/env\.git" is plain HTTP and a token is configured/,
  );
  const c = parseConfig({ cluster: 'x', appsFrom: [{ name: 'team', repo: 'https://github.com/acme/env.git' }] });
  assert.deepEqual(c.apps, []);
  assert.equal(c.appsFrom[0]!.maxDepth, 3);
  assert.deepEqual(c.clusterServers, []);
});

test('an app named like an app source status (apps, apps-<name>) is refused, naming both', () => {
  const repo = 'https://github.com/acme/env.git';
  const web = { name: 'web', repo, path: 'envs/dev/web', namespace: 'web' };
  assert.throws(
    () => parseConfig({ cluster: 'x', apps: [{ ...web, name: 'apps' }], appsFrom: [{ repo, path: 'apps' }] }, 't.yaml'),
    /t\.yaml: apps\[0\]\.name: app "apps" would post the same commit status context tether\/x\/apps as app source appsFrom\[0\] \(https:\/\/github\.com\/acme\/env\.git@main:apps\)/,
  );
  assert.throws(
    () =>
      parseConfig({
        cluster: 'x',
        apps: [web, { ...web, name: 'apps-team' }],
        appsFrom: [
          { repo, path: 'apps' },
          { name: 'team', repo, path: 'team' },
        ],
      }),
    /apps\[1\]\.name: app "apps-team" would post the same commit status context tether\/x\/apps-team as app source appsFrom\[1\]/,
  );
  // Names no source posts under are free: `apps-team` without a source named team, `apps` without any source.
  const named = parseConfig({ cluster: 'x', apps: [{ ...web, name: 'apps-team' }], appsFrom: [{ name: 'b', repo }] });
  assert.equal(named.apps[0]!.name, 'apps-team');
  assert.equal(parseConfig({ cluster: 'x', apps: [{ ...web, name: 'apps' }] }).apps[0]!.name, 'apps');
});

test('retry: Tether defaults, partial overrides, and errors naming the field', () => {
  const app = (retry: unknown) => ({ cluster: 'x', apps: [{ ...minimal.apps[0], retry }] });
  assert.deepEqual(parseConfig(minimal).apps[0]!.retry, {
    limit: 5,
    backoff: { duration: 5000, factor: 2, maxDuration: 180_000 },
  });
  assert.deepEqual(parseConfig(app({ limit: 2, backoff: { duration: '1s' } })).apps[0]!.retry, {
    limit: 2,
    backoff: { duration: 1000, factor: 2, maxDuration: 180_000 },
  });
  assert.equal(parseConfig(app({ limit: -1 })).apps[0]!.retry.limit, -1);
  assert.throws(() => parseConfig(app({ limit: 1.5 }), 'c.yaml'), /c\.yaml: apps\[0\]\.retry\.limit: /);
  assert.throws(
    () => parseConfig(app({ backoff: { duration: 'soon' } }), 'c.yaml'),
    /apps\[0\]\.retry\.backoff\.duration: "soon" is not a duration/,
  );
  assert.throws(() => parseConfig(app({ backoff: { factor: 0 } }), 'c.yaml'), /apps\[0\]\.retry\.backoff\.factor: /);
  assert.throws(
    () => parseConfig(app({ backoff: { duration: '5m', maxDuration: '1m' } }), 'c.yaml'),
    /apps\[0\]\.retry\.backoff\.maxDuration: must not be shorter than backoff\.duration/,
  );
  assert.throws(() => parseConfig(app({ limt: 3 }), 'c.yaml'), /apps\[0\]\.retry: unknown field "limt"/);
});
