#!/usr/bin/env node
// The `tether` command: runs the bundle that scripts/build.mjs builds (`npm ci` and `npm install` build it through
// the `prepare` script), so plain node starts it with no TypeScript loader and no node_modules lookups.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/tether.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(`tether: ${bundle.pathname} is missing; run \`npm run build\` (npm ci runs it too)\n`);
  process.exit(1);
}
await import(bundle.href);
