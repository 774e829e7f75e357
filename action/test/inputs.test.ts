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
