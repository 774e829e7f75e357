#!/usr/bin/env node
// Runs the test suite with Node's own test runner (test files as TypeScript through tsx; the CLI they spawn is the
// bundle).
//   --unit   only the fast pure tests (*.test.ts)
//   --world  only the tests that start the local world (*.world.test.ts)
// Extra arguments are file filters (substring match). World tests first build the local world's binaries
// (cached outside the repo, see testenv/build-binaries.sh).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const worldOnly = args.includes('--world');
const filters = args.filter((a) => !a.startsWith('--'));

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.') || e.name === 'go') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith('.test.ts')) yield relative(root, p);
  }
}
const files = [...walk(root)]
  .filter((f) => (f.endsWith('.world.test.ts') ? !unitOnly : !worldOnly))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Tests that spawn `bin/tether.js` run the bundle, as users do; build it from the sources as they are now, so that
// no test runs a bundle older than the code it checks.
const bundled = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), 'tether'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (bundled.status !== 0) process.exit(bundled.status ?? 1);
// What world tests need, installed and built by the project itself (a fresh machine has neither).
if (files.some((f) => f.endsWith('.world.test.ts'))) {
  const b = spawnSync('bash', [join(root, 'testenv/build-binaries.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
if (files.some((f) => f.includes('status-page') || f.includes('e2e') || f.includes('ui.world'))) {
  const c = spawnSync('bash', [join(root, 'scripts/ensure-chromium.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (c.status !== 0) process.exit(c.status ?? 1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
