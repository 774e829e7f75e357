// Issue 7's benchmark (`npm run bench status`): push-to-status latency. An in-process agent (as in
// agent/test/agent.world.test.ts) syncs a ConfigMap app from the GitHub emulator's repository into a real
// kube-apiserver; the emulator's push webhook wakes it. Each push changes the ConfigMap through the contents API and
// is timed until the emulator holds `success` for `tether/<cluster>/<app>` on that commit. Figures only.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Octokit } from '@octokit/rest';
import { parseConfig } from '../agent/src/config.ts';
import { createServer } from '../agent/src/edges/http/server.ts';
import { HttpKubeClient } from '../agent/src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../agent/src/edges/kube/kubeconfig.ts';
import { createAgent } from '../agent/src/main.ts';
import type { Agent } from '../agent/src/reconcile/agent.ts';
import { closeServer } from '../testenv/src/git-server.ts';
import type { GitHubRequestRecord } from '../testenv/src/github/server.ts';
import type { StatusRecord } from '../testenv/src/github/state.ts';
import { startWorld, type World } from '../testenv/src/world.ts';
import type { Report } from './run.ts';

/** The bench's name in `npm run bench` output. */
export const name = 'status latency (issue 7): push → success commit status';

const SECRET = 'bench-webhook-secret';
const OWNER = 'acme';
const NAME = 'env';
const REPO = `${OWNER}/${NAME}`;
const CLUSTER = 'dev';
const APP = 'web';
const CONTEXT = `tether/${CLUSTER}/${APP}`;
const FILE = 'envs/dev/web/configmap.yaml';
const PUSHES = 20;
const BACK_TO_BACK = 5;
/** Pause after a success before the next push: longer than the throttling plugin's 1 s spacing of writes. */
const PAUSE_MS = 1200;

const log = (line: string) => console.log(`# ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n';
const configMap = (n: number) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {app.kubernetes.io/name: web}
data:
  RELEASE: "${n}"
  LOG_LEVEL: info
  FEATURE_FLAGS: "checkout-v2,new-search"
`;

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One push's measurements. */
interface Sample {
  sha: string;
  /** Push sent → emulator answered the success status post. */
  latencyMs: number;
  /** The contents API's own time (commit + ref update + webhook queued). */
  pushMs: number;
  /** Push answered → the agent's first status request for the commit (webhook, fetch, apply, health). */
  syncMs: number;
  /** That first request → success stored (the reporter's read, throttling, the write). */
  postMs: number;
}

/** Runs the benchmark; the agent, its server and the world are stopped when it returns. */
export async function run(report: Report): Promise<void> {
  const tStart = performance.now();
  const cacheDir = mkdtempSync(join(tmpdir(), 'tether-bench-status-'));
  let world: World | undefined;
  let agent: Agent | undefined;
  let kube: HttpKubeClient | undefined;
  let server: Server | undefined;
  try {
    log('starting kube-apiserver + etcd, the Git server and the GitHub emulator');
    world = await startWorld({ kube: 'api', github: true });
    const gh = world.github!;
    log(`world up after ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
    const ns = await world.kube!.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'tether-system' },
    });
    if (ns.status !== 201 && ns.status !== 409) throw new Error(`creating tether-system: ${ns.status}`);
    const repo = await gh.state.createRepo(REPO, {
      files: { 'envs/dev/web/namespace.yaml': namespace, [FILE]: configMap(0) },
    });
    const firstSha = (await world.git!.repo(REPO).resolve('refs/heads/main'))!;

    const config = parseConfig({
      cluster: CLUSTER,
      github: { apiUrl: gh.url },
      cacheDir,
      apps: [{ name: APP, repo: world.git!.cloneUrl(REPO), path: 'envs/dev/web', namespace: 'web', interval: '1h' }],
    });
    kube = new HttpKubeClient(loadKubeconfig(world.kube!.kubeconfig));
    const token = world.token;
    agent = await createAgent(config, { kube, token: async () => token });
    const app = createServer(agent, { webhookSecret: SECRET });
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server)) as Server;
    });
    const agentUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await gh.state.addHook(REPO, { url: `${agentUrl}/webhook/github`, secret: SECRET });

    const ofSha = (sha: string): StatusRecord[] => repo.statuses.filter((s) => s.sha === sha && s.context === CONTEXT);
    /** Resolves with when `sha` got its first success: the answer of its status post, or when it was seen. */
    const success = async (sha: string, timeoutMs: number): Promise<number | undefined> => {
      const deadline = performance.now() + timeoutMs;
      let seenAt: number | undefined;
      while (performance.now() < deadline) {
        const records = ofSha(sha);
        const i = records.findIndex((s) => s.state === 'success');
        if (i >= 0) {
          // The record is stored before the answer is logged: give the log a moment to catch up.
          seenAt ??= performance.now();
          const posts = gh.requests.filter(
            (r) => r.method === 'POST' && r.path === `/repos/${REPO}/statuses/${sha}` && r.status === 201,
          );
          const post = posts[i];
          if (post) return post.at + post.ms;
          if (performance.now() - seenAt > 200) return seenAt;
        }
        await sleep(5);
      }
      return undefined;
    };

    const t0 = performance.now();
    await agent.start();
    const first = await success(firstSha, 60_000);
    log(
      `agent started; first sync's success ${first === undefined ? 'not seen in 60 s' : `after ${Math.round(first - t0)} ms`}`,
    );
    report('agent start → success on the initial commit', first === undefined ? Number.NaN : first - t0, 'ms');
    await sleep(PAUSE_MS);

    const pusher = new Octokit({ baseUrl: gh.url, auth: token });
    let blobSha = (
      (await pusher.repos.getContent({ owner: OWNER, repo: NAME, path: FILE })).data as {
        sha: string;
      }
    ).sha;
    let release = 0;

    /** One push through the contents API, timed until success; undefined when none came within 30 s. */
    const pushAndWait = async (): Promise<Sample | undefined> => {
      release++;
      const started = performance.now();
      const { data } = await pusher.repos.createOrUpdateFileContents({
        owner: OWNER,
        repo: NAME,
        path: FILE,
        message: `web: release ${release}`,
        content: Buffer.from(configMap(release)).toString('base64'),
        sha: blobSha,
      });
      const answered = performance.now();
      blobSha = data.content!.sha!;
      const sha = data.commit.sha!;
      const done = await success(sha, 30_000);
      if (done === undefined) {
        log(`push ${release} (${sha.slice(0, 7)}): no success within 30 s; statuses ${JSON.stringify(ofSha(sha))}`);
        return undefined;
      }
      const firstCall = gh.requests.find(
        (r: GitHubRequestRecord) => r.at >= answered && r.path.includes(sha) && r.path.startsWith(`/repos/${REPO}/`),
      );
      const syncedAt = firstCall?.at ?? done;
      return {
        sha,
        latencyMs: done - started,
        pushMs: answered - started,
        syncMs: syncedAt - answered,
        postMs: done - syncedAt,
      };
    };

    const phase = async (label: string, count: number, pauseMs: number, goal?: string): Promise<Sample[]> => {
      const samples: Sample[] = [];
      for (let i = 0; i < count; i++) {
        const s = await pushAndWait();
        if (s) {
          samples.push(s);
          log(
            `${label} ${i + 1}/${count} ${s.sha.slice(0, 7)}: ${Math.round(s.latencyMs)} ms ` +
              `(push ${Math.round(s.pushMs)}, → agent's first status call ${Math.round(s.syncMs)}, → success ${Math.round(s.postMs)})`,
          );
        }
        if (pauseMs) await sleep(pauseMs + (i % 5) * 37);
      }
      const lat = samples.map((s) => s.latencyMs);
      const accepted = samples.map((s) => s.latencyMs - s.pushMs);
      report(`${label}: pushes with success`, samples.length, '', String(count));
      report(`${label}: push sent → success p50`, percentile(lat, 50), 'ms');
      report(`${label}: push sent → success p95`, percentile(lat, 95), 'ms', goal);
      report(`${label}: push sent → success max`, lat.length ? Math.max(...lat) : Number.NaN, 'ms');
      report(`${label}: push accepted → success p50`, percentile(accepted, 50), 'ms');
      report(`${label}: push accepted → success p95`, percentile(accepted, 95), 'ms');
      report(`${label}: push accepted → success max`, accepted.length ? Math.max(...accepted) : Number.NaN, 'ms');
      report(
        `${label}: p50 push (contents API) itself`,
        percentile(
          samples.map((s) => s.pushMs),
          50,
        ),
        'ms',
      );
      report(
        `${label}: p50 push answered → agent's status call`,
        percentile(
          samples.map((s) => s.syncMs),
          50,
        ),
        'ms',
      );
      report(
        `${label}: p50 agent's status call → success`,
        percentile(
          samples.map((s) => s.postMs),
          50,
        ),
        'ms',
      );
      return samples;
    };

    log(`${PUSHES} pushes, ${PAUSE_MS} ms apart after each success`);
    const spaced = await phase('spaced pushes', PUSHES, PAUSE_MS);
    // Back to back, the throttling plugin holds each status write until 1 s after the previous one.
    log(`${BACK_TO_BACK} pushes back to back (the next push as soon as the previous commit has success)`);
    const burst = await phase('back-to-back pushes', BACK_TO_BACK, 0);

    // Let anything late (health timer, retries) land, then count what each commit received.
    await sleep(2500);
    await agent.flushStatuses();
    const all = [...spaced, ...burst];
    const perCommit = all.map((s) => {
      const records = ofSha(s.sha);
      const reads = gh.requests.filter(
        (r) => r.method === 'GET' && r.path === `/repos/${REPO}/commits/${s.sha}/statuses`,
      ).length;
      return {
        writes: records.length,
        pending: records.filter((r) => r.state === 'pending').length,
        success: records.filter((r) => r.state === 'success').length,
        other: records.filter((r) => r.state !== 'pending' && r.state !== 'success').length,
        reads,
      };
    });
    const max = (k: keyof (typeof perCommit)[number]) => Math.max(...perCommit.map((c) => c[k]));
    const total = (k: keyof (typeof perCommit)[number]) => perCommit.reduce((n, c) => n + c[k], 0);
    log(`status writes per commit: ${perCommit.map((c) => `${c.pending}p+${c.success}s`).join(' ')}`);
    report('status writes per commit (max)', max('writes'), '', '≤ 2');
    report('pending writes per commit (max)', max('pending'), '', '≤ 1');
    report('pending writes (all commits)', total('pending'));
    report('success writes per commit (max)', max('success'), '', '1');
    report('failure/error writes (all commits)', total('other'), '', '0');
    report('status list reads per commit (max)', max('reads'));
    const listMs = gh.requests
      .filter((r) => r.method === 'GET' && /\/commits\/[0-9a-f]{40}\/statuses$/.test(r.path))
      .map((r) => r.ms);
    report('  their time at the emulator p50', percentile(listMs, 50), 'ms');
    const deliveries = gh.webhooks.deliveries.filter((d) => d.event === 'push');
    const delivered = deliveries.filter((d) => d.status === 202).length;
    report('push webhooks answered 202', `${delivered}/${deliveries.length}`);
    report(
      'webhook delivery time p50',
      percentile(
        deliveries.map((d) => d.durationMs ?? Number.NaN).filter((x) => !Number.isNaN(x)),
        50,
      ),
      'ms',
    );
    report('OpenAPI violations seen by the emulator', gh.violations.length, '', '0');
    for (const v of gh.violations.slice(0, 5)) log(`violation: ${v.kind} ${v.operation}: ${v.errors.join('; ')}`);
  } finally {
    try {
      await agent?.stop();
    } catch (err) {
      log(`agent stop: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (server) await closeServer(server);
    kube?.close();
    await world?.stop();
    rmSync(cacheDir, { recursive: true, force: true });
    log(`bench took ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
  }
}
