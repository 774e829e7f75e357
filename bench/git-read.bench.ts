// Reading a fetched commit: the agent's GitSource (all files under an app path) and the Action's EnvRepo (the
// YAML/JSON files a path filter selects), on a repo of 4,000 manifests served by the local Git smart-HTTP server.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitSource } from '../agent/src/edges/git/git-source.ts';
import { EnvRepo } from '../shared/src/env-repo.ts';
import { startGitServer } from '../testenv/src/git-server.ts';
import type { Report } from './run.ts';

/** Shown by `npm run bench`. */
export const name = 'git read: 1,000 files of a fetched commit';

const TOKEN = 'ghs_bench_read';
const REPO = 'acme/env';

function manifest(dir: string, i: number): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${dir}-cm-${i}
  labels: {app.kubernetes.io/name: app-${i}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
  settings.json: '{"id": ${i}, "replicas": 2, "region": "eu-west-1"}'
`;
}

/** Runs the measurement; each read is timed on a fresh reader (first read after a fetch, as a sync does). */
export async function run(report: Report): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'tether-bench-read-'));
  const server = await startGitServer({ tokens: { [TOKEN]: { login: 'bench', repos: '*' } } });
  try {
    const bare = await server.createRepo(REPO);
    let stream = 'commit refs/heads/main\ncommitter Bench <bench@tether.invalid> 1700000000 +0000\ndata 6\nbench\n\n';
    for (const [dir, n] of [
      ['n1000', 1000],
      ['n3000', 3000],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const text = manifest(dir, i);
        stream += `M 100644 inline sizes/${dir}/cm-${String(i).padStart(4, '0')}.yaml\ndata ${Buffer.byteLength(text)}\n${text}\n`;
      }
    }
    await bare.git(['fast-import', '--quiet'], { input: stream });
    const url = server.cloneUrl(REPO);
    const credentials = () => ({ username: 'x-access-token', password: TOKEN });

    const samples: number[] = [];
    for (let round = 0; round < 3; round++) {
      const source = await GitSource.create({ url, ref: 'main', cacheDir: join(tmp, `src-${round}`), credentials });
      const rev = await source.fetch();
      const t0 = performance.now();
      const files = await source.readFiles(rev, 'sizes/n1000');
      samples.push(performance.now() - t0);
      if (files.length !== 1000) throw new Error(`read ${files.length} files, expected 1000`);
    }
    report('GitSource.readFiles, 1,000 of 4,000 files (median of 3)', median(samples), 'ms', '≤ 300 ms');

    const envSamples: number[] = [];
    for (let round = 0; round < 3; round++) {
      const env = await EnvRepo.open({ url, token: TOKEN, dir: join(tmp, `env-${round}`) });
      const sha = await env.fetchBranch('main');
      const t0 = performance.now();
      const read = await env.readFiles(sha, (p) => p.startsWith('sizes/n1000/'));
      envSamples.push(performance.now() - t0);
      if (read.files.length !== 1000) throw new Error(`read ${read.files.length} files, expected 1000`);
    }
    report('EnvRepo.readFiles, 1,000 of 4,000 files (median of 3)', median(envSamples), 'ms', '≤ 300 ms');
  } finally {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
