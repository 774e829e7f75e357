// `tether sync --once` against an unreachable cluster (a closed port) whose app's Git remote answers each request 4.5 s late: the
// command reports the cluster error once its check gives up (5 tries, ~4 s of backoff) and exits; it must not wait
// for the Git fetch it started during the check.
import { syncAgainstClosedPort } from '../agent/test/fixtures/unreachable-sync.ts';
import type { Report } from './run.ts';

export const name = 'tether sync --once against an unreachable cluster';

export async function run(report: Report): Promise<void> {
  const r = await syncAgainstClosedPort(4500);
  if (r.code !== 1) throw new Error(`exit code ${r.code}: ${r.stderr}`);
  report('spawn → exit (Git answers 4.5 s late)', r.exitMs, 'ms', 'the cluster check alone (~4 s), not the fetch');
  report('packs asked for before the exit', r.packsAskedBeforeExit, '', '0');
}
