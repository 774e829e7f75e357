import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { freePort, waitFor } from '../../testenv/src/processes.ts';
import { startWorld, type World } from '../../testenv/src/world.ts';

const bin = new URL('../../bin/tether.js', import.meta.url).pathname;
const cm = (name: string, v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {v: "${v}"}\n`;

let world: World;
let dir: string;
let config: string;
let port: number;
let gh: Octokit;

before(async () => {
  world = await startWorld({ kube: 'api', github: true });
  gh = new Octokit({ baseUrl: world.github!.url, auth: world.token });
  dir = mkdtempSync(join(tmpdir(), 'tether-restarts-'));
  port = await freePort();
  await world.github!.state.createRepo('acme/env', {
    files: { 'envs/dev/web/a.yaml': cm('a', '0'), 'envs/dev/web/b.yaml': cm('b', '0') },
  });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, world.token);
  config = join(dir, 'tether.yaml');
  writeFileSync(
    config,
    `cluster: dev
kubeconfig: ${world.kube!.kubeconfig}
cacheDir: ${join(dir, 'cache')}
github: {tokenFile: ${tokenFile}, apiUrl: "${world.github!.url}"}
server: {host: 127.0.0.1, port: ${port}}
apps:
  - {name: web, repo: "${world.git!.cloneUrl('acme/env')}", path: envs/dev/web, interval: 1h}
`,
  );
});
after(async () => {
  await world?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const statuses = async (sha: string) =>
  (await gh.repos.listCommitStatusesForRef({ owner: 'acme', repo: 'env', ref: sha, per_page: 100 })).data.filter(
    (s) => s.context === 'tether/dev/web',
  );

test('10 restarts with status posts failing: the newest status always matches the agent, no rewrite when nothing changed', async () => {
  let head = (await world.git!.repo('acme/env').resolve('refs/heads/main'))!;
  for (let i = 0; i < 10; i++) {
    let changed = false;
    if (i % 3 === 1) {
      head = await world.git!.repo('acme/env').commitFiles({
        branch: 'main',
        files: { 'envs/dev/web/a.yaml': cm('a', String(i)) },
        message: `a = ${i}`,
      });
      changed = true;
    }
    const before = (await statuses(head)).length;
    // A bad GitHub minute: the next status posts fail; Octokit retries a 502 three times with growing delays, so
    // three faults cost the agent about 15 s, and the reporter retries after that.
    world.github!.faults.failNext(i % 2 === 0 ? 1 : 3, { match: /^POST \/repos\/acme\/env\/statuses\//, status: 502 });
    const child: ChildProcess = spawn(process.execPath, [bin, 'agent', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-20_000);
    });
    try {
      // The agent's own verdict on the head.
      await waitFor(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/api/apps/web`).catch(() => undefined);
          if (!r?.ok) return false;
          const a = (await r.json()) as { state: { sync: string; health: { status: string }; revision?: string } };
          return a.state.revision === head && a.state.sync === 'Synced' && a.state.health.status === 'Healthy';
        },
        { timeoutMs: 60_000, describe: () => `restart ${i}: agent never Synced/Healthy on ${head}\n${stderr}` },
      );
      // GitHub converges to it despite the failed posts (the reporter retries with backoff).
      await waitFor(async () => (await statuses(head))[0]?.state === 'success', {
        timeoutMs: 60_000,
        describe: () => `restart ${i}: the newest status on ${head} is not success\n${stderr.slice(-3000)}`,
      });
    } finally {
      child.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
      await new Promise((r) => child.once('exit', r));
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
