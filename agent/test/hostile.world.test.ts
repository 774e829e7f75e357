// The shipped agent process (the bundle, started as the image starts it, heap capped) fed hostile YAML through Git:
// an alias bomb, a 50 MB file and 200,000 documents, each in its own app. The process stays alive, each app's state
// is a render error naming its file, /healthz answers throughout, and SIGTERM while the first syncs of those inputs
// run ends it within 10 s. Its peak VmRSS (sampled from /proc) stays under the 256 MiB the shipped Deployment
// allows, and /healthz answers within 1 s throughout.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { aliasBomb } from '../../shared/test/hostile-yaml.ts';
import { freePort, waitFor } from '../../testenv/src/processes.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const MIB = 1024 * 1024;
/** The shipped Deployment's memory limit (deploy/deployment.yaml). */
const LIMIT_BYTES = 256 * MIB;

const inputs = {
  bomb: { file: 'bomb.yaml', text: aliasBomb(), error: /bomb\.yaml: document 1: aliases expand to more than/ },
  huge: { file: 'huge.yaml', text: ' '.repeat(50 * MIB), error: /huge\.yaml: 52428800 bytes is more than/ },
  many: { file: 'many.yaml', text: 'a: 1\n---\n'.repeat(200_000), error: /many\.yaml: more than 10000 documents/ },
} as const;

/** The resident set of a process, from /proc (Linux), in bytes; undefined once it has exited. */
function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

describe('the shipped agent fed hostile YAML through Git', () => {
  let w: AgentWorld;
  let config: string;
  /** One configuration per input, so that each one's memory is measured alone. */
  const configs: Record<string, string> = {};
  let port: number;

  before(async () => {
    const files: Record<string, string> = {};
    for (const [app, input] of Object.entries(inputs)) {
      files[`envs/dev/${app}/ok.yaml`] = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${app}-ok}\n`;
      files[`envs/dev/${app}/${input.file}`] = input.text;
    }
    w = await startAgentWorld({ files });
    port = await freePort();
    const write = (name: string, apps: string[]) =>
      w.writeConfig(name, {
        server: { host: '127.0.0.1', port },
        apps: apps.map((app) => w.app(app, `envs/dev/${app}`, { interval: '5s' })),
      });
    config = write('all', Object.keys(inputs));
    for (const app of Object.keys(inputs)) configs[app] = write(app, [app]);
  });
  after(() => w?.stop());

  /** Starts the agent as the image does, with the heap the 256 Mi limit leaves it. */
  function startAgent(file = config): { child: ChildProcess; stderr: () => string } {
    const agent = w.spawnAgent(file, ['--max-old-space-size=200']);
    return { child: agent.child, stderr: () => agent.output };
  }

  /**
   * Runs the agent on one input's app until its render error shows and two more polls ran: the peak VmRSS, the
   * slowest /healthz answer and the failed probes.
   */
  async function feed(app: keyof typeof inputs): Promise<{ peak: number; slowestHealthz: number; failures: number }> {
    const input = inputs[app];
    const { child, stderr } = startAgent(configs[app]);
    let peak = 0;
    const samples = setInterval(() => {
      peak = Math.max(peak, rssOf(child.pid!) ?? 0);
    }, 50);
    // /healthz is asked every 250 ms; the slowest answer (or a failure) is what a kubelet probe would see.
    let slowestHealthz = 0;
    let failures = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = performance.now();
        const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(
          () => undefined,
        );
        if (r?.ok) slowestHealthz = Math.max(slowestHealthz, performance.now() - t);
        else if (r || slowestHealthz > 0) failures++;
        await new Promise((res) => setTimeout(res, 250));
      }
    })();
    try {
      await waitFor(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/api/apps/${app}`).catch(() => undefined);
          if (!r?.ok) return false;
          const a = (await r.json()) as { state: { lastSync?: { error?: { stage: string; message: string } } } };
          const error = a.state.lastSync?.error;
          return error?.stage === 'render' && input.error.test(error.message);
        },
        { timeoutMs: 180_000, describe: () => `app ${app} never showed its render error\n${stderr().slice(-3000)}` },
      );
      // Two more polls (interval 5 s): the input is read again, and nothing accumulates.
      await new Promise((res) => setTimeout(res, 11_000));
      assert.equal(child.exitCode, null, `the agent exited\n${stderr().slice(-3000)}`);
    } finally {
      probing = false;
      await probe;
      clearInterval(samples);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    console.log(
      `${app}: peak RSS ${Math.round(peak / MIB)} MiB; slowest /healthz ${Math.round(slowestHealthz)} ms; ` +
        `${failures} failed probes`,
    );
    assert.ok(peak > 0, 'RSS was sampled');
    return { peak, slowestHealthz, failures };
  }

  const measured: Partial<Record<keyof typeof inputs, Awaited<ReturnType<typeof feed>>>> = {};
  for (const app of Object.keys(inputs) as (keyof typeof inputs)[]) {
    test(`${inputs[app].file}: the agent stays alive, the app is an error naming the file, /healthz answers`, async () => {
      const r = await feed(app);
      measured[app] = r;
      assert.equal(r.failures, 0, 'every /healthz probe after the first answer succeeded');
    });
    // Every app's store fetches the whole commit, the 50 MB blob included, whichever app's path it is in. The
    // fetch indexes it through a streaming inflate (never held whole) and the reader refuses it by the size in its
    // header, unread (shared/src/git/pack-index.ts, agent/src/edges/git/git-source.ts). The parse of what is read
    // runs in a worker with a 128 MB heap limit (yaml-limits.test.ts).
    test(`${inputs[app].file}: peak RSS under 256 MiB and /healthz within 1 s`, () => {
      const r = measured[app];
      assert.ok(r, 'measured by the test before');
      assert.ok(r.peak < LIMIT_BYTES, `peak RSS ${Math.round(r.peak / MIB)} MiB is over the 256 MiB limit`);
      assert.ok(r.slowestHealthz < 1000, `a /healthz answer took ${Math.round(r.slowestHealthz)} ms`);
    });
  }

  test('SIGTERM while the first syncs of the hostile inputs run ends the process within 10 s', async () => {
    const { child, stderr } = startAgent();
    try {
      // Listening means the apps' first syncs have started (they run in the background of the server).
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ?? false, {
        timeoutMs: 60_000,
        describe: () => `the agent never listened\n${stderr()}`,
      });
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    const t = performance.now();
    child.kill('SIGTERM');
    const exited = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!exited) child.kill('SIGKILL');
    assert.ok(exited, `still running 10 s after SIGTERM\n${stderr().slice(-3000)}`);
    console.log(`SIGTERM → exit in ${Math.round(performance.now() - t)} ms`);
  });
});
