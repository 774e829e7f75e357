// The fleet page of an app: one row per cluster reporting `tether/<cluster>/<app>` on the env repo, with the commit
// it is on, the state and description its agent posted, and a link to that agent's page. Pure.
import type { FleetView } from '../fleet.ts';
import { html, revisionLink, type SafeHtml, time } from '../status-page.ts';

const STATE_TONE: Record<string, string> = { success: 'ok', pending: 'info', failure: 'bad', error: 'bad' };

/** The fleet section: the table, or why it is empty; `here` is this agent's cluster (its row is marked). */
export function fleetSection(
  fleet: FleetView,
  options: { now: Date; here: string; commitUrl?: (sha: string) => string },
): SafeHtml {
  const note = fleet.note ? html`<p class="notice bad" role="status">${fleet.note}</p>` : '';
  const read = fleet.fetchedAt
    ? html`<p class="muted">Read from GitHub ${time(fleet.fetchedAt, options.now)}: the newest ${fleet.commitsRead} commit${
        fleet.commitsRead === 1 ? '' : 's'
      } of <span class="mono">${fleet.repo}</span> @ <span class="mono">${fleet.ref}</span>.</p>`
    : '';
  if (fleet.rows.length === 0) {
    return html`${note}${read}<p class="muted">No cluster has reported a status for this app on those commits.</p>`;
  }
  return html`${note}${read}<table id="fleet" aria-label="Clusters">
<thead><tr><th>Cluster</th><th>Commit</th><th>State</th><th>Description</th><th>Updated</th></tr></thead>
<tbody>
${fleet.rows.map(
  (r) => html`<tr>
<td class="nowrap"><strong>${r.targetUrl && /^https?:\/\//i.test(r.targetUrl) ? html`<a href="${r.targetUrl}">${r.cluster}</a>` : r.cluster}</strong>${
    r.cluster === options.here ? html` <span class="muted">(this cluster)</span>` : ''
  }</td>
<td>${revisionLink(r.sha, options.commitUrl?.(r.sha))}${r.behind > 0 ? html` <span class="muted">(${r.behind} behind the newest)</span>` : ''}</td>
<td><span class="badge b-${STATE_TONE[r.state] ?? 'muted'}">${r.state}</span></td>
<td>${r.description}</td>
<td class="nowrap">${time(r.updatedAt, options.now)}</td>
</tr>`,
)}
</tbody>
</table>`;
}
