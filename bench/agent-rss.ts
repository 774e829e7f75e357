// The agent's memory, alone: a child process of bench/sync.bench.ts that imports only the agent's code, syncs one app
// once (GitSource fetch from the Git server + AppSync.sync()), prints its RSS as JSON and exits. Run it with
// `node --import tsx bench/agent-rss.ts <kubeconfig> <repo url> <token> <path> <namespace> [app]`, or with
// `--import-cost <package>` to measure what importing one package costs.
// tsx itself (its loader and the TypeScript transform of every module) adds some RSS; the bench reports an idle
// `node --import tsx` baseline beside this figure so it can be read fairly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitSource } from '../agent/src/edges/git/git-source.ts';
import { Discovery } from '../agent/src/edges/kube/discovery.ts';
import { HttpKubeClient } from '../agent/src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../agent/src/edges/kube/kubeconfig.ts';
import { toolRenderer } from '../agent/src/edges/render/render.ts';
import { AppSync, pruneOptions } from '../agent/src/reconcile/sync.ts';

/** What the child prints on its only line of stdout. */
export interface AgentRssResult {
  /** process.memoryUsage().rss right after the sync, in bytes. */
  rss: number;
  /** Peak RSS of the process (getrusage ru_maxrss), in bytes. */
  maxRss: number;
  /** V8 heap in use after the sync, in bytes. */
  heapUsed: number;
  /** V8 heap reserved (used or free) after the sync, in bytes. */
  heapTotal: number;
  /** Memory of Buffers and other objects outside the V8 heap, in bytes. */
  external: number;
  /** Wall time of fetch + sync, in ms. */
  durationMs: number;
  /** Objects the sync reported (created, configured or unchanged). */
  objects: number;
  error?: string;
}

/** What `agent-rss.ts --import-cost <package>` prints: the cost of importing one package into a fresh process. */
export interface ImportCostResult {
  package: string;
  /** RSS before and after the import, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /** Wall time of the dynamic import, in ms. */
  durationMs: number;
  error?: string;
}

// `--import-cost <package>`: what a package would add to the agent if it were imported (e.g. @kubernetes/client-node,
// which Tether does not depend on: `npm i --no-save @kubernetes/client-node@1` first). The agent's modules are
// already loaded (the static imports above), so the figure is what the package adds on top of them.
if (process.argv[2] === '--import-cost') {
  const name = process.argv[3] ?? '@kubernetes/client-node';
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let error: string | undefined;
  try {
    await import(name);
  } catch (err) {
    error = (err as Error).message.split('\n')[0];
  }
  const result: ImportCostResult = {
    package: name,
    rssBefore,
    rssAfter: process.memoryUsage().rss,
    durationMs: performance.now() - t0,
    ...(error ? { error } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const [kubeconfig, url, token, path, namespace, appName = 'rss'] = process.argv.slice(2);
if (!kubeconfig || !url || !token || !path || !namespace) {
  console.error('usage: agent-rss.ts <kubeconfig> <repo url> <token> <path> <namespace> [app]');
  process.exit(2);
}
const cacheDir = mkdtempSync(join(tmpdir(), 'tether-rss-'));
const client = new HttpKubeClient(loadKubeconfig(kubeconfig));
try {
  const t0 = performance.now();
  const source = await GitSource.create({
    url,
    ref: 'main',
    cacheDir,
    credentials: () => ({ username: 'x-access-token', password: token }),
  });
  const app = new AppSync(
    { name: appName, path, namespace, prune: pruneOptions() },
    { kube: client, discovery: new Discovery(client), source, renderer: toolRenderer },
  );
  const out = await app.sync();
  const durationMs = performance.now() - t0;
  const mem = process.memoryUsage();
  const result: AgentRssResult = {
    rss: mem.rss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    durationMs,
    objects: out.entries.filter((e) => ['created', 'configured', 'unchanged'].includes(e.action)).length,
    ...(out.error ? { error: `${out.error.stage}: ${out.error.message}` } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  client.close();
  rmSync(cacheDir, { recursive: true, force: true });
}
