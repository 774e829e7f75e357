#!/usr/bin/env node
// Bundles what Tether ships with esbuild, each into one ESM file that plain `node` runs without node_modules:
//   action   action/src/index.ts → action/dist/index.js  committed: a runner runs it straight from the checkout
//   tether   cli/tether.ts       → dist/tether.mjs        built by `npm ci`/`npm install` (`prepare`), not committed:
//                                                         every source change would otherwise rewrite a large
//                                                         generated file on every branch; bin/tether.js and the
//                                                         image run it
// `node scripts/build.mjs [target…]` writes the bundles (all when none is named).
// `--check` builds into memory and exits 1 when a bundle on disk differs from what the sources build: a stale
// committed Action bundle must not land, and a stale built CLI bundle must not be what tests or users run.
// `--dist <file>` (with one target) compares against another file; the test of this check uses it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const targets = {
  action: { entry: 'action/src/index.ts', dist: 'action/dist/index.js', refresh: 'run `npm run build` and commit it' },
  tether: { entry: 'cli/tether.ts', dist: 'dist/tether.mjs', refresh: 'run `npm run build`' },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { check: { type: 'boolean' }, dist: { type: 'string' } },
});
const names = positionals.length > 0 ? positionals : Object.keys(targets);
for (const n of names) {
  if (!(n in targets)) {
    console.error(`unknown build target '${n}' (known: ${Object.keys(targets).join(', ')})`);
    process.exit(2);
  }
}
if (values.dist && names.length !== 1) {
  console.error('--dist needs exactly one target');
  process.exit(2);
}

/** The bundle of one target, as text; the same options for every target so that they behave alike. */
async function bundle(entry) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    // The Action runs on node24 runners; the CLI and agent on Node 20 and later.
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
  return result.outputFiles[0].text;
}

let stale = 0;
for (const n of names) {
  const t = targets[n];
  const dist = resolve(root, values.dist ?? t.dist);
  const text = await bundle(t.entry);
  const shown = relative(root, dist) || dist;
  if (values.check) {
    const onDisk = await readFile(dist, 'utf8').catch(() => undefined);
    if (onDisk === undefined) {
      console.error(`${shown} is missing: ${t.refresh}.`);
      stale++;
    } else if (onDisk !== text) {
      console.error(`${shown} is stale: ${t.refresh}.`);
      stale++;
    } else {
      console.log(`${shown} is up to date (${text.length} characters).`);
    }
  } else {
    await mkdir(dirname(dist), { recursive: true });
    await writeFile(dist, text);
    console.log(`wrote ${shown} (${text.length} characters)`);
  }
}
process.exit(stale > 0 ? 1 : 0);
