import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const SECRET = 'webhook-secret-for-tests';
const REPO = 'acme/env';
const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n';
const deploy = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "${image}"}]
`;

describe('the agent in operation: commit statuses, webhook, API', () => {
  let w: AgentWorld;
  let agent: Agent;
  let agentUrl: string;
  let firstSha: string;

  before(async () => {
    w = await startAgentWorld({
      kube: 'full',
      github: true,
      files: { 'envs/dev/web/namespace.yaml': ns, 'envs/dev/web/deploy.yaml': deploy('ghcr.io/acme/web:1.0.0') },
    });
    firstSha = await w.head();
    ({ agent, url: agentUrl } = await w.startAgent(
      {
        publicUrl: 'https://tether.dev.example.com',
        apps: [w.app('web', 'envs/dev/web', { namespace: 'web', interval: '1h' })],
      },
      { server: { webhookSecret: SECRET } },
    ));
  });
  after(() => w?.stop());

  const statuses = (sha: string) => w.statuses(sha, 'tether/dev/web');
  const syncs = () => agent.metrics.syncDurationSeconds.get('web')?.count ?? 0;

  test('success on the exact commit once the Deployment is Available, pending before it only if that took long', async () => {
    await waitFor(async () => (await statuses(firstSha))[0]?.state === 'success', {
      timeoutMs: 60_000,
      describe: () => `statuses: ${JSON.stringify(agent.app('web')?.state)}`,
    });
    const all = (await statuses(firstSha)).reverse(); // oldest first
    // A pending is written only when the verdict takes longer than the reporter's grace (2 s): a quick rollout
    // costs one write. Whatever came before the success was pending, never a failure.
    for (const s of all.slice(0, -1)) assert.equal(s.state, 'pending', all.map((x) => x.state).join(','));
    assert.equal(all.at(-1)!.description, 'Synced 2 resources · Healthy');
    assert.equal(all.at(-1)!.target_url, 'https://tether.dev.example.com/apps/web');
    // One write per (state, description): no duplicates.
    const keys = all.map((s) => `${s.state}|${s.description}`);
    assert.equal(new Set(keys).size, keys.length, keys.join('\n'));
  });

  test('a no-op reconcile posts nothing', async () => {
    await agent.flushStatuses();
    const before = (await statuses(firstSha)).length;
    const n = syncs();
    assert.ok(agent.requestSync('web', 'test'));
    await waitFor(() => syncs() > n, { timeoutMs: 10_000, describe: () => 'no sync ran' });
    await new Promise((r) => setTimeout(r, 500));
    await agent.flushStatuses();
    assert.equal((await statuses(firstSha)).length, before);
  });

  test('a self-heal that does not change the verdict posts nothing on the green commit (no pending flicker)', async () => {
    await agent.flushStatuses();
    const before = await statuses(firstSha);
    assert.equal(before[0]?.state, 'success');
    const heals = agent.metrics.driftHeals.get('web') ?? 0;
    // Someone scales the Deployment by hand: self-heal puts Git's replicas back, which bumps its generation, and the
    // controller observes it a moment later. That moment used to post `pending "generation N not yet observed"`.
    const r = await w.kube.request(
      'PATCH',
      '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-scale',
      { spec: { replicas: 3 } },
      'application/merge-patch+json',
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await waitFor(() => (agent.metrics.driftHeals.get('web') ?? 0) > heals, {
      timeoutMs: 20_000,
      describe: () => 'no heal',
    });
    await new Promise((res) => setTimeout(res, 2000));
    await agent.flushStatuses();
    const after = await statuses(firstSha);
    assert.deepEqual(
      after.map((s) => `${s.state}|${s.description}`),
      before.map((s) => `${s.state}|${s.description}`),
    );
  });

  test('a bad webhook signature is refused and changes nothing', async () => {
    const n = syncs();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: firstSha, repository: { full_name: REPO } });
    const res = await fetch(`${agentUrl}/webhook/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      },
      body,
    });
    assert.equal(res.status, 401);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(syncs(), n);
    const good = createHmac('sha256', SECRET).update(body).digest('hex');
    const ok = await fetch(`${agentUrl}/webhook/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${good}`,
      },
      body,
    });
    assert.equal(ok.status, 202);
    await waitFor(() => syncs() > n, { timeoutMs: 10_000, describe: () => 'signed webhook did not trigger a sync' });
  });

  test('a push delivers a webhook that syncs at once; a Degraded app gets failure naming the Deployment, through 502s and a rate limit', async () => {
    // Posting statuses meets two 502s and a secondary rate limit; the reporter retries, syncing is not blocked.
    w.github.faults.failNext(2, { status: 502, match: /POST \/repos\/acme\/env\/statuses/ });
    w.github.faults.secondaryRateLimitNext(1, { retryAfter: 1, match: /POST \/repos\/acme\/env\/statuses/ });
    const { data } = await w.gh.repos.createOrUpdateFileContents({
      owner: 'acme',
      repo: 'env',
      path: 'envs/dev/web/deploy.yaml',
      message: 'web: broken image',
      content: Buffer.from(deploy('ghcr.io/acme/web:broken')).toString('base64'),
      sha: (
        (await w.gh.repos.getContent({ owner: 'acme', repo: 'env', path: 'envs/dev/web/deploy.yaml' })).data as {
          sha: string;
        }
      ).sha,
    } as Parameters<typeof w.gh.repos.createOrUpdateFileContents>[0]);
    const sha = data.commit.sha!;
    // The poll interval is an hour: only the webhook can have started this sync.
    await waitFor(async () => (await statuses(sha))[0]?.state === 'failure', {
      timeoutMs: 60_000,
      describe: () => `state: ${JSON.stringify(agent.app('web')?.state.health)}`,
    });
    const [latest] = await statuses(sha);
    assert.match(latest!.description ?? '', /^Degraded: Deployment\/web\/web: /);
    // All three faults met a status post (Octokit's retry and throttling plugins absorbed them).
    assert.ok(w.github.faults.injected >= 3, `injected ${w.github.faults.injected}`);
  });

  test('the API and /metrics show the real app', async () => {
    const apps = (await (await fetch(`${agentUrl}/api/apps`)).json()) as {
      apps: { name: string; state: { health: { status: string } } }[];
    };
    assert.equal(apps.apps[0]!.name, 'web');
    assert.equal(apps.apps[0]!.state.health.status, 'Degraded');
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    assert.match(metrics, /tether_app_health_status\{app="web",status="Degraded"\} 1/);
    assert.match(metrics, /tether_statuses_posted_total \d+/);
    const page = await (await fetch(`${agentUrl}/apps/web`)).text();
    assert.match(page, /Deployment\/web\/web/);
  });
});
