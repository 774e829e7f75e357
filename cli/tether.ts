// The entry of the shipped `tether` command, bundled into dist/tether.mjs by scripts/build.mjs: it only runs the
// CLI with the process's arguments; everything else is built (and loaded) by the commands themselves. The agent's
// YAML parse worker has an entry of its own (agent/src/edges/render/parse-worker-entry.ts).
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
