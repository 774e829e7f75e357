// The entry of the shipped `tether` command, bundled into dist/tether.mjs by scripts/build.mjs: it only runs the
// CLI with the process's arguments (or, in the agent's parse worker, serves parses); everything else is built by
// the commands themselves.
import { parentPort } from 'node:worker_threads';
import { isParseWorker, serveParses } from '../agent/src/edges/render/parse-worker.ts';
import { main } from './main.ts';

// The agent parses rendered YAML in a worker thread that runs this same bundle (parse-worker.ts): there it serves
// parses instead of running a command.
if (isParseWorker() && parentPort) serveParses(parentPort);
else process.exitCode = await main(process.argv.slice(2));
