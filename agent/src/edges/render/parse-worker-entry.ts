// The parse worker's entry: the module a ParseWorker thread runs (from source under tsx, and bundled as
// dist/parse-worker.mjs). It imports only the parse and its limits, so the worker's heap holds the YAML parsers and
// nothing else of the agent: running the whole CLI bundle there cost ~28 MB of RSS per worker.
import { parentPort } from 'node:worker_threads';
import { isParseWorker, serveParses } from './parse-worker.ts';

if (isParseWorker() && parentPort) serveParses(parentPort);
