// The image holds the files of Tether's bundle, dist/ (tether.mjs, parse-worker.mjs and their chunks), and no
// node_modules (see the Dockerfile). Docker is not run here, so this checks what the image relies on: the Dockerfile
// runs that bundle with plain node, and the bundle (its lazily loaded parts and the parse worker too) works from a
// directory with no node_modules anywhere above it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
const built = new URL('../dist/', import.meta.url).pathname;

test('the image runs the bundle with plain node, and carries no node_modules or sources', () => {
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.match(final, /COPY --from=build \/app\/dist\/ \.\//);
  assert.match(final, /ENTRYPOINT \["node", [^\]]*"\/app\/tether\.mjs"\]/);
  assert.doesNotMatch(final, /node_modules|tsx|COPY (cli|agent|shared|bin)\b/);
  assert.doesNotMatch(dockerfile, /--import tsx|tsx\/esm/);
});

test('the bundle runs with no node_modules: every runtime dependency is inlined', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-image-'));
  cpSync(built, dir, { recursive: true });
  const env = { PATH: process.env.PATH ?? '', NODE_OPTIONS: '' };
  const help = spawnSync(process.execPath, ['tether.mjs', '--help'], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  // A command that loads the agent's config parser and the kube edge, and fails on bad input by name.
  writeFileSync(join(dir, 'config.yaml'), 'cluster: x\napps: []\n');
  const bad = spawnSync(process.execPath, ['tether.mjs', 'status', '--config', 'config.yaml'], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /config\.yaml: apps: at least one app \(apps\) or app source \(appsFrom\) is needed/);
  assert.doesNotMatch(bad.stderr, /Cannot find (module|package)/);
});

test('the parse worker runs from the bundle alone: dist/parse-worker.mjs parses YAML in a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-image-'));
  cpSync(built, dir, { recursive: true });
  // What ParseWorker does (agent/src/edges/render/parse-worker.ts): start the entry with its mark, send one job.
  const script = `
    import { Worker } from 'node:worker_threads';
    const w = new Worker(new URL('./parse-worker.mjs', 'file://${dir}/'), { workerData: { mark: 'tether-parse-worker' }, execArgv: [] });
    w.on('message', (m) => {
      process.stdout.write(JSON.stringify(m));
      void w.terminate();
    });
    const progress = new Int32Array(new SharedArrayBuffer(4));
    w.postMessage({ id: 1, job: { kind: 'files', files: [{ path: 'a.yaml', text: 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n' }] }, progress });
  `;
  const env = { PATH: process.env.PATH ?? '', NODE_OPTIONS: '' };
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const reply = JSON.parse(r.stdout) as { type: string; objects: { object: { metadata: { name: string } } }[] };
  assert.equal(reply.type, 'done', r.stdout);
  assert.deepEqual(
    reply.objects.map((o) => o.object.metadata.name),
    ['a'],
  );
});
