import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { runActionBundle } from '../../testenv/src/action-runner.ts';
import { startWorld, type World } from '../../testenv/src/world.ts';

const deploy = (image: string, sidecar = 'ghcr.io/acme/proxy:2.0.0') => `# The web app.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep this comment
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: ${image} # the app
        - name: proxy
          image: '${sidecar}'
`;
const kustomization =
  "resources: [deploy.yaml]\nimages:\n  - name: ghcr.io/acme/worker\n    newTag: '1.0.0' # pinned\n";

describe('the Action bundle against the local world', () => {
  let world: World;
  let gh: Octokit;
  let n = 0;
  let repo: string;

  before(async () => {
    world = await startWorld({ github: true });
    gh = new Octokit({ baseUrl: world.github!.url, auth: world.token });
  });
  after(async () => world?.stop());
  afterEach(() => world.github!.assertNoViolations());

  /** A fresh environment repo per test, so tests do not see each other's branches and PRs. */
  async function newRepo(files: Record<string, string>): Promise<string> {
    repo = `acme/env${++n}`;
    await world.github!.state.createRepo(repo, { files });
    return repo;
  }
  const inputs = (extra: Record<string, string>) => ({
    repository: repo,
    token: world.token,
    'github-api-url': world.github!.url,
    ...extra,
  });
  const ref = () => ({ owner: repo.split('/')[0]!, repo: repo.split('/')[1]! });
  /** A repo with web 1.0.0 in dev and staging, then a commit setting dev to 1.3.0 (returned) for promote. */
  const devPromotable = async (): Promise<string> => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
      'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
    });
    return world.git!.repo(repo).commitFiles({
      branch: 'main',
      files: { 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.3.0') },
      message: 'dev: web 1.3.0',
    });
  };
  /** A commit on main's tip writing one file, made through the Git Data API; main does not move. */
  const apiCommit = async (path: string, content: string, mode: '100644' | '100755'): Promise<string> => {
    const { data: tip } = await gh.git.getRef({ ...ref(), ref: 'heads/main' });
    const { data: parent } = await gh.git.getCommit({ ...ref(), commit_sha: tip.object.sha });
    const { data: tree } = await gh.git.createTree({
      ...ref(),
      base_tree: parent.tree.sha,
      tree: [{ path, mode, type: 'blob', content }],
    });
    const { data: commit } = await gh.git.createCommit({
      ...ref(),
      message: `write ${path}`,
      tree: tree.sha,
      parents: [tip.object.sha],
    });
    return commit.sha;
  };
  const file = async (path: string, at = 'main') =>
    (await world.git!.repo(repo).git(['show', `${at}:${path}`])).stdout.toString('utf8');

  test('bump opens a PR that changes only the edited bytes; again → unchanged; newer → updated, same PR', async () => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
      'envs/prod/web/deploy.yaml': deploy('ghcr.io/acme/web:0.9.0'),
    });
    const first = await runActionBundle(
      inputs({ images: 'ghcr.io/acme/web:1.1.0', paths: 'envs/dev/**', labels: 'deploy, dev' }),
    );
    assert.equal(first.code, 0, first.log);
    assert.equal(first.outputs['pull-request-operation'], 'created');
    assert.equal(first.outputs['pull-request-branch'], 'tether/bump/envs-dev/web-25141dd7');
    assert.equal(first.outputs.changed, 'true');
    assert.deepEqual(
      JSON.parse(first.outputs.changes!).map((c: { file: string; new: string }) => [c.file, c.new]),
      [['envs/dev/web/deploy.yaml', 'ghcr.io/acme/web:1.1.0']],
    );
    // The token appears once, in the runner's mask command, and nowhere else.
    assert.equal(first.log.split(world.token).length - 1, 1);
    assert.match(first.log, new RegExp(`::add-mask::${world.token}`));
    const number = Number(first.outputs['pull-request-number']);
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: number });
    assert.deepEqual(pr.labels.map((l) => l.name).sort(), ['deploy', 'dev']);
    assert.match(pr.body ?? '', /ghcr\.io\/acme\/web:1\.0\.0` → `ghcr\.io\/acme\/web:1\.1\.0/);
    assert.match(pr.body ?? '', /https:\/\/github\.com\/acme\/web-app\/actions\/runs\/1234/);
    // The head differs from base only in the edited bytes; prod is untouched.
    const before = await file('envs/dev/web/deploy.yaml');
    const headFile = await file('envs/dev/web/deploy.yaml', pr.head.sha);
    assert.equal(headFile, before.replace('ghcr.io/acme/web:1.0.0', 'ghcr.io/acme/web:1.1.0'));
    const diff = (await world.git!.repo(repo).git(['diff', '--name-only', 'main', pr.head.sha])).stdout
      .toString('utf8')
      .trim();
    assert.equal(diff, 'envs/dev/web/deploy.yaml');
    assert.match(first.summary, /Pull request \[#\d+\]/);

    const again = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0', paths: 'envs/dev/**' }));
    assert.equal(again.code, 0, again.log);
    assert.equal(again.outputs['pull-request-operation'], 'unchanged');
    assert.equal(again.outputs['pull-request-number'], String(number));

    const newer = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.2.0', paths: 'envs/dev/**' }));
    assert.equal(newer.code, 0, newer.log);
    assert.equal(newer.outputs['pull-request-operation'], 'updated');
    assert.equal(newer.outputs['pull-request-number'], String(number));
    const { data: updated } = await gh.pulls.get({ ...ref(), pull_number: number });
    assert.match(updated.title, /1\.2\.0/);
    assert.match(
      await file('envs/dev/web/deploy.yaml', updated.head.sha),
      /image: ghcr\.io\/acme\/web:1\.2\.0 # the app/,
    );
    const open = await gh.pulls.list({ ...ref(), state: 'open' });
    assert.equal(open.data.length, 1);

    // The base gets the version another way: the PR is no longer needed and is closed with a comment.
    await world.git!.repo(repo).commitFiles({
      branch: 'main',
      files: { 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.2.0') },
      message: 'hand edit',
    });
    const closed = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.2.0', paths: 'envs/dev/**' }));
    assert.equal(
      closed.outputs['pull-request-operation'],
      'closed',
      `${closed.log}\n${JSON.stringify(closed.outputs)}`,
    );
    assert.equal((await gh.pulls.get({ ...ref(), pull_number: number })).data.state, 'closed');
  });

  test('the open PR of a change key is found behind a first page of 100 other open PRs', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    // Without `paths` the target is read from the change, and once the base has the version the PR is looked for
    // under any target: through the list of the base's open PRs.
    const first = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0' }));
    assert.equal(first.outputs['pull-request-operation'], 'created', first.log);
    const number = Number(first.outputs['pull-request-number']);
    // 100 newer PRs of other work come first in the list (newest first), filling its first page.
    const other = await apiCommit('docs/notes.md', 'notes\n', '100644');
    for (let i = 0; i < 100; i++) {
      await gh.git.createRef({ ...ref(), ref: `refs/heads/work/${i}`, sha: other });
      await gh.pulls.create({ ...ref(), title: `work ${i}`, head: `work/${i}`, base: 'main' });
    }
    await world.git!.repo(repo).commitFiles({
      branch: 'main',
      files: { 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.1.0') },
      message: 'hand edit',
    });
    const closed = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0' }));
    assert.equal(closed.code, 0, closed.log);
    assert.equal(closed.outputs['pull-request-operation'], 'closed', closed.log);
    assert.equal(closed.outputs['pull-request-number'], String(number));
    assert.equal((await gh.pulls.get({ ...ref(), pull_number: number })).data.state, 'closed');
  });

  test('a change too large to list opens a PR whose body GitHub accepts, and the commit lists every value', async () => {
    // The emulator refuses a body over 65,536 characters, as GitHub does: 350 files make a table longer.
    const files: Record<string, string> = {};
    for (let i = 0; i < 350; i++)
      files[`envs/prod/service-with-a-long-name-${i}/deploy.yaml`] = deploy('ghcr.io/acme/web:1.0.0');
    await newRepo(files);
    const r = await runActionBundle(inputs({ images: 'ghcr.io/acme/proxy:2.1.0', paths: 'envs/prod/**' }));
    assert.equal(r.code, 0, r.log);
    assert.equal(r.outputs['pull-request-operation'], 'created');
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: Number(r.outputs['pull-request-number']) });
    assert.ok((pr.body ?? '').length <= 65_536);
    assert.match(pr.body ?? '', /\| … \| \d+ more values, listed in the commit message \|/);
    const { data: head } = await gh.git.getCommit({ ...ref(), commit_sha: pr.head.sha });
    assert.equal(head.message.split('\n').filter((l) => l.startsWith('- envs/prod/')).length, 350);
  });

  test('commit-method git: the PR and a direct push are written over smart HTTP, with the same results', async () => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
      'envs/prod/web/deploy.yaml': deploy('ghcr.io/acme/web:0.9.0'),
    });
    const pr = await runActionBundle(
      inputs({ images: 'ghcr.io/acme/web:1.1.0', paths: 'envs/dev/**', 'commit-method': 'git' }),
    );
    assert.equal(pr.code, 0, pr.log);
    assert.equal(pr.outputs['pull-request-operation'], 'created');
    const { data } = await gh.pulls.get({ ...ref(), pull_number: Number(pr.outputs['pull-request-number']) });
    assert.equal(data.head.sha, pr.outputs['commit-sha']);
    assert.match(data.body ?? '', new RegExp(`head=${data.head.sha}`));
    const again = await runActionBundle(
      inputs({ images: 'ghcr.io/acme/web:1.1.0', paths: 'envs/dev/**', 'commit-method': 'git' }),
    );
    assert.equal(again.outputs['pull-request-operation'], 'unchanged', again.log);
    const push = await runActionBundle(
      inputs({
        images: 'ghcr.io/acme/web:1.2.0',
        paths: 'envs/prod/**',
        'commit-method': 'git',
        'pull-request': 'false',
      }),
    );
    assert.equal(push.code, 0, push.log);
    assert.match(await file('envs/prod/web/deploy.yaml'), /image: ghcr\.io\/acme\/web:1\.2\.0 # the app/);
  });

  test('two direct-push bumps of different images started together both land', async () => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
      'envs/dev/web/kustomization.yaml': kustomization,
    });
    const [a, b] = await Promise.all([
      runActionBundle(inputs({ images: 'ghcr.io/acme/web:2.0.0', 'pull-request': 'false' })),
      runActionBundle(inputs({ images: 'ghcr.io/acme/proxy:2.1.0', 'pull-request': 'false' })),
    ]);
    assert.equal(a.code, 0, a.log);
    assert.equal(b.code, 0, b.log);
    const text = await file('envs/dev/web/deploy.yaml');
    assert.match(text, /image: ghcr\.io\/acme\/web:2\.0\.0 # the app/);
    assert.match(text, /image: 'ghcr\.io\/acme\/proxy:2\.1\.0'/);
    const log = (await world.git!.repo(repo).git(['log', '--format=%s', 'main'])).stdout
      .toString('utf8')
      .trim()
      .split('\n');
    assert.equal(log.length, 3, log.join('\n'));
  });

  test('ten direct-push bumps of different images started together all land, none forced', async () => {
    const apps = Array.from({ length: 10 }, (_, i) => `app${i}`);
    const many = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: many
spec:
  template:
    spec:
      containers:
${apps.map((a) => `        - name: ${a}\n          image: ghcr.io/acme/${a}:1.0.0 # ${a}`).join('\n')}
`;
    await newRepo({ 'envs/dev/many/deploy.yaml': many });
    const runs = await Promise.all(
      apps.map((a, i) =>
        // Ten bundles share this machine's cores with the emulator: more room than the 2-minute default.
        runActionBundle(
          inputs({ images: `ghcr.io/acme/${a}:2.0.${i}`, 'pull-request': 'false', 'push-deadline': '4m' }),
          {
            GITHUB_RUN_ID: String(5000 + i),
          },
        ),
      ),
    );
    for (const r of runs) {
      assert.equal(r.code, 0, r.log);
      assert.equal(r.outputs.changed, 'true', r.log);
      assert.match(r.outputs['commit-sha'] ?? '', /^[0-9a-f]{40}$/);
    }
    // Every version is in the final file, each the only edit of its line: no run overwrote another.
    const text = await file('envs/dev/many/deploy.yaml');
    assert.equal(
      text,
      many.replace(/ghcr\.io\/acme\/app(\d):1\.0\.0/g, (_, d) => `ghcr.io/acme/app${d}:2.0.${d}`),
    );
    const log = (await world.git!.repo(repo).git(['log', '--format=%H %P', 'main'])).stdout.toString('utf8').trim();
    const commits = log.split('\n');
    assert.equal(commits.length, 11, log);
    // A straight line of single-parent commits on the root: fast-forwards only, and each run's commit is one of them.
    assert.ok(commits.slice(0, -1).every((c) => c.split(' ').length === 2));
    const shas = new Set(commits.map((c) => c.split(' ')[0]));
    for (const r of runs) assert.ok(shas.has(r.outputs['commit-sha']!));
    const retries = runs.map((r) => r.log.split('moved; re-applied the edit').length - 1);
    console.log(
      `ten direct pushes: retries ${retries.join(',')}; slowest ${Math.max(...runs.map((r) => r.durationMs))} ms`,
    );
  });

  test('only-newer: a run requesting an older version than the base holds changes nothing and says so', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const direct = { 'pull-request': 'false', 'only-newer': 'true' };
    const newer = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:2.4.0', ...direct }));
    assert.equal(newer.code, 0, newer.log);
    assert.equal(newer.outputs.changed, 'true');
    const older = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:2.2.0', ...direct }));
    assert.equal(older.code, 0, older.log);
    assert.equal(older.outputs.changed, 'false', older.log);
    assert.match(older.log, /skipped: envs\/dev\/web\/deploy\.yaml already at 2\.4\.0/);
    assert.equal(await file('envs/dev/web/deploy.yaml'), deploy('ghcr.io/acme/web:2.4.0'));
    // Started together, in whichever order they land, the newer version stays.
    const both = await Promise.all(
      ['2.5.0', '2.6.0'].map((v) =>
        runActionBundle(inputs({ images: `ghcr.io/acme/web:${v}`, ...direct, 'push-deadline': '4m' })),
      ),
    );
    for (const r of both) assert.equal(r.code, 0, r.log);
    assert.equal(await file('envs/dev/web/deploy.yaml'), deploy('ghcr.io/acme/web:2.6.0'));
    // Without only-newer the requested version wins, as before.
    const plain = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:2.2.0', 'pull-request': 'false' }));
    assert.equal(plain.code, 0, plain.log);
    assert.equal(await file('envs/dev/web/deploy.yaml'), deploy('ghcr.io/acme/web:2.2.0'));
  });

  test('only-newer never downgrades or closes an open PR that proposes a newer version; it closes one the base covers', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const bump = (version: string, onlyNewer = true) =>
      runActionBundle(
        inputs({
          images: `ghcr.io/acme/web:${version}`,
          paths: 'envs/dev/**',
          ...(onlyNewer ? { 'only-newer': 'true' } : {}),
        }),
      );
    const atHead = async () => {
      const { data } = await gh.pulls.get({ ...ref(), pull_number: number });
      return {
        state: data.state,
        web: /image: ghcr\.io\/acme\/web:(\S+) # the app/.exec(
          await file('envs/dev/web/deploy.yaml', data.head.sha),
        )?.[1],
      };
    };
    const first = await bump('2.6.0');
    assert.equal(first.outputs['pull-request-operation'], 'created', first.log);
    const number = Number(first.outputs['pull-request-number']);
    const deployPath = 'envs/dev/web/deploy.yaml';

    // An older request than the PR's, newer than the base: the PR is left as it is, and the run says why.
    const older = await bump('2.5.0');
    assert.equal(older.code, 0, older.log);
    assert.equal(older.outputs['pull-request-operation'], 'unchanged', older.log);
    assert.equal(older.outputs['pull-request-number'], String(number));
    assert.equal(older.outputs.changed, 'false');
    assert.match(older.summary, /No change: the open pull request already proposes newer versions than requested\./);
    assert.match(older.log, new RegExp(`skipped: ${deployPath} already at 2\\.6\\.0 in #${number}`));
    assert.deepEqual(await atHead(), { state: 'open', web: '2.6.0' });

    // The base gets a newer version than asked for, but older than the PR's: the PR is still needed, not closed.
    const git = world.git!.repo(repo);
    await git.commitFiles({
      branch: 'main',
      files: { [deployPath]: deploy('ghcr.io/acme/web:2.4.0') },
      message: 'hand edit',
    });
    const belowBase = await bump('2.3.0');
    assert.equal(belowBase.code, 0, belowBase.log);
    assert.equal(belowBase.outputs['pull-request-operation'], 'unchanged', belowBase.log);
    assert.match(belowBase.log, /skipped: envs\/dev\/web\/deploy\.yaml already at 2\.4\.0/);
    assert.match(belowBase.log, new RegExp(`skipped: ${deployPath} already at 2\\.6\\.0 in #${number}`));
    assert.deepEqual(await atHead(), { state: 'open', web: '2.6.0' });

    // Without only-newer the requested version wins in the PR, as before.
    const plain = await bump('2.5.0', false);
    assert.equal(plain.outputs['pull-request-operation'], 'updated', plain.log);
    assert.deepEqual(await atHead(), { state: 'open', web: '2.5.0' });

    // Once the base holds a newer version than the PR proposes, the PR is no longer needed and says so truly.
    await git.commitFiles({
      branch: 'main',
      files: { [deployPath]: deploy('ghcr.io/acme/web:2.6.0') },
      message: 'hand edit',
    });
    const covered = await bump('2.3.0');
    assert.equal(covered.outputs['pull-request-operation'], 'closed', covered.log);
    assert.equal((await atHead()).state, 'closed');
    const comments = (await gh.issues.listComments({ ...ref(), issue_number: number })).data;
    assert.equal(
      comments.at(-1)?.body,
      '`main` already has these versions or newer ones, so this pull request is no longer needed. (Tether)',
    );
  });

  test('five concurrent PR runs of one image end with one PR whose title and text describe its head', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const versions = ['2.0.0', '2.1.0', '2.2.0', '2.3.0', '2.4.0'];
    const runs = await Promise.all(
      versions.map((v, i) =>
        runActionBundle(inputs({ images: `ghcr.io/acme/web:${v}`, paths: 'envs/dev/**', labels: 'deploy' }), {
          GITHUB_RUN_ID: String(7000 + i),
        }),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.log);
    const open = (await gh.pulls.list({ ...ref(), state: 'all' })).data;
    assert.equal(open.length, 1, JSON.stringify(open.map((p) => p.title)));
    const pr = open[0]!;
    const head = await file('envs/dev/web/deploy.yaml', pr.head.sha);
    const version = /image: ghcr\.io\/acme\/web:(\S+) # the app/.exec(head)?.[1];
    assert.ok(version && versions.includes(version), head);
    assert.equal(pr.title, `Bump web ${version} in envs/dev`);
    assert.match(pr.body ?? '', new RegExp(`→ \`ghcr\\.io/acme/web:${version.replace(/\./g, '\\.')}\``));
    assert.match(pr.body ?? '', new RegExp(`head=${pr.head.sha}`));
    assert.deepEqual(
      pr.labels.map((l) => l.name),
      ['deploy'],
    );
    // Every run reports the one PR; the run whose commit is the head says so (a run that ended earlier reports the
    // head it left, which a newer run may have replaced since).
    for (const r of runs) assert.equal(r.outputs['pull-request-number'], String(pr.number));
    assert.ok(runs.some((r) => r.outputs['commit-sha'] === pr.head.sha));
    assert.equal(runs.filter((r) => r.outputs['pull-request-operation'] === 'created').length, 1);
  });

  test('a PR left half done by failures is repaired by the next run', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const faults = world.github!.faults;
    const bump = inputs({
      images: 'ghcr.io/acme/web:1.1.0',
      paths: 'envs/dev/**',
      labels: 'deploy, dev',
      assignees: 'octocat',
    });
    try {
      // Creating the PR fails past the retries: the branch is left without a PR.
      faults.failNext(4, { status: 500, match: /^POST \/repos\/[^/]+\/[^/]+\/pulls$/ });
      const first = await runActionBundle(bump);
      assert.equal(first.code, 1);
      assert.match(
        first.error ?? '',
        /^create pull request: 500 .*; left behind: tether\/bump\/envs-dev\/web-25141dd7 at [0-9a-f]{7} without a pull request; the next run of this change repairs it/,
      );
      assert.equal((await gh.pulls.list({ ...ref(), state: 'all' })).data.length, 0);
      await gh.git.getRef({ ...ref(), ref: 'heads/tether/bump/envs-dev/web-25141dd7' });
      // The rerun opens it, but adding labels fails past the retries: a PR without labels.
      faults.failNext(4, { status: 502, match: /\/labels$/ });
      const second = await runActionBundle(bump);
      assert.equal(second.code, 1);
      assert.match(
        second.error ?? '',
        /^add labels: 502 .*; left behind: tether\/bump\/envs-dev\/web-25141dd7 at [0-9a-f]{7}, pull request #1;/,
      );
      const [pr] = (await gh.pulls.list({ ...ref() })).data;
      assert.ok(pr);
      assert.deepEqual(pr.labels, []);
      // The next run finds the head right, and adds what is missing.
      const third = await runActionBundle(bump);
      assert.equal(third.code, 0, third.log);
      assert.equal(third.outputs['pull-request-operation'], 'updated');
      const { data: fixed } = await gh.pulls.get({ ...ref(), pull_number: pr.number });
      assert.deepEqual(fixed.labels.map((l) => l.name).sort(), ['deploy', 'dev']);
      assert.deepEqual(
        fixed.assignees?.map((a) => a.login),
        ['octocat'],
      );
      // A title someone or something left describing another head is rewritten.
      await gh.pulls.update({ ...ref(), pull_number: pr.number, title: 'Bump web 0.0.1 in envs/dev' });
      const fourth = await runActionBundle(bump);
      assert.equal(fourth.outputs['pull-request-operation'], 'updated', fourth.log);
      assert.equal((await gh.pulls.get({ ...ref(), pull_number: pr.number })).data.title, 'Bump web 1.1.0 in envs/dev');
      // And when all is in place, a rerun writes nothing.
      const fifth = await runActionBundle(bump);
      assert.equal(fifth.outputs['pull-request-operation'], 'unchanged', fifth.log);
    } finally {
      faults.reset();
    }
  });

  test('an executable file keeps its mode through an API commit', async () => {
    await newRepo({ 'envs/dev/web.yaml': 'image: ghcr.io/acme/web:1.0.0\n' });
    // Files written on some file systems (WSL, a Windows share) are committed executable.
    const commit = await apiCommit('envs/dev/web.yaml', 'image: ghcr.io/acme/web:1.0.0\n', '100755');
    await gh.git.updateRef({ ...ref(), ref: 'heads/main', sha: commit });
    const r = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0', 'pull-request': 'false' }));
    assert.equal(r.code, 0, r.log);
    const listed = (await world.git!.repo(repo).git(['ls-tree', 'main', 'envs/dev/web.yaml'])).stdout.toString('utf8');
    assert.match(listed, /^100755 blob /);
    assert.equal(await file('envs/dev/web.yaml'), 'image: ghcr.io/acme/web:1.1.0\n');
  });

  test('two images with the same short name bumped into one environment get two PRs, neither losing its change', async () => {
    await newRepo({
      'envs/dev/frontend.yaml': 'image: ghcr.io/acme/frontend/app:1.0.0\n',
      'envs/dev/backend.yaml': 'image: ghcr.io/acme/backend/app:1.0.0\n',
    });
    const front = await runActionBundle(inputs({ images: 'ghcr.io/acme/frontend/app:1.1.0', paths: 'envs/dev/**' }));
    assert.equal(front.outputs['pull-request-operation'], 'created', front.log);
    const back = await runActionBundle(inputs({ images: 'ghcr.io/acme/backend/app:2.0.0', paths: 'envs/dev/**' }));
    assert.equal(back.outputs['pull-request-operation'], 'created', back.log);
    assert.notEqual(back.outputs['pull-request-branch'], front.outputs['pull-request-branch']);
    const pr = async (n: string | undefined) => (await gh.pulls.get({ ...ref(), pull_number: Number(n) })).data;
    const frontPr = await pr(front.outputs['pull-request-number']);
    const backPr = await pr(back.outputs['pull-request-number']);
    assert.equal(await file('envs/dev/frontend.yaml', frontPr.head.sha), 'image: ghcr.io/acme/frontend/app:1.1.0\n');
    assert.equal(await file('envs/dev/backend.yaml', backPr.head.sha), 'image: ghcr.io/acme/backend/app:2.0.0\n');
  });

  test('promote is refused while the source is pending, then opens a PR with the evidence', async () => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
      'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0').replace('replicas: 3', 'replicas: 5'),
    });
    const sha = await world.git!.repo(repo).commitFiles({
      branch: 'main',
      files: { 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.3.0', 'ghcr.io/acme/proxy:2.2.0') },
      message: 'dev: web 1.3.0',
    });
    await gh.repos.createCommitStatus({
      ...ref(),
      sha,
      state: 'pending',
      context: 'tether/dev/web',
      description: 'Syncing',
    });
    const promote = inputs({ mode: 'promote', from: 'envs/dev', to: 'envs/staging', 'require-status': 'tether/dev/*' });
    const refused = await runActionBundle(promote);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.error,
      `no commit touching envs/dev has success for tether/dev/*; newest is ${sha.slice(0, 7)}: pending`,
    );
    assert.equal((await gh.pulls.list({ ...ref() })).data.length, 0);

    await gh.repos.createCommitStatus({
      ...ref(),
      sha,
      state: 'success',
      context: 'tether/dev/web',
      description: 'Synced 3 resources · Healthy',
    });
    const ok = await runActionBundle(promote);
    assert.equal(ok.code, 0, ok.log);
    assert.equal(ok.outputs['pull-request-operation'], 'created');
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: Number(ok.outputs['pull-request-number']) });
    assert.match(pr.body ?? '', new RegExp(`Versions read from \`envs/dev\` at .*${sha.slice(0, 7)}`));
    assert.match(pr.body ?? '', /`tether\/dev\/web`: \*\*success\*\*/);
    const staged = await file('envs/staging/web/deploy.yaml', pr.head.sha);
    assert.match(staged, /ghcr\.io\/acme\/web:1\.3\.0 # the app/);
    assert.match(staged, /'ghcr\.io\/acme\/proxy:2\.2\.0'/);
    assert.match(staged, /replicas: 5/);
  });

  test('promote reads the latest status of every context, however many statuses the commit has', async () => {
    const sha = await devPromotable();
    const post = (context: string, state: 'success' | 'failure', description: string) =>
      gh.repos.createCommitStatus({ ...ref(), sha, state, context, description });
    // One app failed; another app's health then moved often, so its statuses fill the first page of the list.
    await post('tether/dev/api', 'failure', 'Degraded: Deployment/api');
    for (let i = 0; i < 100; i++) await post('tether/dev/web', 'success', `Synced 3 resources · Healthy (${i})`);
    const r = await runActionBundle(
      inputs({ mode: 'promote', from: 'envs/dev', to: 'envs/staging', 'require-status': 'tether/dev/*' }),
    );
    assert.equal(r.code, 1, r.log);
    assert.equal(
      r.error,
      `no commit touching envs/dev has success for tether/dev/*; newest is ${sha.slice(0, 7)}: failure (tether/dev/api)`,
    );
    assert.equal((await gh.pulls.list({ ...ref() })).data.length, 0);
  });

  test('promote with a pattern per cluster waits for every cluster, naming the one that never reported', async () => {
    const sha = await devPromotable();
    const post = (context: string) => gh.repos.createCommitStatus({ ...ref(), sha, state: 'success', context });
    await post('tether/dev-a/web');
    const promote = inputs({
      mode: 'promote',
      from: 'envs/dev',
      to: 'envs/staging',
      'require-status': 'tether/dev-a/*\ntether/dev-b/*',
    });
    const refused = await runActionBundle(promote);
    assert.equal(refused.code, 1, refused.log);
    assert.equal(
      refused.error,
      `no commit touching envs/dev has success for tether/dev-a/*, tether/dev-b/*; newest is ${sha.slice(0, 7)}: no status for tether/dev-b/*`,
    );
    assert.equal((await gh.pulls.list({ ...ref() })).data.length, 0);
    await post('tether/dev-b/web');
    const ok = await runActionBundle(promote);
    assert.equal(ok.code, 0, ok.log);
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: Number(ok.outputs['pull-request-number']) });
    assert.match(pr.body ?? '', /`tether\/dev-a\/web`: \*\*success\*\*/);
    assert.match(pr.body ?? '', /`tether\/dev-b\/web`: \*\*success\*\*/);
  });

  test('promote names the files it could not read, as bump does', async () => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.3.0'),
      'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
    });
    // A values file saved as UTF-16 by a Windows editor: it names the image, but it is not text Tether can edit.
    await world.git!.repo(repo).commitFiles({
      branch: 'main',
      files: { 'envs/staging/web/values.yaml': Buffer.from('\ufeffimage: ghcr.io/acme/web:1.0.0\n', 'utf16le') },
      message: 'staging: values',
    });
    const r = await runActionBundle(inputs({ mode: 'promote', from: 'envs/dev', to: 'envs/staging' }));
    assert.equal(r.code, 0, r.log);
    assert.equal(r.outputs['pull-request-operation'], 'created');
    assert.match(r.log, /skipped envs\/staging\/web\/values\.yaml: binary/);
  });

  test('promote sees a status posted on a later tip that did not touch the source path', async () => {
    await newRepo({
      'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
      'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0'),
    });
    const git = world.git!.repo(repo);
    const changed = await git.commitFiles({
      branch: 'main',
      files: { 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.7.0') },
      message: 'dev: web 1.7.0',
    });
    // The agent synced a later tip, which changed only docs, and posted its verdict there.
    const tip = await git.commitFiles({ branch: 'main', files: { 'docs/notes.md': 'hello\n' }, message: 'docs' });
    await gh.repos.createCommitStatus({ ...ref(), sha: tip, state: 'success', context: 'tether/dev/web' });
    const r = await runActionBundle(
      inputs({ mode: 'promote', from: 'envs/dev', to: 'envs/staging', 'require-status': 'tether/dev/*' }),
    );
    assert.equal(r.code, 0, r.log);
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: Number(r.outputs['pull-request-number']) });
    assert.match(await file('envs/staging/web/deploy.yaml', pr.head.sha), /ghcr\.io\/acme\/web:1\.7\.0 # the app/);
    assert.match(pr.body ?? '', new RegExp(`Versions read from \`envs/dev\` at .*${changed.slice(0, 7)}`));
    assert.match(pr.body ?? '', new RegExp(`\\*\\*success\\*\\* \\(posted on \`${tip.slice(0, 7)}\`, a later commit`));
  });

  test('promote between branches: the gate reads the source branch, the PR targets the destination branch', async () => {
    await newRepo({ 'envs/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const git = world.git!.repo(repo);
    const { data: main } = await gh.git.getRef({ ...ref(), ref: 'heads/main' });
    for (const b of ['staging', 'prod'])
      await gh.git.createRef({ ...ref(), ref: `refs/heads/${b}`, sha: main.object.sha });
    await git.commitFiles({
      branch: 'prod',
      files: { 'envs/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0').replace('replicas: 3', 'replicas: 9') },
      message: 'prod: 9 replicas',
    });
    const good = await git.commitFiles({
      branch: 'staging',
      files: { 'envs/web/deploy.yaml': deploy('ghcr.io/acme/web:1.5.0') },
      message: 'staging: web 1.5.0',
    });
    await gh.repos.createCommitStatus({ ...ref(), sha: good, state: 'success', context: 'tether/staging/web' });
    await git.commitFiles({
      branch: 'staging',
      files: { 'envs/web/deploy.yaml': deploy('ghcr.io/acme/web:1.6.0') },
      message: 'staging: web 1.6.0 (not yet synced)',
    });
    const r = await runActionBundle(
      inputs({
        mode: 'promote',
        from: 'staging:envs/web',
        to: 'prod:envs/web',
        'require-status': 'tether/staging/*',
      }),
    );
    assert.equal(r.code, 0, r.log);
    assert.equal(r.outputs['pull-request-operation'], 'created');
    assert.equal(r.outputs['pull-request-branch'], 'tether/promote/prod-envs-web/proxy-web-87c1d04e');
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: Number(r.outputs['pull-request-number']) });
    assert.equal(pr.base.ref, 'prod');
    assert.equal(pr.title, 'Promote staging:envs/web → prod:envs/web: web 1.5.0');
    assert.match(pr.body ?? '', new RegExp(`Versions read from \`staging:envs/web\` at .*${good.slice(0, 7)}`));
    const promoted = await file('envs/web/deploy.yaml', pr.head.sha);
    assert.match(promoted, /image: ghcr\.io\/acme\/web:1\.5\.0 # the app/);
    assert.match(promoted, /replicas: 9/);
    // Only the version moved: the PR's diff against prod is that one line.
    const diff = (await git.git(['diff', '--unified=0', 'prod', pr.head.sha])).stdout.toString('utf8');
    assert.equal(diff.split('\n').filter((l) => /^[-+][^-+]/.test(l)).length, 2, diff);
    // main is untouched.
    assert.match(await file('envs/web/deploy.yaml', 'main'), /web:1\.0\.0/);
  });

  test('rollback sets the environment back to its newest earlier good versions', async () => {
    await newRepo({ 'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const git = world.git!.repo(repo);
    const good = await git.commitFiles({
      branch: 'main',
      files: { 'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:1.1.0') },
      message: 'staging 1.1.0',
    });
    const bad = await git.commitFiles({
      branch: 'main',
      files: { 'envs/staging/web/deploy.yaml': deploy('ghcr.io/acme/web:broken') },
      message: 'staging broken',
    });
    await gh.repos.createCommitStatus({ ...ref(), sha: good, state: 'success', context: 'tether/staging/web' });
    await gh.repos.createCommitStatus({
      ...ref(),
      sha: bad,
      state: 'failure',
      context: 'tether/staging/web',
      description: 'Degraded: Deployment/web/web',
    });
    const r = await runActionBundle(
      inputs({ mode: 'rollback', to: 'envs/staging', 'require-status': 'tether/staging/*' }),
    );
    assert.equal(r.code, 0, r.log);
    assert.equal(r.outputs['pull-request-operation'], 'created');
    assert.equal(r.outputs['pull-request-branch'], 'tether/rollback/envs-staging/proxy-web-87c1d04e');
    const { data: pr } = await gh.pulls.get({ ...ref(), pull_number: Number(r.outputs['pull-request-number']) });
    assert.match(
      await file('envs/staging/web/deploy.yaml', pr.head.sha),
      /image: ghcr\.io\/acme\/web:1\.1\.0 # the app/,
    );
    assert.match(pr.title, /^Roll back envs\/staging: web 1\.1\.0/);
  });

  test('502 twice and a secondary rate limit are retried and the run succeeds', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    world.github!.faults.failNext(2, { status: 502, match: /GET \/repos\/[^/]+\/[^/]+$/ });
    world.github!.faults.secondaryRateLimitNext(1, { retryAfter: 1, match: /POST .*\/pulls$/ });
    const r = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0' }));
    assert.equal(r.code, 0, r.log);
    assert.equal(r.outputs['pull-request-operation'], 'created');
    assert.equal(world.github!.faults.injected >= 3, true);
    assert.equal((await gh.pulls.list({ ...ref() })).data.length, 1);
  });

  test('Git fetches answered 500 or cut mid-answer are retried and the run succeeds', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const faults = world.git!.faults;
    const before = faults.injected;
    faults.failNext(2, { status: 500, match: /git-upload-pack$/ });
    faults.cutNext(1, { match: /git-upload-pack$/, afterBytes: 200 });
    try {
      const r = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0', 'pull-request': 'false' }));
      assert.equal(r.code, 0, r.log);
      assert.equal(faults.injected - before, 3);
      assert.equal(r.log.match(/fetch main: .*retrying in \d+ ms/g)?.length, 3, r.log);
      assert.match(await file('envs/dev/web/deploy.yaml'), /image: ghcr\.io\/acme\/web:1\.1\.0 # the app/);
    } finally {
      faults.reset();
    }
  });

  test('a bad input fails naming the input and writes nothing', async () => {
    await newRepo({ 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') });
    const refsBefore = (await world.git!.repo(repo).git(['for-each-ref'])).stdout.toString('utf8');
    const r = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0\nweb:' }));
    assert.equal(r.code, 1);
    assert.match(r.error ?? '', /^Input 'images' line 2: /);
    const d = await runActionBundle(inputs({ images: 'ghcr.io/acme/web:1.1.0', draft: 'maybe' }));
    assert.match(d.error ?? '', /Input 'draft': "maybe" is not a boolean/);
    const missing = await runActionBundle({ ...inputs({ images: 'ghcr.io/acme/web:1.1.0' }), repository: 'acme/nope' });
    assert.match(missing.error ?? '', /repository acme\/nope: 404/);
    assert.equal((await world.git!.repo(repo).git(['for-each-ref'])).stdout.toString('utf8'), refsBefore);
    assert.equal((await gh.pulls.list({ ...ref(), state: 'all' })).data.length, 0);
  });
});
