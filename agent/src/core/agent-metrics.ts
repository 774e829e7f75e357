// The agent's counters, updated from results as data (sync outcomes, heals, status posts); /metrics renders them
// (core/metrics-text.ts). Pure.
import type { AgentMetrics } from './agent-view.ts';
import type { SyncResult } from './types.ts';

/** Metrics with nothing counted yet. */
export function emptyMetrics(): AgentMetrics {
  return {
    syncDurationSeconds: new Map(),
    objectsApplied: new Map(),
    objectsPruned: new Map(),
    driftHeals: new Map(),
    gitFetchSeconds: { count: 0, sum: 0 },
    statusesPosted: 0,
    statusesFailed: 0,
    unhandledRejections: 0,
  };
}

const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);

/** Counts one sync of `app`: its duration, the objects it wrote and pruned, and the Git fetch time when it fetched. */
export function recordSync(m: AgentMetrics, app: string, out: SyncResult & { fetchMs?: number }): void {
  const d = m.syncDurationSeconds.get(app) ?? { count: 0, sum: 0 };
  m.syncDurationSeconds.set(app, { count: d.count + 1, sum: d.sum + out.durationMs / 1000 });
  add(m.objectsApplied, app, out.entries.filter((e) => e.action === 'created' || e.action === 'configured').length);
  add(m.objectsPruned, app, out.entries.filter((e) => e.action === 'pruned').length);
  if (out.fetchMs !== undefined) {
    m.gitFetchSeconds.count++;
    m.gitFetchSeconds.sum += out.fetchMs / 1000;
  }
}

/** Counts one drift heal of `app`. */
export function recordHeal(m: AgentMetrics, app: string): void {
  add(m.driftHeals, app, 1);
}

/** Counts one commit status post, posted or failed for good. */
export function recordStatusPost(m: AgentMetrics, ok: boolean): void {
  if (ok) m.statusesPosted++;
  else m.statusesFailed++;
}
