// The helm binary of the local world, built from the Go module proxy like the Kubernetes binaries (see
// testenv/build-binaries.sh), so render tests run the real chart engine rather than a stand-in.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let dirCache: string | undefined;

/** Builds helm when missing (only helm, not the control plane) and returns the directory that holds `helm`. */
export function ensureHelm(): string {
  if (dirCache) return dirCache;
  const r = spawnSync('bash', [join(here, '..', 'build-binaries.sh'), 'helm'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`testenv/build-binaries.sh helm failed with exit code ${r.status}`);
  const lines = r.stdout.trim().split('\n');
  dirCache = lines[lines.length - 1]!;
  return dirCache;
}
