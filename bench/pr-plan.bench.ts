// `npm run bench pr-plan`: webhook-to-plan-status time. An in-process agent (as in agent/test/pr-plan.world.test.ts)
// syncs a 50-object app into a real kube-apiserver, then a pull request is opened and pushed to several times; each
// head is timed from the moment the agent receives its `pull_request` webhook until the GitHub emulator holds a
// settled `tether/<cluster>/<app>/plan` status on that head. Figures only, and the apiserver's write count.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Octokit } from '@octokit/rest';
import { parseConfig } from '../agent/src/config.ts';
import { createServer } from '../agent/src/edges/http/server.ts';
import { HttpKubeClient } from '../agent/src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../agent/src/edges/kube/kubeconfig.ts';
import { createAgent } from '../agent/src/main.ts';
import type { Agent } from '../agent/src/reconcile/agent.ts';
import { apiserverWrites, writesBetween } from '../testenv/src/apiserver-writes.ts';
import { closeServer } from '../testenv/src/git-server.ts';
import { startWorld, type World } from '../testenv/src/world.ts';
import type { Report } from './run.ts';

/** The bench's name in `npm run bench` output. */
export const name = 'pull request plans: pull_request webhook → plan status (50-object app)';

const SECRET = 'bench-webhook-secret';
const REPO = { owner: 'acme', repo: 'env' };
const DIR = 'envs/dev/web';
const CONTEXT = 'tether/dev/web/plan';
const DEPLOYMENTS = 10;
const SERVICES = 10;
const CONFIGMAPS = 29; // with the Namespace: 50 objects
const HEADS = 6;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const deploy = (i: number, tag: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web-${i}, namespace: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web-${i}}}
  template:
    metadata: {labels: {app: web-${i}}}
    spec:
      containers: [{name: web, image: "ghcr.io/acme/web-${i}:${tag}"}]
`;
const service = (i: number) => `apiVersion: v1
kind: Service
metadata: {name: web-${i}, namespace: web}
spec:
  selector: {app: web-${i}}
  ports: [{port: 80, targetPort: 8080}]
`;
const configMap = (i: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg-${i}, namespace: web}\ndata: {n: "${i}"}\n`;

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Runs the benchmark and reports its figures. */
export async function run(report: Report): Promise<void> {
  let world: World | undefined;
  let agent: Agent | undefined;
  let kube: HttpKubeClient | undefined;
  let server: Server | undefined;
  try {
    world = await startWorld({ kube: 'api', github: true });
    const files: Record<string, string> = {
      [`${DIR}/namespace.yaml`]: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n',
    };
    for (let i = 0; i < DEPLOYMENTS; i++) files[`${DIR}/deploy-${i}.yaml`] = deploy(i, '1.0.0');
    for (let i = 0; i < SERVICES; i++) files[`${DIR}/svc-${i}.yaml`] = service(i);
    for (let i = 0; i < CONFIGMAPS; i++) files[`${DIR}/cm-${i}.yaml`] = configMap(i);
    await world.github!.state.createRepo(`${REPO.owner}/${REPO.repo}`, { files });
    const gh = new Octokit({ baseUrl: world.github!.url, auth: world.token });
    const config = parseConfig({
      cluster: 'dev',
      github: { apiUrl: world.github!.url },
      apps: [
        {
          name: 'web',
          repo: world.git!.cloneUrl(`${REPO.owner}/${REPO.repo}`),
          path: DIR,
          namespace: 'web',
          interval: '1h',
          planPullRequests: true,
        },
      ],
    });
    kube = new HttpKubeClient(loadKubeconfig(world.kube!.kubeconfig));
    agent = await createAgent(config, { kube, token: async () => world!.token, pollPullRequests: false });
    const app = createServer(agent, { webhookSecret: SECRET });
    // When each pull_request webhook reached the agent, by the head it announces.
    const received = new Map<string, number>();
    const fetch: typeof app.fetch = async (req, ...rest) => {
      if (req.headers.get('x-github-event') === 'pull_request') {
        const at = performance.now();
        const body = (await req.clone().json()) as { pull_request?: { head?: { sha?: string } } };
        const sha = body.pull_request?.head?.sha;
        if (sha && !received.has(sha)) received.set(sha, at);
      }
      return app.fetch(req, ...rest);
    };
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server)) as Server;
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook/github`;
    await world.github!.state.addHook(`${REPO.owner}/${REPO.repo}`, { url, secret: SECRET, events: ['pull_request'] });
    const t0 = performance.now();
    await agent.start();
    const synced = () => agent!.app('web')?.state.lastSync;
    while (!synced() && performance.now() - t0 < 120_000) await sleep(50);
    if (synced()?.error) throw new Error(`first sync failed: ${synced()!.error!.message}`);
    report('first sync of the 50-object app', performance.now() - t0, 'ms');
    await agent.planner!.idle();
    const writesBefore = await apiserverWrites(world.kube!);

    const repoState = await world.github!.state.repo(`${REPO.owner}/${REPO.repo}`);
    const settledAt = async (sha: string, timeoutMs = 60_000): Promise<number | undefined> => {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        if (repoState!.statuses.some((s) => s.sha === sha && s.context === CONTEXT && s.state !== 'pending')) {
          return performance.now();
        }
        await sleep(5);
      }
      return undefined;
    };

    const latencies: number[] = [];
    const states: string[] = [];
    let number: number | undefined;
    for (let n = 0; n < HEADS; n++) {
      // Each head bumps one Deployment's image: one object to change, 49 unchanged.
      const parent = (await gh.git.getRef({ ...REPO, ref: `heads/${number === undefined ? 'main' : 'bump'}` })).data
        .object.sha;
      const baseTree = (await gh.git.getCommit({ ...REPO, commit_sha: parent })).data.tree.sha;
      const i = n % DEPLOYMENTS;
      const tree = await gh.git.createTree({
        ...REPO,
        base_tree: baseTree,
        tree: [{ path: `${DIR}/deploy-${i}.yaml`, mode: '100644', type: 'blob', content: deploy(i, `2.0.${n}`) }],
      });
      const sha = (await gh.git.createCommit({ ...REPO, message: `bump ${n}`, tree: tree.data.sha, parents: [parent] }))
        .data.sha;
      if (number === undefined) {
        await gh.git.createRef({ ...REPO, ref: 'refs/heads/bump', sha });
        number = (await gh.pulls.create({ ...REPO, title: 'bump', head: 'bump', base: 'main' })).data.number;
      } else {
        await gh.git.updateRef({ ...REPO, ref: 'heads/bump', sha });
      }
      const done = await settledAt(sha);
      const start = received.get(sha);
      if (done !== undefined && start !== undefined) latencies.push(done - start);
      states.push(repoState!.statuses.filter((s) => s.sha === sha && s.context === CONTEXT).at(-1)?.state ?? 'none');
      await agent.planner!.idle();
    }
    report('heads planned (settled status)', latencies.length, '', String(HEADS));
    report('plan verdicts', [...new Set(states)].join(','), '', 'success');
    report('webhook received → plan status p50', percentile(latencies, 50), 'ms');
    report(
      'webhook received → plan status max',
      latencies.length ? Math.max(...latencies) : Number.NaN,
      'ms',
      '≤ 5000 ms',
    );
    const writes = writesBetween(writesBefore, await apiserverWrites(world.kube!), [
      'leases',
      'endpoints',
      'endpointslices',
    ]);
    report('apiserver writes while planning', writes.length === 0 ? 0 : writes.join(' '), '', '0');
    world.github!.assertNoViolations();
  } finally {
    await agent?.stop();
    if (server) await closeServer(server);
    kube?.close();
    await world?.stop();
  }
}
