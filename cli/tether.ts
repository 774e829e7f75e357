// The entry of the shipped `tether` command, bundled into dist/tether.mjs by scripts/build.mjs: it only runs the
// CLI with the process's arguments; everything else is built by the commands themselves.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
