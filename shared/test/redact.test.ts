import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { describeError, TetherError } from '../src/errors.ts';
import { GitRepo } from '../src/git/git-repo.ts';
import { redact, redactUrls } from '../src/redact.ts';

describe('redact', () => {
  test('removes userinfo from every URL in a message, keeping the rest', () => {
    assert.equal(
      redactUrls('fetch https://x-access-token:ghs_abc@github.com/acme/env.git failed; see http://u@h:8080/p'),
      'fetch https://github.com/acme/env.git failed; see http://h:8080/p',
    );
    assert.equal(redactUrls('https://github.com/acme/env.git'), 'https://github.com/acme/env.git');
    assert.equal(redactUrls('mail me at a@b.example'), 'mail me at a@b.example');
    // However long what comes before `://` (glued to a base64 run), the userinfo after it goes.
    assert.equal(redactUrls(`${'Ab0'.repeat(50)}https://u:tok@h/p`), `${'Ab0'.repeat(50)}https://h/p`);
  });

  test('replaces given secrets wherever they appear, but not tiny ones', () => {
    assert.equal(
      redact('Bearer ghs_secret failed (ghs_secret)', ['ghs_secret', undefined, 'x']),
      'Bearer *** failed (***)',
    );
  });

  test('a described error never brings back what its message redacted from a cause', async () => {
    const wrapped = new TetherError('git', 'fetch https://host/env.git main: refused', {
      cause: new Error('GET https://x-access-token:ghs_abc123@host/env.git: refused'),
    });
    assert.equal(describeError(wrapped), 'fetch https://host/env.git main: refused: GET https://host/env.git: refused');
    // The Git adapter's own errors: a repository URL with credentials and a transport isomorphic-git does not know.
    const gitdir = await mkdtemp(join(tmpdir(), 'tether-redact-'));
    try {
      const repo = await GitRepo.open({ gitdir, url: 'ssh2://deploy:s3cr3t-token@git.example/env.git' });
      const err = await repo.fetch('main').then(
        () => assert.fail('the fetch should fail'),
        (e: unknown) => e,
      );
      assert.match(describeError(err), /unrecognized transport/);
      assert.doesNotMatch(describeError(err), /s3cr3t/);
    } finally {
      await rm(gitdir, { recursive: true, force: true });
    }
  });
});
