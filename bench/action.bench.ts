// Issue 5's benchmark (`npm run bench action`): the committed Action bundle, run as a runner runs it, bumps one image
// in an environment repo of 2,000 YAML files on the local world. For each run: wall time, GitHub REST requests
// (counted at the emulator), Git requests and bytes fetched (counted at the Git server), and how much of the wall
// time the throttling plugin's one-second spacing of writes accounts for. Figures only; nothing is asserted.
import { runActionBundle } from '../testenv/src/action-runner.ts';
import type { GitRequestRecord } from '../testenv/src/git-server.ts';
import type { GitHubRequestRecord } from '../testenv/src/github/server.ts';
import { startWorld, type World } from '../testenv/src/world.ts';
import type { Report } from './run.ts';

/** The bench's name in `npm run bench` output. */
export const name = 'action (issue 5): one-image bump into a 2,000-file env repo';

const REPO = 'acme/env-large';
const IMAGE = 'ghcr.io/acme/payments-api';
const ENVS = ['dev', 'staging', 'prod-eu', 'prod-us'] as const;
const APPS = 125; // × 4 envs × 4 files = 2,000 files
const WORDS = ['payments', 'orders', 'catalog', 'search', 'users', 'billing', 'ledger', 'notify', 'media', 'auth'];
const KINDS = ['api', 'worker', 'web', 'cron', 'gateway'];

const log = (line: string) => console.log(`# ${line}`);

/** App names: `payments-api` first (the one bumped), then 124 others, all distinct. */
function appNames(): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < APPS; i++) {
    const base = `${WORDS[i % WORDS.length]}-${KINDS[Math.floor(i / WORDS.length) % KINDS.length]}`;
    out.push(i < WORDS.length * KINDS.length ? base : `${base}-${Math.floor(i / (WORDS.length * KINDS.length))}`);
  }
  return out;
}

/**
 * The environment repo: `envs/<env>/<app>/{deployment,service,configmap,kustomization}.yaml`. Dev pulls from
 * ghcr.io; staging and prod from the internal mirror, so `ghcr.io/acme/payments-api` is used by exactly one file.
 */
export function envRepoFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const apps = appNames();
  for (const [e, env] of ENVS.entries()) {
    const prod = env.startsWith('prod');
    for (const [a, app] of apps.entries()) {
      const dir = `envs/${env}/${app}`;
      const registry = env === 'dev' ? 'ghcr.io/acme' : 'registry.acme.internal/acme';
      const tag = `1.${(a * 7 + e) % 40}.${a % 11}`;
      const replicas = prod ? 3 + (a % 4) : 1 + (a % 2);
      files[`${dir}/deployment.yaml`] = `# ${env}/${app}: managed by Tether; the image tag is bumped by CI.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}
  labels:
    app.kubernetes.io/name: ${app}
    app.kubernetes.io/part-of: acme
    acme.dev/env: ${env}
  annotations:
    tether.dev/sync-wave: "${a % 3}"
spec:
  replicas: ${replicas}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: ${app}
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${app}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "9090"
    spec:
      serviceAccountName: ${app}
      securityContext: {runAsNonRoot: true, runAsUser: ${10000 + a}}
      containers:
        - name: ${app}
          image: ${registry}/${app}:${tag} # bumped by CI
          ports:
            - {name: http, containerPort: 8080}
            - {name: metrics, containerPort: 9090}
          envFrom:
            - configMapRef: {name: ${app}-config}
          env:
            - {name: ENVIRONMENT, value: ${env}}
            - {name: OTEL_SERVICE_NAME, value: ${app}}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          resources:
            requests: {cpu: ${prod ? 250 : 50}m, memory: ${prod ? 512 : 128}Mi}
            limits: {memory: ${prod ? 1024 : 256}Mi}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            initialDelaySeconds: 10
${
  a % 5 === 0
    ? `        - name: proxy
          image: "envoyproxy/envoy:v1.30.${a % 4}"
          args: ["--config-path", "/etc/envoy/envoy.yaml"]
`
    : ''
}`;
      files[`${dir}/service.yaml`] = `apiVersion: v1
kind: Service
metadata:
  name: ${app}
  labels: {app.kubernetes.io/name: ${app}, acme.dev/env: ${env}}
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: ${app}}
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: metrics, port: 9090, targetPort: metrics}
`;
      files[`${dir}/configmap.yaml`] = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${app}-config
  labels: {app.kubernetes.io/name: ${app}}
data:
  LOG_LEVEL: ${prod ? 'info' : 'debug'}
  LOG_FORMAT: json
  DATABASE_HOST: ${app}-db.${env}.acme.internal
  DATABASE_POOL_SIZE: "${prod ? 20 : 5}"
  CACHE_TTL_SECONDS: "${60 * (1 + (a % 5))}"
  FEATURE_FLAGS: "${['checkout-v2', 'new-search', 'dark-mode', 'fast-refunds'].slice(0, 1 + (a % 4)).join(',')}"
  app.properties: |
    server.port=8080
    management.port=9090
    region=${env === 'prod-us' ? 'us-east-1' : 'eu-west-1'}
    instance.group=${app}-${env}
`;
      files[`${dir}/kustomization.yaml`] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${app.split('-')[0]}
labels:
  - pairs: {acme.dev/team: ${WORDS[a % WORDS.length]}}
    includeSelectors: false
resources:
  - deployment.yaml
  - service.yaml
  - configmap.yaml
`;
    }
  }
  return files;
}

/** Σ of the idle gaps between one write's answer and the next write's arrival (the plugin's spacing). */
function writeSpacing(requests: readonly GitHubRequestRecord[]): { writes: number; waitMs: number } {
  const writes = requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  let waitMs = 0;
  for (let i = 1; i < writes.length; i++) {
    waitMs += Math.max(0, writes[i]!.at - (writes[i - 1]!.at + writes[i - 1]!.ms));
  }
  return { writes: writes.length, waitMs };
}

/** `GET /repos/{o}/{r}/pulls 200` lines, the repository's owner/name shortened. */
function describeRequests(requests: readonly GitHubRequestRecord[], t0: number): string {
  return requests
    .map((r) => `+${Math.round(r.at - t0)}ms ${r.method} ${r.path.replace(`/repos/${REPO}`, '/repos/…')} ${r.status}`)
    .join(', ');
}

/** Runs the benchmark; the world is stopped when it returns. */
export async function run(report: Report): Promise<void> {
  const tStart = performance.now();
  let world: World | undefined;
  try {
    log('starting the Git server and the GitHub emulator (OpenAPI validation on)');
    world = await startWorld({ github: true });
    const gh = world.github!;
    const git = world.git!;
    log(`world up after ${((performance.now() - tStart) / 1000).toFixed(1)} s`);

    const files = envRepoFiles();
    const users = Object.entries(files).filter(([, text]) => text.includes(`${IMAGE}:`));
    const bytes = Object.values(files).reduce((s, t) => s + Buffer.byteLength(t), 0);
    const t0 = performance.now();
    // An empty repository in the emulator, then one `git fast-import` for the commit: `createRepo(name, { files })`
    // spawns git once per file (~17 s for these 2,000 files); the result is the same.
    await gh.state.createRepo(REPO);
    const message = 'environments\n';
    let stream = `commit refs/heads/main\ncommitter Bench <bench@tether.invalid> 1700000000 +0000\ndata ${message.length}\n${message}\n`;
    for (const [path, text] of Object.entries(files)) {
      stream += `M 100644 inline ${path}\ndata ${Buffer.byteLength(text)}\n${text}\n`;
    }
    await git.repo(REPO).git(['fast-import', '--quiet'], { input: stream });
    // fast-import deltas each blob against the one before it (chains of 50, 3.5× the bytes); GitHub serves
    // repacked repositories, so repack as `git gc` would.
    await git.repo(REPO).git(['repack', '-a', '-d', '-f', '-q']);
    log(
      `env repo ${REPO}: ${Object.keys(files).length} files, ${(bytes / 1024).toFixed(0)} KiB, ` +
        `${users.length} using ${IMAGE} (${users.map(([p]) => p).join(', ')}); created in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    report('env repo files', Object.keys(files).length);
    report('env repo size (uncompressed)', bytes / 1024, 'KiB');

    const runs: { label: string; tag: string; expect: string }[] = [
      { label: 'run 1 (new tag → PR created)', tag: '2.0.0', expect: 'created' },
      { label: 'run 2 (newer tag → PR updated)', tag: '2.1.0', expect: 'updated' },
      { label: 'run 3 (same tag → unchanged)', tag: '2.1.0', expect: 'unchanged' },
      { label: 'run 4 (newer tag → PR updated)', tag: '2.2.0', expect: 'updated' },
      { label: 'run 5 (same tag → unchanged)', tag: '2.2.0', expect: 'unchanged' },
    ];
    for (const r of runs) {
      gh.requests.length = 0;
      git.requests.length = 0;
      const started = performance.now();
      const out = await runActionBundle({
        repository: REPO,
        token: world.token,
        'github-api-url': gh.url,
        images: `${IMAGE}:${r.tag}`,
      });
      const wallMs = performance.now() - started;
      const rest = [...gh.requests];
      const gitReqs: GitRequestRecord[] = [...git.requests];
      const op = out.outputs['pull-request-operation'] ?? '?';
      if (out.code !== 0) log(`${r.label}: exit ${out.code}: ${out.error ?? out.log.slice(-1500)}`);
      const fetched = gitReqs.reduce((s, q) => s + q.bytes, 0);
      const spacing = writeSpacing(rest);
      // Where the time went: process start → first request, Git fetch, reading/planning, then the REST calls.
      const firstAt = Math.min(...[...rest, ...gitReqs].map((q) => q.at));
      const gitEnd = Math.max(...gitReqs.map((q) => q.at + q.ms));
      const afterGit = rest.filter((q) => q.at >= gitEnd);
      const planMs = afterGit.length ? afterGit[0]!.at - gitEnd : Number.NaN;
      log(
        `${r.label}: exit ${out.code}, operation ${op} (expected ${r.expect}), ` +
          `changes ${out.outputs['changes'] ?? '?'}; PR #${out.outputs['pull-request-number'] ?? '-'}`,
      );
      log(`  REST: ${describeRequests(rest, started)}`);
      log(
        `  Git: ${gitReqs.map((q) => `${q.method} ${q.path.replace(/^\/[^?]*\//, '…/')} ${q.status} ${q.bytes} B ${Math.round(q.ms)} ms`).join(', ')}`,
      );
      log(
        `  timeline: process start → first request ${Math.round(firstAt - started)} ms; Git fetch ends at ` +
          `+${Math.round(gitEnd - started)} ms; read+plan of ${Object.keys(files).length} files → next REST call ` +
          `${Math.round(planMs)} ms`,
      );
      report(`${r.label}: wall time`, wallMs, 'ms');
      report(`${r.label}: GitHub REST requests`, rest.length, '', '≤ 8 incl. the PR');
      report(`${r.label}: REST writes`, spacing.writes);
      report(`${r.label}: waiting between writes (throttle)`, spacing.waitMs, 'ms');
      report(`${r.label}: wall time without that wait`, wallMs - spacing.waitMs, 'ms');
      report(`${r.label}: index+read+plan (fetch answered→next REST)`, planMs, 'ms');
      report(`${r.label}: Git requests`, gitReqs.length);
      report(`${r.label}: bytes fetched over Git`, fetched / 1024, 'KiB');
      report(`${r.label}: operation`, `${op}${op === r.expect ? '' : ` (expected ${r.expect})`}`);
    }
    report('OpenAPI violations seen by the emulator', gh.violations.length, '', '0');
    if (gh.violations.length) {
      for (const v of gh.violations.slice(0, 5)) log(`violation: ${v.kind} ${v.operation}: ${v.errors.join('; ')}`);
    }
  } finally {
    await world?.stop();
    log(`bench took ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
  }
}
