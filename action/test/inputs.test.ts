import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envInputReader, parseInputs } from '../src/inputs.ts';

const base = { INPUT_REPOSITORY: 'acme/env', INPUT_TOKEN: 't0ken', INPUT_IMAGES: 'ghcr.io/acme/web:1.2.3\n' };

test('inputs parse into a typed object with defaults', () => {
  const i = parseInputs(envInputReader({ ...base, 'INPUT_TEAM-REVIEWERS': 'platform, sre', INPUT_LABELS: 'a\nb' }));
  assert.equal(i.mode, 'bump');
  assert.deepEqual(i.repository, { owner: 'acme', repo: 'env' });
  assert.deepEqual(
    [...i.images.values()].map((r) => r.input),
    ['ghcr.io/acme/web:1.2.3'],
  );
  assert.deepEqual(i.images.get('ghcr.io/acme/web')?.ref.tag, '1.2.3');
  assert.deepEqual(i.paths.globs, []);
  assert.equal(i.paths.matches('anything.yaml'), true);
  assert.deepEqual(i.requireStatus.patterns, []);
  assert.deepEqual(i.teamReviewers, ['platform', 'sre']);
  assert.deepEqual(i.labels, ['a', 'b']);
  assert.equal(i.pullRequest, true);
  assert.equal(i.commitMethod, 'api');
  assert.equal(i.githubApiUrl, 'https://api.github.com');
  assert.equal(i.onlyNewer, false, 'by default the requested version wins');
});

test('only-newer is a boolean for bump; other modes refuse it by name', () => {
  assert.equal(parseInputs(envInputReader({ ...base, 'INPUT_ONLY-NEWER': 'true' })).onlyNewer, true);
  assert.throws(
    () => parseInputs(envInputReader({ ...base, 'INPUT_ONLY-NEWER': 'maybe' })),
    /Input 'only-newer': "maybe" is not a boolean/,
  );
  assert.throws(
    () =>
      parseInputs(
        envInputReader({ ...base, INPUT_MODE: 'rollback', INPUT_TO: 'envs/prod', 'INPUT_ONLY-NEWER': 'true' }),
      ),
    /Input 'only-newer' is for bump/,
  );
});

test('a bad input fails by name', () => {
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_DRAFT: 'yes' })),
    /Input 'draft': "yes" is not a boolean/,
  );
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_MODE: 'ship' })),
    /Input 'mode': "ship" is not one of/,
  );
  assert.throws(() => parseInputs(envInputReader({ ...base, INPUT_REPOSITORY: 'nope' })), /Input 'repository'/);
  assert.throws(() => parseInputs(envInputReader({ ...base, INPUT_MODE: 'promote' })), /'from' and 'to' are required/);
  assert.throws(() => parseInputs(envInputReader({ ...base, INPUT_IMAGES: '' })), /Input 'images' is required/);
});

test('list inputs are parsed once into typed values; errors name the input and its line', () => {
  const i = parseInputs(
    envInputReader({
      ...base,
      INPUT_IMAGES: '# built by CI\n\nghcr.io/acme/web:1.2.3\nnginx@sha256:' + 'a'.repeat(64),
      INPUT_PATHS: 'envs/{dev,qa}/**\n!envs/qa/legacy',
      'INPUT_REQUIRE-STATUS': 'tether/dev/*',
    }),
  );
  assert.deepEqual([...i.images.keys()], ['ghcr.io/acme/web', 'docker.io/library/nginx']);
  assert.equal(i.images.get('docker.io/library/nginx')?.ref.digest, `sha256:${'a'.repeat(64)}`);
  assert.equal(i.paths.matches('envs/qa/web/deploy.yaml'), true);
  assert.equal(i.paths.matches('envs/qa/legacy/deploy.yaml'), false);
  assert.equal(i.paths.matches('envs/prod/web/deploy.yaml'), false);
  assert.equal(i.requireStatus.matches('tether/dev/web'), true);
  assert.equal(i.requireStatus.matches('tether/dev/web/plan'), false);
  // Line numbers count the lines as written, comments and blank lines included.
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_IMAGES: '# ci\nghcr.io/acme/web:1.2.3\n\nweb:' })),
    (err: Error) => err.message.startsWith(`Input 'images' line 4: `) && err.message.includes('"web:"'),
  );
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_IMAGES: 'ghcr.io/acme/web' })),
    /Input 'images' line 1: "ghcr\.io\/acme\/web" names no tag or digest to set/,
  );
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_PATHS: 'envs/dev/**\n../secrets/**' })),
    /Input 'paths' line 2: "\.\.\/secrets\/\*\*" is not relative to the repository root/,
  );
  // A line no glob can be made of is named, not left to the glob library's words.
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_PATHS: 'envs/**\n!' })),
    /^TetherError: Input 'paths' line 2: "!" is not a glob: /,
  );
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_PATHS: './' })),
    /^TetherError: Input 'paths' line 1: "\.\/" is not a glob: /,
  );
  assert.throws(
    () => parseInputs(envInputReader({ ...base, 'INPUT_REQUIRE-STATUS': 'tether/dev/*\n!' })),
    /^TetherError: Input 'require-status' line 2: "!" is not a glob: /,
  );
  // Images are not required, nor read, outside bump.
  const promote = parseInputs(
    envInputReader({
      ...base,
      INPUT_MODE: 'promote',
      INPUT_FROM: 'envs/dev',
      INPUT_TO: 'envs/prod',
      INPUT_IMAGES: 'web:',
    }),
  );
  assert.equal(promote.images.size, 0);
});

test('from and to take <branch>:<path> for environments on their own branches', () => {
  const i = parseInputs(
    envInputReader({ ...base, INPUT_MODE: 'promote', INPUT_FROM: 'staging:envs/web/', INPUT_TO: 'prod:./envs/web' }),
  );
  assert.deepEqual(i.from, { branch: 'staging', path: 'envs/web' });
  assert.deepEqual(i.to, { branch: 'prod', path: 'envs/web' });
  assert.deepEqual(
    parseInputs(envInputReader({ ...base, INPUT_MODE: 'promote', INPUT_FROM: 'envs/dev', INPUT_TO: 'envs/prod' })).to,
    { path: 'envs/prod' },
  );
  assert.throws(
    () =>
      parseInputs(
        envInputReader({ ...base, INPUT_MODE: 'promote', INPUT_FROM: 'a b:envs/web', INPUT_TO: 'prod:envs/web' }),
      ),
    /Input 'from': "a b" is not a branch name/,
  );
  // A branch git would refuse fails by name before anything is written, whichever input names it.
  for (const [name, value] of [
    ['BRANCH', 'tether/has space'],
    ['BRANCH', 'tether/x.lock'],
    ['BASE', 'release..1'],
    ['BASE', 'main/'],
  ] as const)
    assert.throws(
      () => parseInputs(envInputReader({ ...base, [`INPUT_${name}`]: value })),
      new RegExp(`^TetherError: Input '${name.toLowerCase()}': "${value.replace(/\./g, '\\.')}" is not a branch name`),
    );
  assert.equal(parseInputs(envInputReader({ ...base, INPUT_BASE: 'release+1.2' })).base, 'release+1.2');
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_MODE: 'rollback', INPUT_TO: 'prod:../x' })),
    /Input 'to': "prod:..\/x" does not name a directory inside the repository/,
  );
  assert.throws(
    () =>
      parseInputs(envInputReader({ ...base, INPUT_MODE: 'rollback', INPUT_TO: 'prod:envs/web', INPUT_BASE: 'main' })),
    /Inputs 'to' and 'base' name different branches/,
  );
});

test('fields: one --field spec per line, as the CLI takes them; a bad line fails naming it', () => {
  const i = parseInputs(
    envInputReader({
      ...base,
      INPUT_FIELDS: 'envs/*/values.yaml#web.imageTag=ghcr.io/acme/web:tag\n\nworker.img=ghcr.io/acme/worker\n',
    }),
  );
  assert.deepEqual(i.fields, [
    { path: 'web.imageTag', image: 'ghcr.io/acme/web', part: 'tag', files: 'envs/*/values.yaml' },
    { path: 'worker.img', image: 'ghcr.io/acme/worker', part: 'ref' },
  ]);
  assert.deepEqual(parseInputs(envInputReader(base)).fields, []);
  assert.throws(
    () => parseInputs(envInputReader({ ...base, INPUT_FIELDS: 'a.b=ghcr.io/acme/web\nno-equals' })),
    /Input 'fields' line 2: field "no-equals"/,
  );
});
