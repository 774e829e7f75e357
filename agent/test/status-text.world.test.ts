// What the agent writes into a commit status's description, against the GitHub emulator's rules: a message from the
// cluster or from Git (a container's last words, a health rule's message, an error quoting a file) can hold any
// character, and GitHub refuses some of them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../../testenv/src/processes.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

let w: AgentWorld;

before(async () => {
  w = await startAgentWorld({
    github: true,
    files: {
      'envs/dev/web/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata: {note: "🐛 crashed at start-up"}\n',
    },
  });
});
after(() => w?.stop());

test('a Degraded message holding an emoji is posted (GitHub refuses 4-byte characters), not retried for ever', async () => {
  const { agent } = await w.startAgent({
    // A health rule whose message comes from the object, as a container's termination message would.
    health: [{ group: '', kind: 'ConfigMap', current: 'false', failed: 'true', message: 'self.data.note' }],
    apps: [w.app('web', 'envs/dev/web', { namespace: 'default', interval: '1h' })],
  });
  const head = await w.head();
  await waitFor(() => agent.app('web')?.state.health.status === 'Degraded', {
    timeoutMs: 30_000,
    describe: () => JSON.stringify(agent.app('web')?.state),
  });
  await waitFor(async () => (await w.statuses(head, 'tether/dev/web'))[0]?.state === 'failure', {
    timeoutMs: 15_000,
    describe: () => `no failure on the commit; the agent's metrics: ${JSON.stringify(agent.metrics)}`,
  });
  const [newest] = await w.statuses(head, 'tether/dev/web');
  assert.match(newest?.description ?? '', /^Degraded: .*crashed at start-up/);
  assert.equal(agent.metrics.statusesFailed, 0, 'a post was refused');
});
