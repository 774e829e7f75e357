import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { GitHubClient } from '../../shared/src/github.ts';
import type { CommitStatus } from '../src/core/commit-status.ts';
import { StatusReporter, type StatusReporterOptions } from '../src/reconcile/status-reporter.ts';

const target = { owner: 'acme', repo: 'env', sha: 'a'.repeat(40) };
const context = 'tether/dev/web';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GitHub's statuses for one repository, in memory: newest first per ref, as the REST API lists them. Writes and reads
 * take `latency()` ms and fail when `fail()` says so — the faults a reporter meets on a bad GitHub minute.
 */
class StatusStore {
  readonly statuses: { sha: string; state: string; description: string; context: string }[] = [];
  writes = 0;
  constructor(
    private readonly latency: () => number = () => 0,
    private readonly fail: () => boolean = () => false,
  ) {}
  client(): GitHubClient {
    const repos = {
      listCommitStatusesForRef: async (p: { ref: string }) => {
        await sleep(this.latency());
        if (this.fail()) throw new Error('HTTP 502 (list)');
        return { data: this.statuses.filter((s) => s.sha === p.ref).map((s) => ({ ...s, target_url: null })) };
      },
      createCommitStatus: async (p: { sha: string; state: string; description: string; context: string }) => {
        await sleep(this.latency());
        if (this.fail()) throw new Error('HTTP 500 (create)');
        this.writes++;
        this.statuses.unshift({ sha: p.sha, state: p.state, description: p.description, context: p.context });
        return { data: {} };
      },
    };
    return { rest: { repos } } as unknown as GitHubClient;
  }
  latest(): { state: string; description: string } | undefined {
    return this.statuses.find((s) => s.sha === target.sha && s.context === context);
  }
}

const fast: Partial<StatusReporterOptions> = { pendingGraceMs: 5, pendingIntervalMs: 5, backoffMs: 1, maxBackoffMs: 4 };
const pending: CommitStatus = { state: 'pending', description: 'Syncing aaaaaaa', context };
const success: CommitStatus = { state: 'success', description: 'Synced 3 resources · Healthy', context };
const failure: CommitStatus = { state: 'failure', description: 'Degraded: Deployment/web/api', context };

test('a verdict that arrives while a pending is being written is written after it (restart race)', async () => {
  const gh = new StatusStore(() => 20);
  // Before the restart the commit was green.
  gh.statuses.push({ sha: target.sha, ...success });
  const reporter = new StatusReporter(gh.client(), { ...fast, pendingGraceMs: 0 });
  reporter.report(target, pending); // starts at once: reads, then writes pending
  await sleep(30); // the read is done, the pending write is in flight
  reporter.report(target, success); // the sync finished: same as what the read saw, but not what is being written
  await reporter.flush();
  assert.deepEqual(
    { state: gh.latest()?.state, description: gh.latest()?.description },
    { state: 'success', description: success.description },
  );
});

test('a restart whose verdict is unchanged writes nothing: a short sync never posts its pending', async () => {
  const gh = new StatusStore(() => 1);
  gh.statuses.push({ sha: target.sha, ...success });
  for (let restart = 0; restart < 3; restart++) {
    const reporter = new StatusReporter(gh.client(), { ...fast, pendingGraceMs: 200 });
    reporter.report(target, pending);
    await sleep(10);
    reporter.report(target, success);
    await reporter.flush();
    reporter.stop();
  }
  assert.equal(gh.writes, 0);
  assert.equal(gh.latest()?.state, 'success');
});

test('a sync longer than the grace says pending, then its verdict', async () => {
  const gh = new StatusStore();
  const reporter = new StatusReporter(gh.client(), { ...fast, pendingGraceMs: 10 });
  reporter.report(target, pending);
  await sleep(40);
  assert.equal(gh.latest()?.state, 'pending');
  reporter.report(target, success);
  await reporter.flush();
  assert.deepEqual(
    gh.statuses.map((s) => s.state),
    ['success', 'pending'],
  );
});

test('property: after any interleaving of verdicts, restarts and failed posts, GitHub holds the last verdict', async () => {
  const verdicts = [pending, success, failure, { ...pending, description: 'Syncing 2/3' }];
  const step = fc.oneof(
    fc.record({ kind: fc.constant('report' as const), verdict: fc.integer({ min: 0, max: verdicts.length - 1 }) }),
    fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 12 }) }),
    fc.record({ kind: fc.constant('restart' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 1, maxLength: 25 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      async (steps, seed) => {
        let x = seed;
        const rand = () => {
          x = (x * 1103515245 + 12345) % 2 ** 31;
          return x / 2 ** 31;
        };
        const gh = new StatusStore(
          () => Math.floor(rand() * 4),
          () => rand() < 0.3,
        );
        let reporter = new StatusReporter(gh.client(), fast);
        let verdict: CommitStatus | undefined;
        for (const s of steps) {
          if (s.kind === 'report') {
            verdict = verdicts[s.verdict];
            reporter.report(target, verdict);
          } else if (s.kind === 'sleep') {
            await sleep(s.ms);
          } else {
            // The process dies: a write already sent may still land, queued ones are lost; the new process starts
            // with no memory and reports its current verdict again, as the agent does after each sync.
            reporter.stop();
            await reporter.flush();
            reporter = new StatusReporter(gh.client(), fast);
            if (verdict) reporter.report(target, verdict);
          }
        }
        await reporter.flush(10_000);
        if (!verdict) return;
        const latest = gh.latest();
        assert.deepEqual(
          { state: latest?.state, description: latest?.description },
          {
            state: verdict.state,
            description: verdict.description,
          },
        );
      },
    ),
    { numRuns: 120 },
  );
});

test('delivery says what became of a status: queued while waiting, posted once written, superseded by a newer one', async () => {
  const gh = new StatusStore(() => 10);
  const reporter = new StatusReporter(gh.client(), fast);
  assert.equal(reporter.delivery(target, success), 'unknown');
  reporter.report(target, failure);
  assert.equal(reporter.delivery(target, failure), 'queued');
  await reporter.flush();
  assert.equal(reporter.delivery(target, failure), 'posted');
  reporter.report(target, success);
  await reporter.flush();
  assert.equal(reporter.delivery(target, success), 'posted');
  assert.equal(reporter.delivery(target, failure), 'superseded');
  assert.equal(reporter.delivery({ ...target, sha: 'b'.repeat(40) }, success), 'unknown');
  reporter.stop();
});

test('an app handed over to another replica: its queued verdicts are dropped, and taking it back reads GitHub again', async () => {
  let failing = true;
  const gh = new StatusStore(
    () => 1,
    () => failing,
  );
  const reporter = new StatusReporter(gh.client(), { ...fast, backoffMs: 40, maxBackoffMs: 40 });
  failing = false;
  reporter.report(target, success);
  await reporter.flush();
  assert.equal(gh.latest()?.state, 'success');

  // GitHub fails while this replica's newer verdict is being written: it waits for its retry.
  failing = true;
  reporter.report(target, failure);
  await sleep(10);
  // The shard (or the leadership) moves to another replica, which posts its own verdicts from now on.
  reporter.release(context);
  failing = false;
  gh.statuses.unshift({ sha: target.sha, state: 'pending', description: 'Syncing aaaaaaa', context });
  await sleep(100);
  await reporter.flush();
  assert.equal(gh.latest()?.state, 'pending', 'a verdict of the replica that lost the app landed on the newer one');

  // Taken back: the verdict is what this replica last wrote, but GitHub holds the other replica's newer status.
  reporter.report(target, success);
  await reporter.flush();
  assert.deepEqual(
    { state: gh.latest()?.state, description: gh.latest()?.description },
    { state: 'success', description: success.description },
  );
  reporter.stop();
});

test('an app handed over while its verdict waits for the read of what GitHub holds: that verdict is not written', async () => {
  const gh = new StatusStore(() => 30);
  const reporter = new StatusReporter(gh.client(), fast);
  // A fresh process: the first verdict on the commit reads GitHub first (30 ms), then writes.
  reporter.report(target, failure);
  await sleep(5);
  // The app moves to another replica during that read; it writes its own verdict from now on.
  reporter.release(context);
  gh.statuses.unshift({ sha: target.sha, ...success });
  await sleep(100);
  await reporter.flush();
  assert.equal(gh.writes, 0, 'the replica that lost the app wrote after it was released');
  assert.equal(gh.latest()?.state, 'success');

  // Taken back later: what GitHub holds is read again, so a verdict it already holds is not written twice.
  reporter.report(target, success);
  await reporter.flush();
  assert.equal(gh.writes, 0, 'the verdict GitHub already held was written again');
  reporter.stop();
});

test('a verdict GitHub refuses for good (no permission, a 422) is tried a few times, then given up so it is not retried for ever', async () => {
  let attempts = 0;
  const refusing = {
    rest: {
      repos: {
        listCommitStatusesForRef: async () => ({ data: [] }),
        createCommitStatus: async () => {
          attempts++;
          throw Object.assign(new Error('Resource not accessible by personal access token'), {
            status: 403,
            response: { headers: { 'x-ratelimit-remaining': '4999' } },
          });
        },
      },
    },
  } as unknown as GitHubClient;
  const failed: boolean[] = [];
  const reporter = new StatusReporter(refusing, { ...fast, onResult: (ok) => failed.push(!ok) });
  const commits = ['1', '2', '3', '4', '5'].map((c) => ({ ...target, sha: c.repeat(40) }));
  for (const commit of commits) reporter.report(commit, failure);
  // Every commit's verdict gives up after its few tries: nothing is left in flight or queued.
  await reporter.flush(2000);
  const tried = attempts;
  assert.ok(tried >= commits.length && tried <= commits.length * 4, `${tried} attempts`);
  await sleep(50);
  assert.equal(attempts, tried, 'refused posts were still retried');
  // The commits no app is on any more are forgotten.
  reporter.prune(new Set());
  assert.equal(reporter.delivery(commits[0]!, failure), 'unknown');

  // A rate limit (403 with no requests left) and a 5xx are not refusals: they are retried until GitHub takes them.
  let calls = 0;
  const limited = {
    rest: {
      repos: {
        listCommitStatusesForRef: async () => ({ data: [] }),
        createCommitStatus: async () => {
          calls++;
          if (calls <= 6)
            throw Object.assign(new Error(calls % 2 ? 'API rate limit exceeded' : 'Server Error'), {
              status: calls % 2 ? 403 : 502,
              response: { headers: { 'x-ratelimit-remaining': calls % 2 ? '0' : '4999' } },
            });
          return { data: {} };
        },
      },
    },
  } as unknown as GitHubClient;
  const patient = new StatusReporter(limited, fast);
  patient.report(target, failure);
  await patient.flush(2000);
  assert.equal(calls, 7);
  assert.equal(patient.delivery(target, failure), 'posted');
  reporter.stop();
  patient.stop();
});
