// The agent's /metrics in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Pure: counters come from `AgentMetrics`, the
// per-app status gauges from the apps' current state, so a scrape never changes anything.
import type { AgentMetrics, AppView } from './agent-view.ts';
import { HEALTH_ORDER } from './health.ts';
import type { SyncStatus } from './types.ts';

/** The content type of the text format this module writes. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const SYNC_STATUSES: readonly SyncStatus[] = ['Synced', 'OutOfSync', 'Unknown'];

type Labels = Record<string, string>;

/** A label value with `\`, `"` and newlines escaped, as the format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as Prometheus parses it (Go float syntax: `+Inf`, `-Inf`, `NaN`). */
function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function family(name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: string[]): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`, ...samples];
}

/** App names in configuration order, then any the counters know that are no longer configured. */
function appNames(apps: readonly AppView[], metrics: AgentMetrics): string[] {
  const names = apps.map((a) => a.name);
  const seen = new Set(names);
  for (const map of [metrics.syncDurationSeconds, metrics.objectsApplied, metrics.objectsPruned, metrics.driftHeals]) {
    for (const name of map.keys()) {
      if (!seen.has(name)) {
        seen.add(name);
        names.push(name);
      }
    }
  }
  return names;
}

/** Renders the agent's metrics and the apps' sync/health gauges as Prometheus text format 0.0.4. */
export function renderMetrics(cluster: string, apps: readonly AppView[], metrics: AgentMetrics): string {
  const names = appNames(apps, metrics);
  // Every configured app gets a sample (0 before its first sync) so that rate() and absent() behave from the start.
  const perApp = (map: Map<string, number>, metric: string) =>
    names.map((app) => sample(metric, { app }, map.get(app) ?? 0));
  const lines: string[] = [
    ...family(
      'tether_sync_duration_seconds',
      'summary',
      'Duration of sync attempts (fetch, render, apply, prune, health) per app.',
      names.flatMap((app) => {
        const s = metrics.syncDurationSeconds.get(app) ?? { count: 0, sum: 0 };
        return [
          sample('tether_sync_duration_seconds_sum', { app }, s.sum),
          sample('tether_sync_duration_seconds_count', { app }, s.count),
        ];
      }),
    ),
    ...family(
      'tether_objects_applied_total',
      'counter',
      'Objects created or configured by server-side apply, per app.',
      perApp(metrics.objectsApplied, 'tether_objects_applied_total'),
    ),
    ...family(
      'tether_objects_pruned_total',
      'counter',
      'Objects deleted because Git no longer has them, per app.',
      perApp(metrics.objectsPruned, 'tether_objects_pruned_total'),
    ),
    ...family(
      'tether_drift_heals_total',
      'counter',
      'Drifted or deleted objects re-applied by self-heal, per app.',
      perApp(metrics.driftHeals, 'tether_drift_heals_total'),
    ),
    ...family('tether_git_fetch_duration_seconds', 'summary', 'Duration of fetches from the environment repos.', [
      sample('tether_git_fetch_duration_seconds_sum', {}, metrics.gitFetchSeconds.sum),
      sample('tether_git_fetch_duration_seconds_count', {}, metrics.gitFetchSeconds.count),
    ]),
    ...family('tether_statuses_posted_total', 'counter', 'Commit statuses posted to GitHub.', [
      sample('tether_statuses_posted_total', {}, metrics.statusesPosted),
    ]),
    ...family('tether_statuses_failed_total', 'counter', 'Commit statuses GitHub refused or that could not be sent.', [
      sample('tether_statuses_failed_total', {}, metrics.statusesFailed),
    ]),
    ...family(
      'tether_unhandled_rejections_total',
      'counter',
      'Promise rejections nothing handled; logged and counted instead of ending the process (each one is a bug).',
      [sample('tether_unhandled_rejections_total', {}, metrics.unhandledRejections)],
    ),
    ...(metrics.shardsHeld === undefined
      ? []
      : family('tether_shards_held', 'gauge', 'Shards (Leases) this replica holds now; only when sharded.', [
          sample('tether_shards_held', {}, metrics.shardsHeld),
        ])),
    ...family(
      'tether_app_sync_status',
      'gauge',
      `Sync status of each app in cluster ${cluster}: 1 for the current status, 0 for the others.`,
      apps.flatMap((a) =>
        SYNC_STATUSES.map((status) =>
          sample('tether_app_sync_status', { app: a.name, status }, +(a.state.sync === status)),
        ),
      ),
    ),
    ...family(
      'tether_app_health_status',
      'gauge',
      `Health of each app in cluster ${cluster}: 1 for the current status, 0 for the others.`,
      apps.flatMap((a) =>
        HEALTH_ORDER.map((status) =>
          sample('tether_app_health_status', { app: a.name, status }, +(a.state.health.status === status)),
        ),
      ),
    ),
    ...family(
      'tether_prune_blocked',
      'gauge',
      'Whether the last sync of each app left objects Git dropped running because the prune was blocked (1) or not (0).',
      apps.map((a) => sample('tether_prune_blocked', { app: a.name }, +Boolean(a.state.lastSync?.pruneBlocked))),
    ),
    ...family(
      'tether_app_sync_retries_exhausted',
      'gauge',
      'Whether the failed revision of each app used up its retries and waits for a new revision or a manual sync (1) or not (0).',
      apps.map((a) =>
        sample('tether_app_sync_retries_exhausted', { app: a.name }, +Boolean(a.retry?.retriesExhausted)),
      ),
    ),
    ...family(
      'tether_app_last_sync_timestamp_seconds',
      'gauge',
      'Start time of the last sync attempt of each app (Unix seconds), for staleness alerts.',
      apps.flatMap((a) => {
        const at = a.state.lastSync ? Date.parse(a.state.lastSync.startedAt) : Number.NaN;
        return Number.isNaN(at) ? [] : [sample('tether_app_last_sync_timestamp_seconds', { app: a.name }, at / 1000)];
      }),
    ),
  ];
  return lines.join('\n') + '\n';
}
