// The whole loop on a local world (issue 8): two real clusters with an agent each, a Git server and the GitHub
// emulator; the Action bundle bumps, promotes and rolls back through pull requests merged as a reviewer would, and
// every step is verified against the clusters and the emulator. `npm run demo` narrates it; the e2e test runs it.
import { execFileSync } from 'node:child_process';
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
import { runActionBundle } from '../testenv/src/action-runner.ts';
import type { LocalKube } from '../testenv/src/kube.ts';
import { waitFor } from '../testenv/src/processes.ts';
import { startWorld, type World } from '../testenv/src/world.ts';

const ENV_REPO = 'acme/env';
const APP_REPO = 'acme/web';
const WEBHOOK_SECRET = 'demo-webhook-secret';
const CLUSTERS = ['dev', 'staging'] as const;
type Cluster = (typeof CLUSTERS)[number];

/** One narrated step: what it did, how long it took, and what was verified. */
export interface StepResult {
  name: string;
  ms: number;
  verified: string[];
}

/** Options of the scenario. */
export interface ScenarioOptions {
  /** Where narration goes (stdout in the demo, the test log in the e2e test). */
  log: (line: string) => void;
  /** Leave everything running and return the handles instead of stopping. */
  keep: boolean;
  /** How long to wait for any one verification. */
  timeoutMs: number;
}

/** What a kept scenario leaves running. */
export interface RunningDemo {
  world: World;
  agents: Record<Cluster, { agent: Agent; url: string; server: Server; kube: HttpKubeClient }>;
  stop(): Promise<void>;
}

const files = (env: Cluster, image: string, replicas: number): Record<string, string> => ({
  [`envs/${env}/web/namespace.yaml`]: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n',
  [`envs/${env}/web/deployment.yaml`]: `# The web front end (${env}).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  replicas: ${replicas} # ${env} capacity
  progressDeadlineSeconds: 8
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${image} # bumped by Tether
          ports: [{containerPort: 8080}]
`,
  [`envs/${env}/web/service.yaml`]: `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
  [`envs/${env}/web/configmap.yaml`]: `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
  namespace: web
data:
  GREETING: "hello from ${env}"
`,
});

/** Runs the scenario; throws at the first step whose verification fails. */
export async function runScenario(
  options: Partial<ScenarioOptions> = {},
): Promise<{ steps: StepResult[]; running?: RunningDemo }> {
  const o: ScenarioOptions = { log: (l) => console.log(l), keep: false, timeoutMs: 90_000, ...options };
  const steps: StepResult[] = [];
  const step = async (name: string, fn: () => Promise<string[]>) => {
    o.log(`\n▶ ${name}`);
    const t = performance.now();
    const verified = await fn();
    const ms = Math.round(performance.now() - t);
    for (const v of verified) o.log(`  ✓ ${v}`);
    o.log(`  (${(ms / 1000).toFixed(1)} s)`);
    steps.push({ name, ms, verified });
  };
  const wait = (check: () => Promise<boolean> | boolean, what: string) =>
    waitFor(check, { timeoutMs: o.timeoutMs, intervalMs: 250, describe: () => what });

  let world: World | undefined;
  const agents = {} as RunningDemo['agents'];
  const stop = async () => {
    for (const a of Object.values(agents)) {
      await a.agent.stop();
      await new Promise<void>((r) => a.server.close(() => r()));
      a.kube.close();
    }
    await world?.stop();
  };

  try {
    let gh!: Octokit;
    const repo = { owner: 'acme', repo: 'env' };
    await step('Start the local world: two clusters (dev, staging), a Git server, the GitHub emulator', async () => {
      world = await startWorld({ kube: { dev: 'full', staging: 'full' }, github: true });
      gh = new Octokit({ baseUrl: world.github!.url, auth: world.token });
      return [
        `dev: kube-apiserver ${world.clusters.dev!.version} at ${world.clusters.dev!.server}`,
        `staging: kube-apiserver ${world.clusters.staging!.version} at ${world.clusters.staging!.server}`,
        `GitHub emulator at ${world.github!.url}, Git server at ${world.git!.url}`,
      ];
    });
    const w = world!;
    const kubeOf = (c: Cluster): LocalKube => w.clusters[c]!;

    await step('Create the app repo and the environment repo; start one agent per cluster', async () => {
      await w.github!.state.createRepo(APP_REPO, { files: { Dockerfile: 'FROM scratch\n', 'README.md': '# web\n' } });
      await w.github!.state.createRepo(ENV_REPO, {
        files: { ...files('dev', 'ghcr.io/acme/web:1.0.0', 1), ...files('staging', 'ghcr.io/acme/web:1.0.0', 3) },
        message: 'Initial environments',
      });
      for (const c of CLUSTERS) {
        const config = parseConfig({
          cluster: c,
          github: { apiUrl: w.github!.url },
          apps: [
            { name: 'web', repo: w.git!.cloneUrl(ENV_REPO), path: `envs/${c}/web`, namespace: 'web', interval: '1h' },
          ],
        });
        const kube = new HttpKubeClient(loadKubeconfig(kubeOf(c).kubeconfig));
        const agent = await createAgent(config, { kube, token: async () => w.token, healthIntervalMs: 250 });
        const app = createServer(agent, { webhookSecret: WEBHOOK_SECRET });
        const server = await new Promise<Server>((resolve) => {
          const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server)) as Server;
        });
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        agents[c] = { agent, url, server, kube };
        await w.github!.state.addHook(ENV_REPO, { url: `${url}/webhook/github`, secret: WEBHOOK_SECRET });
        await agent.start();
      }
      const head = (await w.git!.repo(ENV_REPO).resolve('refs/heads/main'))!;
      for (const c of CLUSTERS) await waitStatus(head, c, 'success');
      return [`both agents synced ${head.slice(0, 7)}; tether/dev/web and tether/staging/web are success`];
    });

    /** Waits until the newest status of `tether/<c>/web` on `sha` is `state`; returns its description. */
    async function waitStatus(sha: string, c: Cluster, state: string): Promise<string> {
      let last = '';
      await wait(
        async () => {
          const { data } = await gh.repos.listCommitStatusesForRef({ ...repo, ref: sha, per_page: 100 });
          const s = data.find((x) => x.context === `tether/${c}/web`);
          last = s ? `${s.state}: ${s.description}` : 'none';
          return s?.state === state;
        },
        `tether/${c}/web on ${sha.slice(0, 7)} to be ${state} (last: ${last})`,
      );
      return last;
    }
    const deployment = async (c: Cluster) =>
      (await kubeOf(c).request('GET', '/apis/apps/v1/namespaces/web/deployments/web')).body as {
        spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
        status?: { availableReplicas?: number };
      };
    const runningPods = async (c: Cluster, image: string) => {
      const pods = (await kubeOf(c).request('GET', '/api/v1/namespaces/web/pods?labelSelector=app%3Dweb')).body as {
        items: {
          status: { phase: string };
          spec: { containers: { image: string }[] };
          metadata: { deletionTimestamp?: string };
        }[];
      };
      return pods.items.filter(
        (p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running' && p.spec.containers[0]!.image === image,
      ).length;
    };
    const action = async (inputs: Record<string, string>) => {
      const r = await runActionBundle({
        repository: ENV_REPO,
        token: w.token,
        'github-api-url': w.github!.url,
        ...inputs,
      });
      if (r.code !== 0) throw new Error(`the Action failed: ${r.error ?? r.log}`);
      return r;
    };
    const merge = async (number: number) => {
      const { data } = await gh.pulls.merge({ ...repo, pull_number: number, merge_method: 'squash' });
      return data.sha;
    };

    let bumpPr = 0;
    await step('CI built ghcr.io/acme/web:1.1.0 — the Action bumps envs/dev and opens a PR', async () => {
      const r = await action({ images: 'ghcr.io/acme/web:1.1.0', paths: 'envs/dev/**', labels: 'deploy' });
      if (r.outputs['pull-request-operation'] !== 'created')
        throw new Error(`expected a new PR, got ${r.outputs['pull-request-operation']}`);
      const number = Number(r.outputs['pull-request-number']);
      const { data: pr } = await gh.pulls.get({ ...repo, pull_number: number });
      const diff = (await w.git!.repo(ENV_REPO).git(['diff', '--stat', 'main', pr.head.sha])).stdout
        .toString('utf8')
        .trim();
      if (
        !diff.startsWith('envs/dev/web/deployment.yaml') ||
        !/1 file changed, 1 insertion\(\+\), 1 deletion/.test(diff)
      ) {
        throw new Error(`the PR should change one line of envs/dev/web/deployment.yaml:\n${diff}`);
      }
      bumpPr = number;
      return [`PR #${number} "${pr.title}" on ${pr.head.ref}: one line of envs/dev/web/deployment.yaml changed`];
    });

    let devSha = '';
    await step(
      'A reviewer merges it — the dev agent syncs at once (webhook) and reports success once pods run',
      async () => {
        devSha = await merge(bumpPr);
        const description = await waitStatus(devSha, 'dev', 'success');
        await wait(async () => (await runningPods('dev', 'ghcr.io/acme/web:1.1.0')) === 1, 'dev pod running 1.1.0');
        return [
          `merge commit ${devSha.slice(0, 7)}: tether/dev/web ${description}`,
          'dev: 1 pod Running ghcr.io/acme/web:1.1.0',
        ];
      },
    );

    await step(
      'The Action promotes dev → staging, gated on tether/dev/* being success; merged; staging syncs',
      async () => {
        const r = await action({
          mode: 'promote',
          from: 'envs/dev',
          to: 'envs/staging',
          'require-status': 'tether/dev/*',
        });
        const number = Number(r.outputs['pull-request-number']);
        const { data: pr } = await gh.pulls.get({ ...repo, pull_number: number });
        if (!pr.body?.includes(devSha.slice(0, 7)))
          throw new Error('the promotion PR does not cite the dev commit as evidence');
        const sha = await merge(number);
        const description = await waitStatus(sha, 'staging', 'success');
        const d = await deployment('staging');
        if (d.spec.replicas !== 3) throw new Error(`staging replicas changed to ${d.spec.replicas}`);
        await wait(
          async () => (await runningPods('staging', 'ghcr.io/acme/web:1.1.0')) === 3,
          'staging pods running 1.1.0',
        );
        return [
          `PR #${number} cites ${devSha.slice(0, 7)} (tether/dev/web success) as evidence`,
          `merge ${sha.slice(0, 7)}: tether/staging/web ${description}`,
          'staging: 3 pods Running ghcr.io/acme/web:1.1.0; replicas: 3 kept',
        ];
      },
    );

    await step('Someone scales staging by hand — healed; a file is deleted in Git — pruned', async () => {
      const t = performance.now();
      execFileSync('kubectl', [
        '--kubeconfig',
        kubeOf('staging').kubeconfig,
        '-n',
        'web',
        'scale',
        'deployment/web',
        '--replicas=7',
      ]);
      await wait(async () => (await deployment('staging')).spec.replicas === 3, 'staging replicas healed back to 3');
      const healMs = Math.round(performance.now() - t);
      const { data: ref } = await gh.git.getRef({ ...repo, ref: 'heads/main' });
      const { data: base } = await gh.git.getCommit({ ...repo, commit_sha: ref.object.sha });
      const { data: tree } = await gh.git.createTree({
        ...repo,
        base_tree: base.tree.sha,
        tree: [{ path: 'envs/staging/web/configmap.yaml', mode: '100644', type: 'blob', sha: null }],
      });
      const { data: commit } = await gh.git.createCommit({
        ...repo,
        message: 'staging: drop web-settings',
        tree: tree.sha,
        parents: [ref.object.sha],
      });
      await gh.git.updateRef({ ...repo, ref: 'heads/main', sha: commit.sha });
      await wait(
        async () =>
          (await kubeOf('staging').request('GET', '/api/v1/namespaces/web/configmaps/web-settings')).status === 404,
        'ConfigMap web-settings pruned from staging',
      );
      await waitStatus(commit.sha, 'staging', 'success');
      const devCm = (await kubeOf('dev').request('GET', '/api/v1/namespaces/web/configmaps/web-settings')).status;
      if (devCm !== 200) throw new Error('dev lost its ConfigMap');
      return [
        `kubectl scale --replicas=7 reverted to 3 in ${healMs} ms (no poll: the interval is an hour)`,
        `ConfigMap web/web-settings pruned from staging at ${commit.sha.slice(0, 7)}; dev's untouched`,
      ];
    });

    let brokenSha = '';
    await step(
      'CI pushes an image that cannot be pulled — dev goes Degraded and the status says which object',
      async () => {
        const r = await action({ images: 'ghcr.io/acme/web:broken', paths: 'envs/dev/**' });
        brokenSha = await merge(Number(r.outputs['pull-request-number']));
        const description = await waitStatus(brokenSha, 'dev', 'failure');
        if (!description.includes('Deployment/web/web'))
          throw new Error(`the failure should name the Deployment: ${description}`);
        return [`tether/dev/web on ${brokenSha.slice(0, 7)}: ${description}`];
      },
    );

    await step('The Action rolls dev back to its last good versions — success again', async () => {
      const r = await action({ mode: 'rollback', to: 'envs/dev', 'require-status': 'tether/dev/*' });
      const number = Number(r.outputs['pull-request-number']);
      const { data: pr } = await gh.pulls.get({ ...repo, pull_number: number });
      const sha = await merge(number);
      const description = await waitStatus(sha, 'dev', 'success');
      const image = (await deployment('dev')).spec.template.spec.containers[0]!.image;
      if (image !== 'ghcr.io/acme/web:1.1.0') throw new Error(`dev runs ${image} after the rollback`);
      return [
        `PR #${number} "${pr.title}" merged as ${sha.slice(0, 7)}`,
        `tether/dev/web ${description}; dev runs ghcr.io/acme/web:1.1.0 again`,
      ];
    });

    w.github!.assertNoViolations();
    if (o.keep) {
      o.log('\nLeft running (Ctrl-C to stop):');
      for (const c of CLUSTERS) {
        o.log(`  ${c}: status page ${agents[c].url}/  kubeconfig ${kubeOf(c).kubeconfig}`);
      }
      o.log(`  GitHub emulator ${w.github!.url} (token ${w.token}), Git ${w.git!.cloneUrl(ENV_REPO)}`);
      return { steps, running: { world: w, agents, stop } };
    }
    await stop();
    return { steps };
  } catch (err) {
    await stop();
    throw err;
  }
}
