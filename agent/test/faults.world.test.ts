import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { freePort, waitFor } from '../../testenv/src/processes.ts';
import { startWorld, type World } from '../../testenv/src/world.ts';

const bin = new URL('../../bin/tether.js', import.meta.url).pathname;
const N = 120;
const cm = (i: number) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata: {n: "${i}"}\n`;

/** The agent as shipped: its own process, so that a fault that kills it is seen as an exit, not a test error. */
class AgentProcess {
  readonly child: ChildProcess;
  output = '';
  exit: { code: number | null; signal: string | null; at: number } | undefined;
  constructor(config: string) {
    this.child = spawn(process.execPath, [bin, 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString('utf8')).slice(-200_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal, at: Date.now() };
    });
  }
  alive(): boolean {
    return this.exit === undefined;
  }
}

describe('the agent under control-plane faults', () => {
  let world: World;
  let dir: string;
  let port: number;
  let agent: AgentProcess;
  let gh: Octokit;
  const base = () => `http://127.0.0.1:${port}`;

  const statusOf = async (sha: string) =>
    (await gh.repos.listCommitStatusesForRef({ owner: 'acme', repo: 'env', ref: sha, per_page: 100 })).data.find(
      (s) => s.context === 'tether/dev/web',
    );
  const head = async () => (await world.git!.repo('acme/env').resolve('refs/heads/main'))!;
  const members = async () => {
    const r = await world.kube!.request(
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
    `agent ${agent.alive() ? 'alive' : `exited ${JSON.stringify(agent.exit)}`}\n${agent.output.slice(-3000)}`;

  before(async () => {
    world = await startWorld({ kube: 'api', github: true });
    gh = new Octokit({ baseUrl: world.github!.url, auth: world.token });
    dir = mkdtempSync(join(tmpdir(), 'tether-faults-'));
    port = await freePort();
    await world.github!.state.createRepo('acme/env', { files: { 'envs/dev/web/cm-0.yaml': cm(0) } });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, world.token);
    const config = join(dir, 'tether.yaml');
    writeFileSync(
      config,
      `cluster: dev
kubeconfig: ${world.kube!.kubeconfig}
cacheDir: ${join(dir, 'cache')}
github: {tokenFile: ${tokenFile}, apiUrl: "${world.github!.url}"}
server: {host: 127.0.0.1, port: ${port}}
apps:
  - {name: web, repo: "${world.git!.cloneUrl('acme/env')}", path: envs/dev/web, interval: 5s}
`,
    );
    agent = new AgentProcess(config);
    const sha = await head();
    await waitFor(async () => (await statusOf(sha))?.state === 'success', {
      timeoutMs: 60_000,
      describe: describeAgent,
    });
  });
  after(async () => {
    if (agent?.alive()) agent.child.kill('SIGKILL');
    await world?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('apiserver stopped while idle: the agent stays up, is not ready, and recovers when it returns', async () => {
    await world.kube!.apiserver.stop();
    await waitFor(async () => (await readyz()) === 503, { timeoutMs: 30_000, describe: describeAgent });
    // Long enough for every poll, watch and health check to meet the refused connection.
    await new Promise((r) => setTimeout(r, 8000));
    assert.ok(agent.alive(), describeAgent());
    await world.kube!.apiserver.start();
    await waitFor(async () => (await readyz()) === 200, { timeoutMs: 60_000, describe: describeAgent });
    const sha = await world
      .git!.repo('acme/env')
      .commitFiles({ branch: 'main', files: { 'envs/dev/web/cm-1.yaml': cm(1) }, message: 'one more' });
    await waitFor(async () => (await statusOf(sha))?.state === 'success', {
      timeoutMs: 60_000,
      describe: describeAgent,
    });
    assert.equal(await members(), 2);
  });

  test('apiserver stopped mid-sync and restarted: the agent finishes the revision, inventory intact', async () => {
    const files: Record<string, string> = {};
    for (let i = 2; i < N; i++) files[`envs/dev/web/cm-${i}.yaml`] = cm(i);
    const sha = await world.git!.repo('acme/env').commitFiles({ branch: 'main', files, message: 'many' });
    await waitFor(async () => (await members()) > 2, { timeoutMs: 30_000, describe: describeAgent });
    await world.kube!.apiserver.stop();
    await new Promise((r) => setTimeout(r, 6000));
    assert.ok(agent.alive(), describeAgent());
    await world.kube!.apiserver.start();
    await waitFor(async () => (await statusOf(sha))?.state === 'success', {
      timeoutMs: 90_000,
      describe: describeAgent,
    });
    assert.equal(await members(), N);
    const parent = await world.kube!.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-web');
    const inventory = String((parent.body as { data: { inventory: string } }).data.inventory)
      .trim()
      .split('\n');
    assert.equal(inventory.length, N);
  });

  test('apiserver frozen (SIGSTOP) for 20 s: the agent stays up and is ready again after it thaws', async () => {
    world.kube!.apiserver.freeze();
    try {
      await new Promise((r) => setTimeout(r, 20_000));
      assert.ok(agent.alive(), describeAgent());
    } finally {
      world.kube!.apiserver.thaw();
    }
    await waitFor(async () => (await readyz()) === 200, { timeoutMs: 60_000, describe: describeAgent });
    assert.ok(agent.alive(), describeAgent());
  });

  test('no unhandled rejection was logged, and SIGTERM mid-sync ends the process within 10 s', async () => {
    assert.doesNotMatch(agent.output, /unhandled/i, 'an unhandled rejection was caught by the process guard');
    const files: Record<string, string> = {};
    for (let i = 0; i < N; i++) files[`envs/dev/web/cm-${i}.yaml`] = cm(i).replace(`"${i}"`, `"${i}-b"`);
    await world.git!.repo('acme/env').commitFiles({ branch: 'main', files, message: 'change all' });
    await waitFor(
      async () => {
        const r = await world.kube!.request('GET', '/api/v1/namespaces/default/configmaps/cm-0');
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
