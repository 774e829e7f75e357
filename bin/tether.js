#!/usr/bin/env node
// The `tether` command: TypeScript sources run through tsx, so a clean clone needs only `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
