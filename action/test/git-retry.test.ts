import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../../shared/src/errors.ts';
import { isTransientGitError, withGitRetries } from '../src/git-retry.ts';

/** An error as shared/src/env-repo.ts wraps isomorphic-git's. */
const wrapped = (cause: object) => new TetherError('git', 'fetch https://example/env.git main: boom', { cause });
const http = (statusCode: number) =>
  wrapped({ code: 'HttpError', message: `HTTP Error: ${statusCode}`, data: { statusCode } });

test('5xx, 408, 429, resets and cut answers are transient; 4xx, refusals and missing refs are not', () => {
  for (const s of [500, 502, 503, 504, 408, 429]) assert.ok(isTransientGitError(http(s)), String(s));
  for (const s of [400, 401, 403, 404, 422]) assert.ok(!isTransientGitError(http(s)), String(s));
  assert.ok(isTransientGitError(wrapped({ code: 'ECONNRESET', message: 'aborted' })));
  assert.ok(isTransientGitError(wrapped({ message: 'aborted' })));
  assert.ok(isTransientGitError(wrapped({ code: 'UND_ERR_SOCKET', message: 'other side closed' })));
  assert.ok(!isTransientGitError(wrapped({ code: 'NotFoundError', message: 'Could not find nope.' })));
  assert.ok(!isTransientGitError(wrapped({ code: 'UserCanceledError', message: 'The operation was canceled.' })));
  assert.ok(!isTransientGitError(new TetherError('git', "branch 'x' not found")));
});

test('transient failures are retried with growing pauses, then the step and the attempts are named', async () => {
  const waits: number[] = [];
  const said: string[] = [];
  const o = {
    sleep: async (ms: number) => void waits.push(ms),
    random: () => 0.5,
    onRetry: (m: string) => void said.push(m),
  };
  let calls = 0;
  const flaky = async () => {
    if (++calls < 3) throw http(502);
    return 'sha';
  };
  assert.equal(await withGitRetries('fetch main', flaky, o), 'sha');
  assert.deepEqual(waits, [500, 1000]);
  assert.match(
    said[0]!,
    /^fetch main: fetch https:\/\/example\/env\.git main: boom; retrying in 500 ms \(attempt 2 of 4\)$/,
  );

  calls = 0;
  await assert.rejects(
    withGitRetries(
      'fetch main',
      async () => {
        calls++;
        throw http(503);
      },
      o,
    ),
    /^TetherError: fetch main: failed 4 times, the last with: fetch https:\/\/example\/env\.git main: boom$/,
  );
  assert.equal(calls, 4);

  calls = 0;
  await assert.rejects(
    withGitRetries(
      'fetch main',
      async () => {
        calls++;
        throw http(401);
      },
      o,
    ),
    /boom/,
  );
  assert.equal(calls, 1, 'a refusal is not retried');
});
