import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isUnderPath, normalizeRepoPath } from '../src/repo-path.ts';

describe('normalizeRepoPath', () => {
  test('one canonical form for the same directory', () => {
    for (const p of ['envs/dev', './envs/dev', '/envs/dev/', 'envs//dev', 'envs/./dev/']) {
      assert.equal(normalizeRepoPath(p), 'envs/dev');
    }
    for (const p of ['', '.', './', '/']) assert.equal(normalizeRepoPath(p), '');
  });

  test('refuses paths that climb out of the repository or are not paths, naming the input', () => {
    assert.throws(
      () => normalizeRepoPath('envs/../../etc', 'apps[0].path'),
      /apps\[0\]\.path "envs\/\.\.\/\.\.\/etc": '\.\.'/,
    );
    assert.throws(() => normalizeRepoPath('envs\\dev', 'to'), /to "envs\\dev": backslashes/);
    assert.throws(() => normalizeRepoPath('envs/\u0000dev'), /control characters/);
  });

  test('isUnderPath: the directory itself and below, never a sibling with the same prefix', () => {
    assert.equal(isUnderPath('envs/dev/web/a.yaml', 'envs/dev'), true);
    assert.equal(isUnderPath('envs/dev', 'envs/dev'), true);
    assert.equal(isUnderPath('envs/devel/a.yaml', 'envs/dev'), false);
    assert.equal(isUnderPath('anything', ''), true);
  });
});
