// The image holds one file of Tether, dist/tether.mjs, and no node_modules (see the Dockerfile). Docker is not run
// here, so this checks the two things the image relies on: the Dockerfile runs that bundle with plain node, and the
// bundle works from a directory with no node_modules anywhere above it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
const built = new URL('../dist/tether.mjs', import.meta.url).pathname;

test('the image runs the bundle with plain node, and carries no node_modules or sources', () => {
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.match(final, /COPY --from=build \/app\/dist\/tether\.mjs \.\/tether\.mjs/);
  assert.match(final, /ENTRYPOINT \["node", [^\]]*"\/app\/tether\.mjs"\]/);
  assert.doesNotMatch(final, /node_modules|tsx|COPY (cli|agent|shared|bin)\b/);
  assert.doesNotMatch(dockerfile, /--import tsx|tsx\/esm/);
});

test('the bundle runs with no node_modules: every runtime dependency is inlined', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-image-'));
  copyFileSync(built, join(dir, 'tether.mjs'));
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
  assert.match(bad.stderr, /apps: at least one app \(apps\) or app source \(appsFrom\) is needed/);
  assert.doesNotMatch(bad.stderr, /Cannot find (module|package)/);
});
