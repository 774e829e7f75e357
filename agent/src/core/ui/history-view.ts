// The app page's History section: the last syncs (trigger, revision linked to its commit, duration, counts, the
// status asked for, the error) and the last heals. Pure: returns escaped HTML.
import type { AppHistory, HealHistoryEntry, SyncHistoryEntry } from '../history.ts';
import { badge, duration, html, revisionLink, type SafeHtml, time } from '../status-page.ts';

/** Status states as badges, in the page's palette. */
const STATE_TONE: Record<string, string> = { success: 'ok', pending: 'info', failure: 'bad', error: 'bad' };

function counts(e: SyncHistoryEntry): SafeHtml {
  if (e.noop) return html`<span class="muted">no change${e.repeats > 0 ? ` (×${e.repeats + 1})` : ''}</span>`;
  const c = e.counts;
  const parts = [
    `${c.applied} applied`,
    `${c.pruned} pruned`,
    `${c.unchanged} unchanged`,
    ...(c.failed > 0 ? [`${c.failed} failed`] : []),
    ...(c.skipped > 0 ? [`${c.skipped} skipped`] : []),
  ];
  return html`${parts.join(' · ')}`;
}

function statusCell(e: SyncHistoryEntry): SafeHtml {
  if (!e.status) return html`<span class="muted">none</span>`;
  const d = e.status.delivery;
  return html`<span class="badge b-${STATE_TONE[e.status.state] ?? 'muted'}">${e.status.state}</span> <span class="muted mono">${e.status.context}</span>${
    d ? html` <span class="muted">${d}</span>` : ''
  }`;
}

function syncRow(
  e: SyncHistoryEntry,
  commitUrl: ((sha: string) => string) | undefined,
  now: Date,
  replicas: boolean,
): SafeHtml {
  return html`<tr>
<td class="nowrap">${time(e.startedAt, now)}</td>
<td><span class="trigger">${e.trigger}</span></td>
<td>${revisionLink(e.revision, commitUrl?.(e.revision))}</td>
<td class="nowrap">${duration(e.durationMs)}</td>
<td>${counts(e)}</td>
<td>${statusCell(e)}</td>
<td>${e.error ? html`<span class="error">${e.attempt ? `attempt ${e.attempt}: ` : ''}${e.error.stage} failed: ${e.error.message}</span>` : ''}${
    e.waiting ? html`<span class="muted">not applied: ${e.waiting}</span>` : ''
  }</td>
${replicas ? html`<td class="mono">${e.replica ?? ''}</td>` : ''}
</tr>`;
}

function healRow(h: HealHistoryEntry, now: Date, replicas: boolean): SafeHtml {
  return html`<tr>
<td class="nowrap">${time(h.at, now)}</td>
<td class="mono">${h.subject}</td>
<td>${badge(h.action)} ${h.mode === 'detected' ? html`<span class="muted">(detected, self-heal off)</span>` : ''}</td>
<td class="nowrap">${h.mode === 'healed' ? duration(h.latencyMs) : ''}</td>
<td>${h.reason ?? ''}</td>
${replicas ? html`<td class="mono">${h.replica ?? ''}</td>` : ''}
</tr>`;
}

/** The History section: syncs newest first, then heals; `commitUrl` links a revision to its commit. */
export function historySection(
  history: AppHistory,
  commitUrl: ((sha: string) => string) | undefined,
  now: Date,
): SafeHtml {
  // The Replica column appears only when some entry names one (sharding or leader election runs).
  const replicas = [...history.syncs, ...history.heals].some((e) => e.replica !== undefined);
  const replicaHead = replicas ? html`<th>Replica</th>` : '';
  const syncs =
    history.syncs.length === 0
      ? html`<p class="muted">No sync since the agent started.</p>`
      : html`<table id="sync-history" aria-label="Sync history">
<thead><tr><th>When</th><th>Trigger</th><th>Revision</th><th>Duration</th><th>Objects</th><th>Status</th><th>Error</th>${replicaHead}</tr></thead>
<tbody>
${history.syncs.map((e) => syncRow(e, commitUrl, now, replicas))}
</tbody>
</table>`;
  const heals =
    history.heals.length === 0
      ? html`<p class="muted">No heal since the agent started.</p>`
      : html`<table id="heal-history" aria-label="Heal history">
<thead><tr><th>When</th><th>Object</th><th>Action</th><th>Latency</th><th>Reason</th>${replicaHead}</tr></thead>
<tbody>
${history.heals.map((h) => healRow(h, now, replicas))}
</tbody>
</table>`;
  return html`<h2 id="history">History <span class="muted">(last ${history.syncs.length} syncs)</span></h2>
${syncs}
<h3>Heals</h3>
${heals}`;
}
