#!/usr/bin/env node
// Bundles the Action into action/dist/index.js with esbuild (one ESM file, no node_modules on the runner).
// `--check` builds into memory and fails when the committed bundle differs: a stale bundle must not land.
// `--dist <file>` compares against another file (the test of this check uses it).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { check: { type: 'boolean' }, dist: { type: 'string' } } });
const dist = resolve(root, values.dist ?? 'action/dist/index.js');

const result = await build({
  absWorkingDir: root,
  entryPoints: ['action/src/index.ts'],
  bundle: true,
  platform: 'node',
  // The bundle runs on node24 runners and on the Node 20 of this machine.
  target: 'node20',
  format: 'esm',
  write: false,
  legalComments: 'none',
  // Some dependencies still call require() for Node built-ins; give the ESM bundle one.
  banner: {
    js: "import { createRequire as __tetherCreateRequire } from 'node:module';\nconst require = __tetherCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
const text = result.outputFiles[0].text;

if (values.check) {
  const committed = await readFile(dist, 'utf8').catch(() => '');
  if (committed !== text) {
    console.error(`${dist} is stale: run \`npm run build\` and commit the bundle.`);
    process.exit(1);
  }
  console.log(`${dist} is up to date (${text.length} bytes).`);
} else {
  await mkdir(dirname(dist), { recursive: true });
  await writeFile(dist, text);
  console.log(`wrote ${dist} (${text.length} bytes)`);
}
