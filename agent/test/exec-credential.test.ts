// Kubeconfig users with an exec plugin: a real plugin (a small node script) is run, its ExecCredential read, cached
// until it expires, and its token sent by the kube client.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExecCredentialPlugin, parseExecConfig, userCredentials } from '../src/edges/kube/exec-credential.ts';
import { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../src/edges/kube/kubeconfig.ts';

const V1 = 'client.authentication.k8s.io/v1';

/** A plugin that counts its runs, records what it was told, and prints what its environment asks for. */
function pluginDir(): { dir: string; runs: () => number; info: () => Record<string, unknown> } {
  const dir = mkdtempSync(join(tmpdir(), 'tether-exec-'));
  const script = join(dir, 'plugin.mjs');
  writeFileSync(
    script,
    `#!/usr/bin/env node
import { appendFileSync, writeFileSync } from 'node:fs';
const dir = ${JSON.stringify(dir)};
appendFileSync(dir + '/runs', 'x');
writeFileSync(dir + '/info.json', process.env.KUBERNETES_EXEC_INFO ?? '');
if (process.env.PLUGIN_EXIT) { process.stderr.write('token expired, run aws sso login'); process.exit(Number(process.env.PLUGIN_EXIT)); }
if (process.env.PLUGIN_OUTPUT) { process.stdout.write(process.env.PLUGIN_OUTPUT); process.exit(0); }
const status = { token: process.argv[2] + '-' + process.env.PLUGIN_TOKEN };
if (process.env.PLUGIN_EXPIRES) status.expirationTimestamp = process.env.PLUGIN_EXPIRES;
process.stdout.write(JSON.stringify({ apiVersion: '${V1}', kind: 'ExecCredential', status }));
`,
  );
  chmodSync(script, 0o755);
  return {
    dir,
    runs: () => {
      try {
        return readFileSync(join(dir, 'runs'), 'utf8').length;
      } catch {
        return 0;
      }
    },
    info: () => JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8')),
  };
}

function kubeconfig(dir: string, server: string, user: string): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
current-context: laptop
clusters: [{name: eks, cluster: {server: "${server}", certificate-authority-data: Y2E=}}]
contexts: [{name: laptop, context: {cluster: eks, user: me}}]
users:
- name: me
  user:
${user}`,
  );
  return file;
}

const execUser = (env: Record<string, string>, extra = '') => `    exec:
      apiVersion: ${V1}
      command: ./plugin.mjs
      args: [tok]
      env: [${Object.entries(env)
        .map(([name, value]) => `{name: ${name}, value: ${JSON.stringify(value)}}`)
        .join(', ')}]
      provideClusterInfo: true
${extra}`;

test('a kubeconfig exec user runs its plugin (relative to the kubeconfig) and the client sends its token', async () => {
  const p = pluginDir();
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = kubeconfig(p.dir, url, execUser({ PLUGIN_TOKEN: 'secret' }));
  const conn = loadKubeconfig(file);
  assert.equal(typeof conn.credentials, 'function');
  const client = new HttpKubeClient(conn);
  try {
    const type = { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', namespaced: true, verbs: [] };
    await Promise.all([client.get(type, 'x', 'default'), client.get(type, 'y', 'default')]);
    await client.get(type, 'z', 'default');
  } finally {
    client.close();
    server.close();
  }
  assert.deepEqual(seen, ['Bearer tok-secret', 'Bearer tok-secret', 'Bearer tok-secret']);
  assert.equal(p.runs(), 1, 'no expirationTimestamp: the credential is kept for the life of the process');
  assert.deepEqual(p.info(), {
    apiVersion: V1,
    kind: 'ExecCredential',
    spec: { interactive: false, cluster: { server: url, 'certificate-authority-data': 'Y2E=' } },
  });
});

test('a credential is kept until shortly before its expirationTimestamp, then the plugin runs again', async () => {
  const p = pluginDir();
  let now = Date.parse('2026-01-01T00:00:00Z');
  const env = [
    { name: 'PLUGIN_TOKEN', value: 't' },
    { name: 'PLUGIN_EXPIRES', value: '2026-01-01T00:15:00Z' },
  ];
  const user = { exec: { apiVersion: V1, command: './plugin.mjs', args: ['tok'], env } };
  const get = userCredentials(join(p.dir, 'kubeconfig'), 'me', user, { server: 'https://x' }, { now: () => now });
  assert.ok(get);
  assert.equal((await get()).token, 'tok-t');
  now += 14 * 60_000;
  await get();
  assert.equal(p.runs(), 1);
  now += 55_000; // 5 s before expiry: inside the renewal margin
  await get();
  assert.equal(p.runs(), 2);
});

test('plugin failures are errors naming the kubeconfig, the user and the command; output is never echoed', async () => {
  const p = pluginDir();
  const run = async (env: Record<string, string>): Promise<string> => {
    const get = loadKubeconfig(kubeconfig(p.dir, 'https://x', execUser(env))).credentials;
    assert.ok(get);
    try {
      await get();
    } catch (err) {
      const message = (err as Error).message;
      assert.match(message, /kubeconfig .*kubeconfig: user "me": exec plugin .*plugin\.mjs/);
      return message;
    }
    assert.fail('the plugin run should have failed');
  };
  assert.match(await run({ PLUGIN_EXIT: '3' }), /exited with 3: token expired, run aws sso login/);
  const notJson = await run({ PLUGIN_OUTPUT: 'token=hunter2' });
  assert.match(notJson, /did not print JSON/);
  assert.doesNotMatch(notJson, /hunter2/);
  assert.match(
    await run({ PLUGIN_OUTPUT: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', status: { token: 'x' } }) }),
    /printed Secret v1, not ExecCredential/,
  );
  assert.match(
    await run({ PLUGIN_OUTPUT: JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status: {} }) }),
    /neither status\.token nor clientCertificateData/,
  );
  assert.match(
    await run({
      PLUGIN_OUTPUT: JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status: { clientCertificateData: 'c' } }),
    }),
    /only one of clientCertificateData and clientKeyData/,
  );
});

test('a missing plugin command fails with the installHint', async () => {
  const plugin = new ExecCredentialPlugin(
    'kubeconfig k: user "me"',
    parseExecConfig(
      'kubeconfig k: user "me"',
      { apiVersion: V1, command: 'tether-no-such-plugin', installHint: 'Install it with brew.' },
      '/tmp/k',
    ),
    { server: 'https://x' },
  );
  await assert.rejects(
    plugin.credentials(),
    /tether-no-such-plugin could not run: .*ENOENT[\s\S]*Install it with brew\./,
  );
});

test('bad exec entries and auth-provider users are refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-exec-'));
  assert.throws(
    () => loadKubeconfig(kubeconfig(dir, 'https://x', `    exec: {apiVersion: ${V1}}\n`)),
    /user "me": exec\.command is required/,
  );
  assert.throws(
    () =>
      loadKubeconfig(
        kubeconfig(dir, 'https://x', '    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}\n'),
      ),
    /exec\.apiVersion "client\.authentication\.k8s\.io\/v1alpha1" is not supported/,
  );
  assert.throws(
    () =>
      loadKubeconfig(
        kubeconfig(dir, 'https://x', `    exec: {apiVersion: ${V1}, command: x, interactiveMode: Always}\n`),
      ),
    /interactiveMode is Always/,
  );
  assert.throws(
    () => loadKubeconfig(kubeconfig(dir, 'https://x', '    auth-provider: {name: oidc, config: {}}\n')),
    /user "me" uses the auth-provider "oidc", which Tether does not run/,
  );
});
