import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AgentWorld, startAgentWorld, TETHER_BIN } from './fixtures/agent-world.ts';

/** Runs the CLI asynchronously (the Git server lives in this process and must keep answering). */
function tether(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TETHER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe('tether sync, diff and status against a real apiserver', () => {
  let w: AgentWorld;
  let dir: string;
  let config: string;

  before(async () => {
    w = await startAgentWorld({
      files: {
        'envs/dev/web/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n',
        // Kustomize overlay pointing at a base outside the app's path.
        'base/api/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-settings\ndata:\n  size: small\n',
        'base/api/kustomization.yaml': 'resources: [cm.yaml]\n',
        'envs/dev/api/kustomization.yaml': 'resources: [../../../base/api]\nnamePrefix: dev-\n',
        // A Deployment in a cluster without controllers never rolls out: the slowest rollout there is.
        'envs/dev/slow/deploy.yaml':
          'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: slow}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: slow}}\n  template:\n    metadata: {labels: {app: slow}}\n    spec: {containers: [{name: app, image: "ghcr.io/acme/slow:1"}]}\n',
      },
    });
    dir = w.dir;
    config = w.writeConfig('tether', { apps: [w.app('web', 'envs/dev/web'), w.app('api', 'envs/dev/api')] });
  });
  after(() => w?.stop());

  test('diff before the first sync shows the objects to create', async () => {
    const r = await tether(['diff', '--config', config, '--app', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\+\s+color: blue/);
    assert.doesNotMatch(r.stdout, /managedFields/);
  });

  test('diff works with a laptop kubeconfig whose user is an exec plugin (as EKS, GKE and AKS ones are)', async () => {
    // A ServiceAccount token stands in for what `aws eks get-token` would print; the plugin hands it over as an
    // ExecCredential and records each run, so the test sees that one run serves every request of the command.
    const k = w.kube;
    const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'laptop', namespace: 'default' } };
    assert.equal((await k.request('POST', '/api/v1/namespaces/default/serviceaccounts', sa)).status, 201);
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'laptop-admin' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'laptop', namespace: 'default' }],
    };
    assert.equal(
      (await k.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding)).status,
      201,
    );
    const tr = await k.request('POST', '/api/v1/namespaces/default/serviceaccounts/laptop/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    });
    assert.equal(tr.status, 201);
    const token = (tr.body as { status: { token: string; expirationTimestamp: string } }).status;

    const plugin = join(dir, 'eks-get-token.mjs');
    writeFileSync(
      plugin,
      `#!/usr/bin/env node
import { appendFileSync, readFileSync } from 'node:fs';
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
if (info.kind !== 'ExecCredential' || info.spec.interactive !== false) process.exit(9);
appendFileSync(process.env.RUNS_FILE, process.argv.slice(2).join(' ') + '\\n');
process.stdout.write(JSON.stringify({
  apiVersion: 'client.authentication.k8s.io/v1',
  kind: 'ExecCredential',
  status: { token: readFileSync(process.env.TOKEN_FILE, 'utf8'), expirationTimestamp: '${token.expirationTimestamp}' },
}));
`,
      { mode: 0o755 },
    );
    const saToken = join(dir, 'sa-token');
    writeFileSync(saToken, token.token);
    const runs = join(dir, 'plugin-runs');
    const ca = Buffer.from(k.tls.ca).toString('base64');
    const kubeconfig = join(dir, 'laptop-kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
current-context: eks
clusters: [{name: eks, cluster: {server: "${k.server}", certificate-authority-data: ${ca}}}]
contexts: [{name: eks, context: {cluster: eks, user: eks-user}}]
users:
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./eks-get-token.mjs
      args: [eks, get-token, --cluster-name, dev]
      env: [{name: TOKEN_FILE, value: "${saToken}"}, {name: RUNS_FILE, value: "${runs}"}]
`,
    );
    const laptop = join(dir, 'laptop.yaml');
    writeFileSync(laptop, readFileSync(config, 'utf8').replace(/^kubeconfig: .*$/m, `kubeconfig: ${kubeconfig}`));

    const r = await tether(['diff', '--config', laptop, '--app', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\+\s+color: blue/);
    assert.equal(
      readFileSync(runs, 'utf8'),
      'eks get-token --cluster-name dev\n',
      'the plugin ran once, with its args',
    );
    assert.ok(!`${r.stdout}${r.stderr}`.includes(token.token), 'the token is never printed');

    // Without the plugin's token the same kubeconfig is refused by the apiserver: the plugin is what authenticates.
    writeFileSync(saToken, 'not-a-token');
    const refused = await tether(['diff', '--config', laptop, '--app', 'web']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /401|Unauthorized/);
  });

  test('sync --once applies both apps (the kustomize overlay renders its base) and exits 0', async () => {
    const r = await tether(['sync', '--config', config, '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web: [0-9a-f]{7} 1 created/m);
    assert.match(r.stdout, /^api: [0-9a-f]{7} 1 created/m);
    const cm = await w.kube.request('GET', '/api/v1/namespaces/default/configmaps/dev-api-settings');
    assert.equal(cm.status, 200);
  });

  test('status --json reports Synced and Healthy; after a hand edit, diff shows it and status says OutOfSync', async () => {
    const ok = await tether(['status', '--config', config, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const rows = JSON.parse(ok.stdout) as {
      app: string;
      sync: string;
      health: string;
      project: string;
      policy: { syncPolicy: string };
    }[];
    assert.deepEqual(
      rows.map((r) => [r.project, r.policy.syncPolicy]),
      [
        ['default', 'automated'],
        ['default', 'automated'],
      ],
    );
    assert.deepEqual(
      rows.map((r) => [r.app, r.sync, r.health]),
      [
        ['web', 'Synced', 'Healthy'],
        ['api', 'Synced', 'Healthy'],
      ],
    );
    const patch = await w.kube.request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/settings?fieldManager=kubectl-edit',
      { data: { color: 'red' } },
      'application/merge-patch+json',
    );
    assert.equal(patch.status, 200);
    const diff = await tether(['diff', '--config', config, '--app', 'web']);
    assert.match(diff.stdout, /-\s+color: red/);
    assert.match(diff.stdout, /\+\s+color: blue/);
    const table = await tether(['status', '--config', config]);
    assert.match(table.stdout, /^web\s+[0-9a-f]{7}\s+OutOfSync\s+Healthy/m);
    // Each app's sync policy is a column; with only the default project there is no project line.
    assert.match(table.stdout, /^APP\s+REVISION\s+SYNC\s+HEALTH\s+POLICY\s+DEFINED IN\s+MESSAGE$/m);
    assert.match(table.stdout, /^web\s+[0-9a-f]{7}\s+OutOfSync\s+Healthy\s+automated\s/m);
    assert.doesNotMatch(table.stdout, /^project /m);
  });

  test('sync --once waits for health and exits 1 when the rollout does not finish within --timeout', async () => {
    const slow = w.writeConfig('slow', { apps: [w.app('slow', 'envs/dev/slow')] });
    const started = Date.now();
    const r = await tether(['sync', '--config', slow, '--once', '--timeout', '3s']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(Date.now() - started >= 3000, 'it waited');
    assert.match(
      r.stderr,
      /^slow: timed out after 3s waiting for health: Deployment\/default\/slow: 0 of 2 replicas created$/m,
    );
    assert.match(r.stdout, /^slow: [0-9a-f]{7} 1 created · Progressing$/m);
    const bad = await tether(['sync', '--config', slow, '--once', '--timeout', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout soon: not a duration/);
  });

  test('bad usage and a bad config exit 2 with the reason', async () => {
    const usage = await tether(['sync', '--config', config, '--app', 'nope', '--once']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--app nope: no such app/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cluster: dev\napps:\n  - {name: web, repo: r, interval: soon}\n');
    const cfg = await tether(['status', '--config', bad]);
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /bad\.yaml: apps\[0\]\.interval: "soon" is not a duration/);
  });
});
