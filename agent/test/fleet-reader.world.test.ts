// The fleet view's reads against the GitHub emulator (every request and answer checked against GitHub's OpenAPI
// description): statuses of several clusters on different commits, the cache, and the back-off on rate limits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createGitHub, type GitHubClient } from '../../shared/src/github.ts';
import { startWorld, type World } from '../../testenv/src/world.ts';
import { FleetReader } from '../src/edges/github/fleet-reader.ts';

describe('fleet reader', () => {
  let world: World;
  let gh: GitHubClient;
  let first: string;
  let second: string;

  before(async () => {
    world = await startWorld({ git: true, github: true });
    await world.github!.state.createRepo('acme/env', { files: { 'envs/dev/web/a.yaml': 'a: 1\n' } });
    gh = createGitHub({ auth: world.token, baseUrl: world.github!.url, retries: 0 });
    const repo = world.git!.repo('acme/env');
    first = (await repo.resolve('refs/heads/main'))!;
    second = await repo.commitFiles({ branch: 'main', files: { 'envs/dev/web/b.yaml': 'b: 1\n' }, message: 'second' });
    const post = (sha: string, context: string, state: 'success' | 'failure' | 'pending', description: string) =>
      gh.rest.repos.createCommitStatus({ owner: 'acme', repo: 'env', sha, context, state, description });
    await post(first, 'tether/staging/web', 'pending', 'Syncing');
    await post(first, 'tether/staging/web', 'success', 'Synced 3 resources · Healthy');
    await post(second, 'tether/dev/web', 'failure', 'Deployment/web/web: ErrImagePull');
    await post(second, 'tether/dev/web/plan', 'success', 'a plan, not a sync');
    await post(second, 'tether/dev/api', 'success', 'another app');
  });
  after(async () => world?.stop());

  test('one row per cluster, from the newest commit carrying its status; plans and other apps left out', async () => {
    const reader = new FleetReader(gh);
    const view = await reader.read('acme', 'env', 'main', 'web');
    assert.equal(view.note, undefined);
    assert.equal(view.commitsRead, 2);
    assert.deepEqual(
      view.rows.map((r) => [r.cluster, r.sha, r.state, r.description, r.behind]),
      [
        ['dev', second, 'failure', 'Deployment/web/web: ErrImagePull', 0],
        ['staging', first, 'success', 'Synced 3 resources · Healthy', 1],
      ],
    );
  });

  test('reads are cached for the TTL: a second view costs no request', async () => {
    let now = 1_000_000;
    const reader = new FleetReader(gh, { now: () => now, ttlMs: 30_000 });
    await reader.read('acme', 'env', 'main', 'web');
    const after1 = reader.requests;
    assert.equal(after1, 3, 'the commit list and one combined status per commit');
    await Promise.all([reader.read('acme', 'env', 'main', 'web'), reader.read('acme', 'env', 'main', 'api')]);
    assert.equal(reader.requests, after1);
    now += 30_000;
    await reader.read('acme', 'env', 'main', 'web');
    assert.equal(reader.requests, after1 * 2);
  });

  test('a rate limit stops reads until its reset; the last rows are served meanwhile with a note', async () => {
    let now = Date.now();
    const reader = new FleetReader(gh, { now: () => now, ttlMs: 1000 });
    const good = await reader.read('acme', 'env', 'main', 'web');
    assert.equal(good.rows.length, 2);
    now += 1000;
    world.github!.faults.secondaryRateLimitNext(1, {
      status: 429,
      retryAfter: 120,
      match: /GET \/repos\/acme\/env\/commits/,
    });
    const limited = await reader.read('acme', 'env', 'main', 'web');
    assert.match(limited.note ?? '', /GitHub rate limit \(429\)/);
    assert.equal(limited.rows.length, 2, 'the last read is still shown');
    const requests = reader.requests;
    now += 60_000;
    const waiting = await reader.read('acme', 'env', 'main', 'web');
    assert.match(waiting.note ?? '', /not reading GitHub for another 60 s/);
    assert.equal(reader.requests, requests, 'no request while the limit lasts');
    now += 61_000;
    const again = await reader.read('acme', 'env', 'main', 'web');
    assert.equal(again.note, undefined);
    assert.ok(reader.requests > requests);

    world.github!.faults.primaryRateLimitNext(1, { resetAfter: 3600, match: /GET \/repos\/acme\/env\/commits/ });
    const fresh = new FleetReader(gh);
    const primary = await fresh.read('acme', 'env', 'main', 'web');
    assert.match(primary.note ?? '', /GitHub rate limit \(403\)/);
    assert.deepEqual(primary.rows, []);
  });
});
