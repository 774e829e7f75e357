import assert from 'node:assert/strict';
import { test } from 'node:test';
import { globToRegExp, pathMatcher } from '../../shared/src/glob.ts';
import { type Change, planEdits } from '../../shared/src/plan-edits.ts';
import { bumpTarget, changeBranch, commonDir, slug } from '../src/change-key.ts';
import { newerInPullRequest } from '../src/plan.ts';
import { changeTable, defaultTitle, prBody, runLink } from '../src/pr-text.ts';
import { describedHead } from '../src/pull-request.ts';
import { gateVerdict, mergeWindowStatuses, pickQualifying, statusGate, statusWindows } from '../src/status-gate.ts';

/** No lone surrogate: UTF-8 cannot encode one, so a round trip through it changes the text. */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

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
    'tether/bump/envs-dev/web-25141dd7',
  );
  assert.equal(
    changeBranch({
      mode: 'bump',
      target: 'envs/dev',
      images: ['ghcr.io/acme/web', 'docker.io/library/nginx', 'ghcr.io/acme/web'],
    }),
    'tether/bump/envs-dev/nginx-web-d9920ad8',
  );
  assert.equal(
    changeBranch({ mode: 'promote', target: 'envs/staging', images: [] }),
    'tether/promote/envs-staging/all',
  );
  assert.equal(slug('Envs/Dev Web'), 'envs-dev-web');
  assert.equal(slug(''), 'root');
});

test('two different changes never share a branch: same short name, too many images to list, long targets', () => {
  const branch = (images: string[], target = 'envs/dev') => changeBranch({ mode: 'bump', target, images });
  // Two build jobs of one monorepo bumping their own `app` into one environment.
  const frontend = branch(['ghcr.io/acme/frontend/app']);
  assert.notEqual(frontend, branch(['ghcr.io/acme/backend/app']));
  assert.match(frontend, /^tether\/bump\/envs-dev\/app-[0-9a-f]{8}$/);
  // The key is the set of repositories: order and repeats do not matter.
  assert.equal(
    branch(['ghcr.io/acme/web', 'docker.io/library/nginx']),
    branch(['docker.io/library/nginx', 'ghcr.io/acme/web', 'ghcr.io/acme/web']),
  );
  const many = (prefix: string) => Array.from({ length: 8 }, (_, i) => `ghcr.io/acme/${prefix}-service-${i}`);
  assert.notEqual(branch(many('billing')), branch(many('payments')));
  const deep = 'clusters/production-eu-west-1/namespaces/payments/applications';
  assert.notEqual(branch(['ghcr.io/acme/web'], `${deep}/web`), branch(['ghcr.io/acme/web'], `${deep}/api`));
  assert.ok(branch(['ghcr.io/acme/web'], `${deep}/web`).length < 140);
});

test('the bump target comes from the paths input, else from the changed files', () => {
  assert.equal(bumpTarget(['envs/*/web/*.yaml'], []), 'envs');
  assert.equal(bumpTarget(['envs/dev/values.yaml'], []), 'envs/dev');
  assert.equal(commonDir(['envs/dev/web/a.yaml', 'envs/dev/api/b.yaml']), 'envs/dev');
  assert.equal(bumpTarget(['envs/dev/**'], []), 'envs/dev');
  assert.equal(bumpTarget([], [change(), change({ file: 'envs/dev/web/kustomization.yaml' })]), 'envs/dev/web');
});

test('change keys and paths agree: every path a paths input selects lies under the bump target', () => {
  const tree = [
    'envs/dev/web/deploy.yaml',
    'envs/dev/api/values.yaml',
    'envs/staging/web/deploy.yaml',
    'envs/{dev,staging}/web/deploy.yaml',
    'envs/prod/web/deploy.yaml',
    'envs/.hidden/x.yaml',
    'base/web/deploy.yaml',
    'app1/x.yaml',
    'app2/x.yaml',
  ];
  const inputs = [
    ['envs/dev/**'],
    ['envs/dev'],
    ['envs/{dev,staging}/**'],
    ['envs/*/web/*.yaml'],
    ['envs/dev/web/deploy.yaml'],
    ['envs/**', '!envs/prod'],
    ['app[12]/**'],
    ['app{1..2}/*.yaml'],
    ['envs/dev/**', 'base/**'],
    ['**/deploy.yaml'],
  ];
  for (const paths of inputs) {
    const target = bumpTarget(paths, []);
    const selected = tree.filter(pathMatcher(paths));
    assert.ok(selected.length > 0, `${paths.join(', ')} selects something`);
    for (const p of selected)
      assert.ok(
        target === '' || p.startsWith(`${target}/`),
        `${p} (selected by ${paths.join(', ')}) under "${target}"`,
      );
  }
  // A brace is one glob semantics everywhere: the key and the scope both read it as alternatives.
  assert.equal(bumpTarget(['envs/{dev,staging}/**'], []), 'envs');
  assert.ok(!globToRegExp('envs/{dev,staging}/**').test('envs/{dev,staging}/web/deploy.yaml'));
  assert.equal(
    changeBranch({ mode: 'bump', target: bumpTarget(['envs/dev/**', 'base/**'], []), images: ['ghcr.io/acme/web'] }),
    'tether/bump/root/web-25141dd7',
  );
});

test('status gate: patterns, latest per context, the newest qualifying commit', () => {
  const m = statusGate(['tether/staging/*']).matches;
  assert.equal(m('tether/staging/web'), true);
  assert.equal(m('tether/staging/web/x'), false);
  assert.equal(m('tether/prod/web'), false);
  assert.equal(statusGate(['tether/**']).matches('tether/a/b'), true);
  const staging = statusGate(['tether/staging/*']);
  // Newest first: the latest `pending` overrides an older `success` of the same context.
  assert.deepEqual(
    gateVerdict(
      [
        { context: 'tether/staging/web', state: 'pending' },
        { context: 'tether/staging/web', state: 'success' },
      ],
      staging,
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
  const picked = pickQualifying(commits, staging);
  assert.equal(picked.commit?.sha.slice(0, 2), 'c1');
  const none = pickQualifying(commits.slice(0, 2), staging);
  assert.equal(none.commit, undefined);
  assert.deepEqual('newest' in none && none.newest, { sha: commits[0]!.sha, summary: 'pending' });
  assert.equal(pickQualifying(commits, statusGate([]), { skip: 1 }).commit?.sha.slice(0, 2), 'c2');
  assert.equal(gateVerdict([], staging).summary, 'no status for tether/staging/*');
});

test('status gate: every positive pattern needs a matching context of its own; exclusions still exclude', () => {
  const both = statusGate(['tether/dev-a/*', 'tether/dev-b/*', '!tether/dev-b/skip']);
  const a = { context: 'tether/dev-a/web', state: 'success' };
  // dev-b never reported: dev-a's success does not speak for it.
  assert.deepEqual(gateVerdict([a], both), { ok: false, summary: 'no status for tether/dev-b/*', matched: [a] });
  // An excluded context does not count as dev-b's report.
  const skip = { context: 'tether/dev-b/skip', state: 'success' };
  assert.equal(gateVerdict([a, skip], both).summary, 'no status for tether/dev-b/*');
  const b = { context: 'tether/dev-b/web', state: 'success' };
  assert.equal(gateVerdict([a, b, skip], both).ok, true);
  assert.equal(
    gateVerdict([{ context: 'tether/dev-a/web', state: 'failure' }], both).summary,
    'failure (tether/dev-a/web); no status for tether/dev-b/*',
  );
  assert.equal(gateVerdict([], both).summary, 'no status for tether/dev-a/*; no status for tether/dev-b/*');
  // The newest commit with only dev-a is passed over for an older one both clusters passed.
  const picked = pickQualifying(
    [
      { sha: 'c2'.padEnd(40, '0'), statuses: [a] },
      { sha: 'c1'.padEnd(40, '0'), statuses: [a, b] },
    ],
    both,
  );
  assert.equal(picked.commit?.sha.slice(0, 2), 'c1');
  // Exclusions alone: any context they leave counts, and one is still needed.
  const notCi = statusGate(['!ci']);
  assert.equal(gateVerdict([{ context: 'ci', state: 'failure' }], notCi).summary, 'no status');
  assert.equal(gateVerdict([{ context: 'ci', state: 'failure' }, a], notCi).ok, true);
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

test('a change too large to list still makes a PR GitHub accepts: the title and body fit its limits', () => {
  // A shared sidecar bumped in every service of every environment: 2,000 values.
  const changes = Array.from({ length: 2000 }, (_, i) =>
    change({
      file: `envs/prod/service-${i}/deployment.yaml`,
      image: `ghcr.io/acme/service-with-a-long-name-${i % 40}`,
    }),
  );
  const head = 'ab'.repeat(20);
  const s = { mode: 'bump' as const, target: 'envs', changes, branch: 'tether/bump/envs/x', head };
  const body = prBody({ ...s, warnings: Array.from({ length: 3000 }, (_, i) => `ci/${i}.yml: does not parse`) });
  // GitHub answers 422 "is too long" past 65,536 characters of body and 256 of title.
  assert.ok(body.length <= 65_536, `body of ${body.length} characters`);
  assert.match(body, /\| … \| \d+ more values, listed in the commit message \|/);
  assert.match(body, /- … and \d+ more/);
  assert.equal(describedHead(body), head, 'the marker is kept');
  assert.ok(defaultTitle(s).length <= 256, `title of ${defaultTitle(s).length} characters`);
  assert.match(defaultTitle(s), /^Bump service-with-a-long-name-0 1\.1\.0, .*…$/);
  // Small changes are listed whole.
  assert.doesNotMatch(prBody({ ...s, changes: changes.slice(0, 3) }), /more values/);
});

test('a long title is cut on characters as GitHub counts them: never inside an emoji', () => {
  // A target path of astral characters: each is two UTF-16 units, so cutting by units splits one in half.
  const s = { mode: 'bump' as const, target: `envs/${'🚀'.repeat(300)}`, changes: [change()] };
  const title = defaultTitle(s);
  assert.ok(wellFormed(title), 'no lone surrogate');
  assert.equal([...title].length, 256, 'as many characters as GitHub takes, counted as it counts them');
  assert.match(title, /^Bump web 1\.1\.0 in envs\/🚀+…$/u);
  // Short titles are untouched.
  assert.equal(defaultTitle({ ...s, target: 'envs/🚀' }), 'Bump web 1.1.0 in envs/🚀');
});

test('the PR body names the head its text describes, and describedHead reads it back', () => {
  const head = 'ab'.repeat(20);
  const body = prBody({
    mode: 'bump',
    target: 'envs/dev',
    changes: [change()],
    branch: 'tether/bump/envs-dev/web',
    head,
  });
  assert.match(body, /<!-- tether:bump branch=tether\/bump\/envs-dev\/web head=(ab){20} -->$/);
  assert.equal(describedHead(body), head);
  assert.equal(describedHead('<!-- tether:bump branch=x -->'), undefined, 'a body from before heads were named');
  assert.equal(describedHead(null), undefined);
  assert.equal(describedHead(`text\n\n<!-- tether:bump head=${'c'.repeat(40)} -->`), 'c'.repeat(40));
});

test('statuses of later commits that did not touch the path speak for the commit that did', () => {
  // History newest first: t2 and t1 touched other paths after c2; c1 is older; x is between c1 and c2.
  const history = ['t2', 't1', 'c2', 'x', 'c1', 'root'];
  const w = statusWindows(['c2', 'c1'], history);
  assert.deepEqual(w.get('c2'), ['c2', 't2', 't1']);
  assert.deepEqual(w.get('c1'), ['c1', 'x']);
  assert.deepEqual(statusWindows(['c2'], history, 2).get('c2'), ['c2', 't2'], 'the newest later commits first');
  assert.deepEqual(statusWindows(['old'], history).get('old'), ['old'], 'older than the history window');
  const merged = mergeWindowStatuses(
    'c2',
    new Map([
      ['c2', [{ context: 'tether/dev/web', state: 'pending', created_at: '2026-01-01T00:00:00Z' }]],
      ['t2', [{ context: 'tether/dev/web', state: 'success', created_at: '2026-01-01T00:05:00Z' }]],
    ]),
  );
  assert.deepEqual(
    merged.map((m) => [m.state, m.on]),
    [
      ['success', 't2'],
      ['pending', undefined],
    ],
  );
  const v = gateVerdict(merged, statusGate(['tether/dev/*']));
  assert.equal(v.ok, true);
  assert.equal(v.matched[0]?.on, 't2');
});

test('only-newer with an open PR: the values the PR proposes newer than the request and the base, and what is not applied', () => {
  const files = (web: string, api: string) => [
    { path: 'envs/dev/web.yaml', text: `image: ghcr.io/acme/web:${web}\n` },
    { path: 'envs/dev/api.yaml', text: `image: ghcr.io/acme/api:${api}\n` },
  ];
  const plan = (web: string, api: string, images: string[]) => planEdits(files(web, api), { images, onlyNewer: true });
  const request = ['ghcr.io/acme/web:2.5.0', 'ghcr.io/acme/api:3.0.0'];
  const base = plan('2.4.0', '2.0.0', request);
  // The PR proposes web 2.6.0: newer than asked and than the base. The request would still raise api in it.
  assert.deepEqual(newerInPullRequest(base, plan('2.6.0', '2.0.0', request), 7), [
    'skipped: envs/dev/web.yaml already at 2.6.0 in #7',
    'not applied: envs/dev/api.yaml image → ghcr.io/acme/api:3.0.0, as #7 proposes newer versions and is left as it is',
  ]);
  // The PR proposes nothing newer than asked for: nothing to keep.
  assert.deepEqual(newerInPullRequest(base, plan('2.5.0', '3.0.0', request), 7), []);
  assert.deepEqual(newerInPullRequest(base, plan('2.1.0', '2.0.0', request), 7), []);
  // The base already holds web 2.7.0: a PR at 2.6.0 proposes nothing the base lacks, one at 2.8.0 does.
  const ahead = plan('2.7.0', '3.0.0', request);
  assert.deepEqual(newerInPullRequest(ahead, plan('2.6.0', '3.0.0', request), 7), []);
  assert.deepEqual(newerInPullRequest(ahead, plan('2.8.0', '3.0.0', request), 7), [
    'skipped: envs/dev/web.yaml already at 2.8.0 in #7',
  ]);
});
