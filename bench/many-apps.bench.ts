// Many apps in one agent (`npm run bench many`): 200 apps of 25 objects each, synced by one shipped agent process
// (`node dist/tether.mjs agent`, the bundle users run) against one local apiserver, statuses posted to the GitHub
// emulator. Reported: time to first sync all, the time the status queue takes to drain, then — idle, with nothing
// left to post — API requests per minute, open watches, RSS and CPU; then drift-to-healed p95 and status writes per
// minute. Figures only, goals printed beside them.
// Environment knobs: TETHER_BENCH_APPS and TETHER_BENCH_STEADY_S for a quicker look, TETHER_BENCH_AGENT_FLAGS (node
// flags of the agent process).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { K8sObject } from '../agent/src/core/types.ts';
import { HttpKubeClient, type ResourceType } from '../agent/src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../agent/src/edges/kube/kubeconfig.ts';
import { freePort } from '../testenv/src/processes.ts';
import { startWorld, type World } from '../testenv/src/world.ts';
import { imageEnv, imageNodeFlags } from './image-flags.ts';
import type { Report } from './run.ts';

/** The bench's name in `npm run bench` output. */
export const name = 'many apps: 200 apps × 25 objects in one agent';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const APPS = Number(process.env.TETHER_BENCH_APPS ?? 200);
const OBJECTS = 25;
const STEADY_S = Number(process.env.TETHER_BENCH_STEADY_S ?? 120);
const EDITS = 20;
const REPO = 'acme/env';
const MB = 1024 * 1024;

const log = (line: string) => console.log(`# ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pad = (i: number) => String(i).padStart(3, '0');

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * One app's files: 15 ConfigMaps and 10 headless Services, kinds that are healthy once applied (the bench's
 * apiserver runs no controllers, so a Deployment would never become available and no app would reach success).
 */
function appFiles(app: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < OBJECTS; i++) {
    const n = `o${String(i).padStart(2, '0')}`;
    files[`apps/a${pad(app)}/${n}.yaml`] =
      i < 15
        ? `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${n}\ndata:\n  app: a${pad(app)}\n  index: "${i}"\n`
        : `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${n}\nspec:\n  clusterIP: None\n  selector: {app: ${n}}\n  ports: [{port: 80}]\n`;
  }
  return files;
}

/** Sums of the apiserver's own counters: requests (all verbs, by the agent and anyone) and open watches. */
async function apiserverCounters(world: World): Promise<{ requests: number; watches: number }> {
  const r = await world.kube!.request('GET', '/metrics');
  const text = typeof r.body === 'string' ? r.body : '';
  let requests = 0;
  let watches = 0;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('apiserver_request_total{')) requests += value;
    else if (line.startsWith('apiserver_longrunning_requests{') && line.includes('verb="WATCH"')) watches += value;
  }
  return { requests, watches };
}

/** CPU seconds (user + system) and RSS of a process, from /proc. */
function procStats(pid: number): { cpuS: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  const rssLine = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return { cpuS: ticks / 100, rss: Number(rssLine?.[1] ?? 0) * 1024 };
}

interface AppsAnswer {
  apps: { name: string; state: { sync: string; health: { status: string }; lastSync?: { error?: unknown } } }[];
}

/** Runs the benchmark; the agent process and the world are stopped when it returns. */
export async function run(report: Report): Promise<void> {
  const tStart = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'tether-bench-many-'));
  let world: World | undefined;
  let agent: ChildProcess | undefined;
  let observer: HttpKubeClient | undefined;
  try {
    log(`starting kube-apiserver + etcd, the Git server and the GitHub emulator; ${APPS} apps × ${OBJECTS} objects`);
    world = await startWorld({ kube: 'api', github: true });
    const k = world.kube!;
    const gh = world.github!;
    for (const ns of ['tether-system', ...Array.from({ length: APPS }, (_, i) => `a${pad(i)}`)]) {
      const r = await k.request('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
      });
      if (r.status !== 201) throw new Error(`creating namespace ${ns}: ${r.status}`);
    }
    const repo = await gh.state.createRepo(REPO, { files: { 'README.md': '# env\n' } });
    // One `git fast-import` commit of every app's files (a commit per file would take minutes).
    const bare = world.git!.repo(REPO);
    const parent = (await bare.resolve('refs/heads/main'))!;
    let stream = `commit refs/heads/main\ncommitter Bench <bench@tether.invalid> 1700000000 +0000\ndata 5\napps\nfrom ${parent}\n`;
    for (let a = 0; a < APPS; a++) {
      for (const [path, text] of Object.entries(appFiles(a))) {
        stream += `M 100644 inline ${path}\ndata ${Buffer.byteLength(text)}\n${text}\n`;
      }
    }
    await bare.git(['fast-import', '--quiet'], { input: stream });
    const sha = (await bare.resolve('refs/heads/main'))!;

    const port = await freePort();
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, world.token);
    const configFile = join(tmp, 'tether.yaml');
    const apps = Array.from(
      { length: APPS },
      (_, i) =>
        `  - {name: a${pad(i)}, repo: "${world!.git!.cloneUrl(REPO)}", path: apps/a${pad(i)}, namespace: a${pad(i)}, interval: 60s}`,
    );
    writeFileSync(
      configFile,
      `cluster: bench\nkubeconfig: ${k.kubeconfig}\ncacheDir: ${join(tmp, 'cache')}\n` +
        `github: {apiUrl: "${gh.url}", tokenFile: ${tokenFile}}\nserver: {host: 127.0.0.1, port: ${port}}\n` +
        `leaderElection: {enabled: false}\napps:\n${apps.join('\n')}\n`,
    );
    // The apiserver's own loops (its identity leases, controllers of the api mode) make requests too: measured alone
    // first, and taken out of the agent's steady-state figure.
    const idle0 = { ...(await apiserverCounters(world)), at: performance.now() };
    await sleep(30_000);
    const idle1 = { ...(await apiserverCounters(world)), at: performance.now() };
    const idlePerMinute = (idle1.requests - idle0.requests - 1) / ((idle1.at - idle0.at) / 60_000);
    const before = await apiserverCounters(world);
    const t0 = performance.now();
    // The shipped command, with the container image's node flags and environment.
    agent = spawn(
      process.execPath,
      [
        ...imageNodeFlags(),
        // e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where the agent's time goes.
        ...(process.env.TETHER_BENCH_AGENT_FLAGS?.split(' ').filter(Boolean) ?? []),
        join(root, 'dist/tether.mjs'),
        'agent',
        '--config',
        configFile,
      ],
      {
        cwd: root,
        env: { ...process.env, ...imageEnv(), NODE_OPTIONS: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    agent.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString('utf8')).slice(-4000);
    });
    const pid = agent.pid!;
    const appsNow = async (): Promise<AppsAnswer['apps']> => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/apps`);
        return r.ok ? ((await r.json()) as AppsAnswer).apps : [];
      } catch {
        return [];
      }
    };

    // 1. Time to first sync all: every app Synced and Healthy.
    let synced = 0;
    for (const deadline = performance.now() + 15 * 60_000; performance.now() < deadline; ) {
      if (agent.exitCode !== null || agent.signalCode !== null)
        throw new Error(`the agent exited (${agent.exitCode ?? agent.signalCode}): ${stderr}`);
      const list = await appsNow();
      synced = list.filter((a) => a.state.sync === 'Synced' && a.state.health.status === 'Healthy').length;
      if (synced === APPS) break;
      await sleep(250);
    }
    const firstAllS = (performance.now() - t0) / 1000;
    const afterFirst = await apiserverCounters(world);
    log(`${synced} of ${APPS} apps Synced and Healthy after ${firstAllS.toFixed(1)} s`);
    report(`time to first sync all ${APPS} apps (${APPS * OBJECTS} objects)`, firstAllS, 's');
    report('  apiserver requests during the first sync', afterFirst.requests - before.requests);
    const rssFirst = procStats(pid).rss;
    const statusPosts = () =>
      gh.requests.filter((r) => r.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/statuses\//.test(r.path)).length;
    const successes = () =>
      new Set(repo.statuses.filter((s) => s.sha === sha && s.state === 'success').map((s) => s.context)).size;

    // 2. The status queue drains: writes are spaced 1 s apart (GitHub's guidance for content-creating requests), so
    // 200 apps' statuses take minutes to post. Idle is measured after that: every app's success posted and no write
    // for 10 s; measured while the queue still drains, the CPU figure is the pacing of those writes, not idling.
    const drain0 = { ...procStats(pid), at: performance.now() };
    let quietSince = performance.now();
    let lastPosts = statusPosts();
    for (const deadline = performance.now() + 15 * 60_000; performance.now() < deadline; ) {
      await sleep(1000);
      const n = statusPosts();
      if (n !== lastPosts) [lastPosts, quietSince] = [n, performance.now()];
      if (successes() === APPS && performance.now() - quietSince >= 10_000) break;
    }
    const drain1 = { ...procStats(pid), at: performance.now() };
    report('status queue drained (every app success, 10 s quiet) after', (drain1.at - drain0.at) / 1000, 's');
    report('  apps with success posted when idle starts', successes(), '', String(APPS));
    report(
      '  agent CPU while the status queue drained',
      ((drain1.cpuS - drain0.cpuS) / ((drain1.at - drain0.at) / 1000)) * 100,
      '% of a core',
    );

    // 3. Steady state: no change in Git or the cluster; every app polls once a minute; nothing left to post.
    log(`steady state: ${STEADY_S} s without changes, the status queue drained`);
    const s0 = { ...(await apiserverCounters(world)), ...procStats(pid), posts: statusPosts(), at: performance.now() };
    await sleep(STEADY_S * 1000);
    const s1 = { ...(await apiserverCounters(world)), ...procStats(pid), posts: statusPosts(), at: performance.now() };
    const minutes = (s1.at - s0.at) / 60_000;
    // The bench's own two metric reads are in the window too; they are taken out.
    const perMinute = (s1.requests - s0.requests - 1) / minutes;
    report('steady state: agent requests to the apiserver per minute', perMinute - idlePerMinute, '/min');
    report(
      '  apiserver requests per minute, all / without the agent',
      `${perMinute.toFixed(1)} / ${idlePerMinute.toFixed(1)}`,
    );
    // The apiserver's own informers watch it too; those were open before the agent started.
    report('steady state: open watches of the agent', s1.watches - before.watches, '', 'one per group-kind: 2');
    report(
      'steady state (idle, queue drained): agent CPU',
      ((s1.cpuS - s0.cpuS) / ((s1.at - s0.at) / 1000)) * 100,
      '% of a core',
      '< 2 %',
    );

    report('steady state: agent RSS', s1.rss / MB, 'MB', '≤ 150 MB');
    report('  agent RSS right after the first sync of all', rssFirst / MB, 'MB');
    report('status writes per minute, steady state', (s1.posts - s0.posts) / minutes, '/min', '≤ 60 (1/s)');
    const allPosts = statusPosts();
    report(
      'status writes per minute, since start',
      allPosts / ((performance.now() - t0) / 60_000),
      '/min',
      '≤ 60 (1/s)',
    );
    report('  status writes in all', allPosts);
    // Measured after the queue drained (step 2): the steady-state figure is new writes, which an idle agent has none of.
    const posted = repo.statuses.filter((s) => s.sha === sha);
    report('  apps with a status posted', new Set(posted.map((s) => s.context)).size, '', String(APPS));

    // 4. Drift to healed: another manager edits one ConfigMap of a different app each time.
    observer = new HttpKubeClient(loadKubeconfig(k.kubeconfig));
    const configMaps: ResourceType = {
      group: '',
      version: 'v1',
      kind: 'ConfigMap',
      resource: 'configmaps',
      namespaced: true,
      verbs: ['get', 'list', 'watch'],
    };
    let waiting: { ns: string; resolve: (at: number) => void } | undefined;
    const watch = observer.watch(configMaps, { labelSelector: 'applyset.kubernetes.io/part-of' }, (ev) => {
      const o = ev.object as K8sObject;
      if (ev.type !== 'MODIFIED' || o.metadata?.name !== 'o00' || !waiting || o.metadata.namespace !== waiting.ns)
        return;
      if ((o.data as Record<string, string> | undefined)?.app === waiting.ns) {
        const w = waiting;
        waiting = undefined;
        w.resolve(performance.now());
      }
    });
    await sleep(500);
    const latencies: number[] = [];
    let timeouts = 0;
    for (let i = 0; i < EDITS; i++) {
      const ns = `a${pad((i * 37) % APPS)}`;
      const healed = new Promise<number>((resolve) => {
        waiting = { ns, resolve };
      });
      const started = performance.now();
      const r = await k.request(
        'PATCH',
        `/api/v1/namespaces/${ns}/configmaps/o00?fieldManager=bench-editor`,
        { data: { app: 'drifted' } },
        'application/merge-patch+json',
      );
      if (r.status !== 200) log(`edit ${i}: PATCH answered ${r.status}`);
      const at = await Promise.race([healed, sleep(10_000).then(() => undefined)]);
      if (at === undefined) {
        timeouts++;
        waiting = undefined;
      } else latencies.push(at - started);
      await sleep(200);
    }
    watch.stop();
    report('heal one drift p50', percentile(latencies, 50), 'ms');
    report('heal one drift p95', percentile(latencies, 95), 'ms', '≤ 1000 ms');
    report('  edits not healed within 10 s', timeouts, '', '0');
  } finally {
    observer?.close();
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await Promise.race([exited, sleep(35_000)]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    await world?.stop();
    rmSync(tmp, { recursive: true, force: true });
    log(`bench took ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
  }
}
