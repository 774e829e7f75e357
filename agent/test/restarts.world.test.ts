import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, waitFor } from '../../testenv/src/processes.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const cm = (name: string, v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {v: "${v}"}\n`;

let w: AgentWorld;
let config: string;
let port: number;

before(async () => {
  w = await startAgentWorld({
    github: true,
    files: { 'envs/dev/web/a.yaml': cm('a', '0'), 'envs/dev/web/b.yaml': cm('b', '0') },
  });
  port = await freePort();
  config = w.writeConfig('tether', {
    server: { host: '127.0.0.1', port },
    apps: [w.app('web', 'envs/dev/web', { interval: '1h' })],
  });
});
after(() => w?.stop());

const statuses = (sha: string) => w.statuses(sha, 'tether/dev/web');

test('10 restarts with status posts failing: the newest status always matches the agent, no rewrite when nothing changed', async () => {
  let head = await w.head();
  for (let i = 0; i < 10; i++) {
    let changed = false;
    if (i % 3 === 1) {
      head = await w.commit({ 'envs/dev/web/a.yaml': cm('a', String(i)) }, `a = ${i}`);
      changed = true;
    }
    const before = (await statuses(head)).length;
    // A bad GitHub minute: the next status posts fail; Octokit retries a 502 three times with growing delays, so
    // three faults cost the agent about 15 s, and the reporter retries after that.
    w.github.faults.failNext(i % 2 === 0 ? 1 : 3, { match: /^POST \/repos\/acme\/env\/statuses\//, status: 502 });
    const agent = w.spawnAgent(config);
    try {
      // The agent's own verdict on the head.
      await waitFor(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/api/apps/web`).catch(() => undefined);
          if (!r?.ok) return false;
          const a = (await r.json()) as { state: { sync: string; health: { status: string }; revision?: string } };
          return a.state.revision === head && a.state.sync === 'Synced' && a.state.health.status === 'Healthy';
        },
        {
          timeoutMs: 60_000,
          describe: () => `restart ${i}: agent never Synced/Healthy on ${head}\n${agent.tail(20_000)}`,
        },
      );
      // GitHub converges to it despite the failed posts (the reporter retries with backoff).
      await waitFor(async () => (await statuses(head))[0]?.state === 'success', {
        timeoutMs: 60_000,
        describe: () => `restart ${i}: the newest status on ${head} is not success\n${agent.tail()}`,
      });
    } finally {
      await agent.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
    }
    const all = await statuses(head);
    assert.equal(all[0]!.state, 'success', `restart ${i}: ${all.map((s) => s.state).join(',')}`);
    if (!changed && i > 0) {
      assert.equal(
        all.length,
        before,
        `restart ${i} rewrote an unchanged verdict: ${all.map((s) => s.state).join(',')}`,
      );
    }
  }
});
