// The first manual sync of an agent that has not reached the cluster yet (what `tether sync --once` runs): the
// cluster is checked first, and the Git fetch of the sync starts meanwhile, not after it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeClient } from '../src/edges/kube/kube-client.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {k: v}\n`;

/** `client` with a discovery that waits (up to `ms`) until the Git server has answered `gitRequests()`. */
function discoveryAfterGit(client: KubeClient, gitRequests: () => number, ms: number) {
  const seen = { during: 0 };
  const kube = new Proxy(client, {
    get(target, key) {
      if (key === 'discover') {
        return async () => {
          const from = gitRequests();
          for (const end = Date.now() + ms; gitRequests() === from && Date.now() < end; ) {
            await new Promise((r) => setTimeout(r, 10));
          }
          seen.during = gitRequests() - from;
          return target.discover();
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { kube, seen };
}

describe('syncNow before the cluster was reached', () => {
  let w: AgentWorld;
  before(async () => {
    w = await startAgentWorld({ files: { 'envs/web/cm.yaml': cm('web-cm') }, namespaces: ['web'] });
  });
  after(() => w?.stop());

  test('the Git fetch starts while the cluster is checked, and the sync uses it', async () => {
    const gitRequests = () => w.git.requests.length;
    const { kube, seen } = discoveryAfterGit(w.client, gitRequests, 3000);
    const agent = await w.createAgent(
      { apps: [{ name: 'web', repo: w.cloneUrl('acme/env'), path: 'envs/web', namespace: 'web' }] },
      { kube },
    );
    const before = gitRequests();
    const out = await agent.syncNow('web', 'manual', 'test', { watch: false });
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.deepEqual(
      out.entries.map((e) => `${e.subject} ${e.action}`),
      ['ConfigMap/web/web-cm created'],
    );
    assert.ok(seen.during > 0, 'the Git server was asked while discovery ran');
    // One fetch: the sync joined the one started ahead (a ref listing and a pack request).
    assert.deepEqual(
      w.git.requests.slice(before).map((r) => r.method),
      ['GET', 'POST'],
    );
  });

  test('a suspended app fetches nothing', async () => {
    const { kube, seen } = discoveryAfterGit(w.client, () => w.git.requests.length, 300);
    const agent = await w.createAgent(
      { apps: [{ name: 'idle', repo: w.cloneUrl('acme/env'), path: 'envs/web', namespace: 'web', suspended: true }] },
      { kube },
    );
    const before = w.git.requests.length;
    await agent.syncNow('idle', 'manual', 'test', { watch: false });
    assert.equal(seen.during, 0);
    assert.equal(w.git.requests.length, before);
  });
});
