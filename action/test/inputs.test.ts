import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envInputReader, parseInputs } from '../src/inputs.ts';

const base = { INPUT_REPOSITORY: 'acme/env', INPUT_TOKEN: 't0ken', INPUT_IMAGES: 'ghcr.io/acme/web:1.2.3\n' };

test('inputs parse into a typed object with defaults', () => {
  const i = parseInputs(envInputReader({ ...base, 'INPUT_TEAM-REVIEWERS': 'platform, sre', INPUT_LABELS: 'a\nb' }));
  assert.equal(i.mode, 'bump');
  assert.deepEqual(i.repository, { owner: 'acme', repo: 'env' });
  assert.deepEqual(i.images, ['ghcr.io/acme/web:1.2.3']);
  assert.deepEqual(i.teamReviewers, ['platform', 'sre']);
  assert.deepEqual(i.labels, ['a', 'b']);
  assert.equal(i.pullRequest, true);
  assert.equal(i.commitMethod, 'api');
  assert.equal(i.githubApiUrl, 'https://api.github.com');
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
