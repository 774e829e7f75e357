import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../shared/src/plan-edits.ts';
import { bumpTarget, changeBranch, commonDir, globPrefix, slug } from '../src/change-key.ts';
import { changeTable, defaultTitle, prBody, runLink } from '../src/pr-text.ts';
import { contextMatcher, gateVerdict, pickQualifying } from '../src/status-gate.ts';

const change = (over: Partial<Change> = {}): Change => ({
  file: 'envs/dev/web/deploy.yaml',
  document: 0,
  location: 'spec.template.spec.containers[0].image',
  image: 'ghcr.io/acme/web',
  old: 'ghcr.io/acme/web:1.0.0',
  new: 'ghcr.io/acme/web:1.1.0',
  ...over,
});

test('branches are deterministic per mode, target and images', () => {
  assert.equal(
    changeBranch({ mode: 'bump', target: 'envs/dev', images: ['ghcr.io/acme/web'] }),
    'tether/bump/envs-dev/web',
  );
  assert.equal(
    changeBranch({
      mode: 'bump',
      target: 'envs/dev',
      images: ['ghcr.io/acme/web', 'docker.io/library/nginx', 'ghcr.io/acme/web'],
    }),
    'tether/bump/envs-dev/nginx-web',
  );
  assert.equal(
    changeBranch({ mode: 'promote', target: 'envs/staging', images: [] }),
    'tether/promote/envs-staging/all',
  );
  assert.equal(slug('Envs/Dev Web'), 'envs-dev-web');
  assert.equal(slug(''), 'root');
});

test('the bump target comes from the paths input, else from the changed files', () => {
  assert.equal(globPrefix('envs/dev/**'), 'envs/dev');
  assert.equal(globPrefix('envs/*/web/*.yaml'), 'envs');
  assert.equal(globPrefix('envs/dev/values.yaml'), 'envs/dev');
  assert.equal(commonDir(['envs/dev/web/a.yaml', 'envs/dev/api/b.yaml']), 'envs/dev');
  assert.equal(bumpTarget(['envs/dev/**'], []), 'envs/dev');
  assert.equal(bumpTarget([], [change(), change({ file: 'envs/dev/web/kustomization.yaml' })]), 'envs/dev/web');
});

test('status gate: patterns, latest per context, the newest qualifying commit', () => {
  const m = contextMatcher(['tether/staging/*']);
  assert.equal(m('tether/staging/web'), true);
  assert.equal(m('tether/staging/web/x'), false);
  assert.equal(m('tether/prod/web'), false);
  assert.equal(contextMatcher(['tether/**'])('tether/a/b'), true);
  // Newest first: the latest `pending` overrides an older `success` of the same context.
  assert.deepEqual(
    gateVerdict(
      [
        { context: 'tether/staging/web', state: 'pending' },
        { context: 'tether/staging/web', state: 'success' },
      ],
      ['tether/staging/*'],
    ).ok,
    false,
  );
  const commits = [
    { sha: 'c3'.padEnd(40, '0'), statuses: [{ context: 'tether/staging/web', state: 'pending' }] },
    { sha: 'c2'.padEnd(40, '0'), statuses: [{ context: 'tether/staging/web', state: 'failure' }] },
    {
      sha: 'c1'.padEnd(40, '0'),
      statuses: [
        { context: 'tether/staging/web', state: 'success' },
        { context: 'ci', state: 'failure' },
      ],
    },
  ];
  const picked = pickQualifying(commits, ['tether/staging/*']);
  assert.equal(picked.commit?.sha.slice(0, 2), 'c1');
  const none = pickQualifying(commits.slice(0, 2), ['tether/staging/*']);
  assert.equal(none.commit, undefined);
  assert.deepEqual('newest' in none && none.newest, { sha: commits[0]!.sha, summary: 'pending' });
  assert.equal(pickQualifying(commits, [], { skip: 1 }).commit?.sha.slice(0, 2), 'c2');
  assert.equal(gateVerdict([], ['tether/staging/*']).summary, 'no status');
});

test('PR texts: title, table with run link, evidence, marker', () => {
  const run = runLink({ GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/web', GITHUB_RUN_ID: '42' });
  assert.deepEqual(run, { url: 'https://github.com/acme/web/actions/runs/42', label: 'acme/web run 42' });
  const s = { mode: 'bump' as const, target: 'envs/dev', changes: [change()], ...(run ? { run } : {}) };
  assert.equal(defaultTitle(s), 'Bump web 1.1.0 in envs/dev');
  const table = changeTable(s);
  assert.match(table, /\| `ghcr.io\/acme\/web` \| `envs\/dev\/web\/deploy.yaml` /);
  assert.match(table, /`ghcr.io\/acme\/web:1.0.0` → `ghcr.io\/acme\/web:1.1.0`/);
  assert.match(table, /\[acme\/web run 42\]\(https:\/\/github.com\/acme\/web\/actions\/runs\/42\)/);
  const body = prBody(
    {
      mode: 'promote',
      from: 'envs/dev',
      target: 'envs/staging',
      changes: [change({ file: 'envs/staging/web/deploy.yaml' })],
      evidence: {
        from: 'envs/dev',
        sha: 'abcdef1234567890',
        statuses: [{ context: 'tether/dev/web', state: 'success', description: 'Synced 3 resources · Healthy' }],
      },
      branch: 'tether/promote/envs-staging/web',
    },
    'Please review.',
  );
  assert.match(body, /^Please review\./);
  assert.match(body, /Promotes `envs\/dev` → `envs\/staging`/);
  assert.match(body, /`tether\/dev\/web`: \*\*success\*\* — Synced 3 resources · Healthy/);
  assert.match(body, /<!-- tether:promote branch=tether\/promote\/envs-staging\/web -->/);
  const warned = prBody({ ...s, warnings: ['ci/.gitlab-ci.yml: does not parse, so it was not searched: …'] });
  assert.match(warned, /### Warnings\n\n- ci\/\.gitlab-ci\.yml: does not parse, so it was not searched: …\n/);
  assert.equal(
    defaultTitle({ mode: 'rollback', target: 'envs/staging', changes: [change({ new: 'ghcr.io/acme/web:0.9.0' })] }),
    'Roll back envs/staging: web 0.9.0',
  );
});
