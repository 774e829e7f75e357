import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, waitFor } from '../../testenv/src/processes.ts';
import { type AgentProcess, type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const N = 120;
const cm = (i: number) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata: {n: "${i}"}\n`;

describe('the agent under control-plane faults', () => {
  let w: AgentWorld;
  let port: number;
  let agent: AgentProcess;
  const base = () => `http://127.0.0.1:${port}`;

  const statusOf = async (sha: string) => (await w.statuses(sha, 'tether/dev/web'))[0];
  const head = () => w.head();
  const members = async () => {
    const r = await w.kube.request(
      'GET',
      '/api/v1/namespaces/default/configmaps?labelSelector=applyset.kubernetes.io%2Fpart-of',
    );
    return (r.body as { items: unknown[] }).items.length;
  };
  const readyz = async () => {
    try {
      return (await fetch(`${base()}/readyz`, { signal: AbortSignal.timeout(3000) })).status;
    } catch {
      return 0;
    }
  };
  const describeAgent = () =>
    `agent ${agent.alive() ? 'alive' : `exited ${JSON.stringify(agent.exit)}`}\n${agent.tail()}`;

  before(async () => {
    w = await startAgentWorld({ github: true, files: { 'envs/dev/web/cm-0.yaml': cm(0) } });
    port = await freePort();
    agent = w.spawnAgent(
      w.writeConfig('tether', {
        server: { host: '127.0.0.1', port },
        apps: [w.app('web', 'envs/dev/web', { interval: '5s' })],
      }),
    );
    const sha = await head();
    await waitFor(async () => (await statusOf(sha))?.state === 'success', {
      timeoutMs: 60_000,
      describe: describeAgent,
    });
  });
  after(() => w?.stop());

  test('apiserver stopped while idle: the agent stays up, is not ready, and recovers when it returns', async () => {
    await w.kube.apiserver.stop();
    await waitFor(async () => (await readyz()) === 503, { timeoutMs: 30_000, describe: describeAgent });
    // Long enough for every poll, watch and health check to meet the refused connection.
    await new Promise((r) => setTimeout(r, 8000));
    assert.ok(agent.alive(), describeAgent());
    await w.kube.apiserver.start();
    await waitFor(async () => (await readyz()) === 200, { timeoutMs: 60_000, describe: describeAgent });
    const sha = await w.commit({ 'envs/dev/web/cm-1.yaml': cm(1) }, 'one more');
    await waitFor(async () => (await statusOf(sha))?.state === 'success', {
      timeoutMs: 60_000,
      describe: describeAgent,
    });
    assert.equal(await members(), 2);
  });

  test('apiserver stopped mid-sync and restarted: the agent finishes the revision, inventory intact', async () => {
    const files: Record<string, string> = {};
    for (let i = 2; i < N; i++) files[`envs/dev/web/cm-${i}.yaml`] = cm(i);
    const sha = await w.commit(files, 'many');
    await waitFor(async () => (await members()) > 2, { timeoutMs: 30_000, describe: describeAgent });
    await w.kube.apiserver.stop();
    await new Promise((r) => setTimeout(r, 6000));
    assert.ok(agent.alive(), describeAgent());
    await w.kube.apiserver.start();
    await waitFor(async () => (await statusOf(sha))?.state === 'success', {
      timeoutMs: 90_000,
      describe: describeAgent,
    });
    assert.equal(await members(), N);
    const parent = await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-web');
    const inventory = String((parent.body as { data: { inventory: string } }).data.inventory)
      .trim()
      .split('\n');
    assert.equal(inventory.length, N);
  });

  test('apiserver frozen (SIGSTOP) for 20 s: the agent stays up and is ready again after it thaws', async () => {
    w.kube.apiserver.freeze();
    try {
      await new Promise((r) => setTimeout(r, 20_000));
      assert.ok(agent.alive(), describeAgent());
    } finally {
      w.kube.apiserver.thaw();
    }
    await waitFor(async () => (await readyz()) === 200, { timeoutMs: 60_000, describe: describeAgent });
    assert.ok(agent.alive(), describeAgent());
  });

  test('no unhandled rejection was logged, and SIGTERM mid-sync ends the process within 10 s', async () => {
    assert.doesNotMatch(agent.output, /unhandled/i, 'an unhandled rejection was caught by the process guard');
    const files: Record<string, string> = {};
    for (let i = 0; i < N; i++) files[`envs/dev/web/cm-${i}.yaml`] = cm(i).replace(`"${i}"`, `"${i}-b"`);
    await w.commit(files, 'change all');
    await waitFor(
      async () => {
        const r = await w.kube.request('GET', '/api/v1/namespaces/default/configmaps/cm-0');
        return (r.body as { data?: { n?: string } }).data?.n === '0-b';
      },
      { timeoutMs: 30_000, describe: describeAgent },
    );
    const sent = Date.now();
    agent.child.kill('SIGTERM');
    await waitFor(() => !agent.alive(), { timeoutMs: 15_000, describe: describeAgent });
    assert.ok(agent.exit!.at - sent <= 10_000, `exit took ${agent.exit!.at - sent} ms`);
  });
});
