#!/usr/bin/env node
// Bundles what Tether ships with esbuild into ESM that plain `node` runs without node_modules:
//   action   action/src/index.ts → action/dist/index.js  one file, committed: a runner runs it straight from the
//                                                         checkout
//   tether   cli/tether.ts       → dist/tether.mjs        built by `npm ci`/`npm install` (`prepare`), not committed:
//            agent/src/edges/render/parse-worker-entry.ts every source change would otherwise rewrite large
//                                → dist/parse-worker.mjs  generated files on every branch; bin/tether.js and the
//            + dist/chunk-*.mjs, dist/<module>-*.mjs      image run dist/tether.mjs
// The tether target is split (esbuild `splitting`): what a command does not use is not loaded. `tether bump` loads
// no agent; the agent loads its HTTP server, UI pages, PR planner, CEL health rules, GitHub App auth and diff only
// when its configuration or a request needs them (dynamic import(), each its own file); the YAML parse worker
// (a thread with a heap of its own) loads dist/parse-worker.mjs and the chunks it shares, not the whole CLI.
// Measured on Node 20: loading the single 3 MB bundle cost ~22 MB of RSS over bare node before anything ran.
// `node scripts/build.mjs [target…]` writes the bundles (all when none is named).
// `--check` builds into memory and exits 1 when a bundle on disk differs from what the sources build: a stale
// committed Action bundle must not land, and a stale built CLI bundle must not be what tests or users run.
// `--dist <path>` (with one target) compares against another file (action) or directory (tether); the test of this
// check uses it.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// `entries` name the output files (without .mjs) of a split target; `dist` is then its directory.
const targets = {
  action: { entry: 'action/src/index.ts', dist: 'action/dist/index.js', refresh: 'run `npm run build` and commit it' },
  tether: {
    entries: { tether: 'cli/tether.ts', 'parse-worker': 'agent/src/edges/render/parse-worker-entry.ts' },
    dist: 'dist',
    refresh: 'run `npm run build`',
  },
};
/** The files of a split target that a build writes (and a rebuild replaces): entries and chunks. */
const isSplitOutput = (name) => name.endsWith('.mjs');

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

/** The output files of one target ({name, text}; name relative to its dist), the same options for every target. */
async function bundle(t) {
  const split = t.entries !== undefined;
  const result = await build({
    absWorkingDir: root,
    entryPoints: split ? t.entries : [t.entry],
    bundle: true,
    platform: 'node',
    // The Action runs on node24 runners; the CLI and agent on Node 20 and later.
    target: 'node20',
    format: 'esm',
    write: false,
    legalComments: 'none',
    // Some dependencies still call require() for Node built-ins; give each ESM file one.
    banner: {
      js: "import { createRequire as __tetherCreateRequire } from 'node:module';\nconst require = __tetherCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
    // Split: entries and chunks side by side in one directory, so that `new URL('./parse-worker.mjs',
    // import.meta.url)` finds the worker's entry from whichever chunk asks.
    ...(split
      ? {
          splitting: true,
          outdir: resolve(root, t.dist),
          entryNames: '[name]',
          chunkNames: '[name]-[hash]',
          outExtension: { '.js': '.mjs' },
        }
      : { outfile: resolve(root, t.dist) }),
  });
  const base = split ? resolve(root, t.dist) : dirname(resolve(root, t.dist));
  return result.outputFiles.map((f) => ({ name: relative(base, f.path), text: asciiOnly(f.text, f.path) }));
}

/**
 * The text with every non-ASCII character written as a `\uXXXX` escape. V8 stores a script holding a single
 * non-ASCII character as two bytes per character: the agent's 1.27 MB chunk cost 2.5 MB of heap for a few dashes in
 * kept comments and one regex of a dependency (measured: heap after loading it 10.9 → 9.6 MB). esbuild already
 * escapes strings; what is left is comments, regex literals and template literals, where an escape means the same,
 * except in a template's raw text: a file using `String.raw` must keep its characters, so it is refused here.
 */
function asciiOnly(text, path) {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  if (text.includes('String.raw')) {
    throw new Error(`${path}: uses String.raw and has non-ASCII characters; escaping them would change its raw text`);
  }
  return text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

let stale = 0;
for (const n of names) {
  const t = targets[n];
  const split = t.entries !== undefined;
  const dist = resolve(root, values.dist ?? t.dist);
  const dir = split ? dist : dirname(dist);
  const outputs = (await bundle(t)).map((o) => (split ? o : { ...o, name: basename(dist) }));
  const size = outputs.reduce((sum, o) => sum + o.text.length, 0);
  const what = split ? `${outputs.length} files, ${size} characters` : `${size} characters`;
  const shown = relative(root, dist) || dist;
  if (values.check) {
    const problems = [];
    for (const o of outputs) {
      const onDisk = await readFile(join(dir, o.name), 'utf8').catch(() => undefined);
      if (onDisk === undefined) problems.push(`${o.name} is missing`);
      else if (onDisk !== o.text) problems.push(`${o.name} is stale`);
    }
    if (problems.length > 0) {
      console.error(
        `${shown} is ${problems.some((p) => p.endsWith('stale')) ? 'stale' : 'missing'} (${problems.join(', ')}): ${t.refresh}.`,
      );
      stale++;
    } else {
      console.log(`${shown} is up to date (${what}).`);
    }
  } else {
    await mkdir(dir, { recursive: true });
    // Chunks are named by content hash: last build's must not pile up beside this one's.
    if (split) {
      const keep = new Set(outputs.map((o) => o.name));
      for (const f of await readdir(dir)) if (isSplitOutput(f) && !keep.has(f)) await rm(join(dir, f));
    }
    for (const o of outputs) await writeFile(join(dir, o.name), o.text);
    console.log(`wrote ${shown} (${what})`);
  }
}
process.exit(stale > 0 ? 1 : 0);
