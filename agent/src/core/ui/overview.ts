// The overview's filters and counts: `/?project=team-a&sync=OutOfSync&health=Degraded` narrows the apps table, and
// the counts above it (each a link that applies its filter) answer "how many are broken" at a glance. A plain GET
// form, so filtering works without JavaScript and a filtered view is a link one can share. Pure.
import type { AppView } from '../agent-view.ts';
import { html, type SafeHtml } from '../status-page.ts';
import type { HealthStatus, SyncStatus } from '../types.ts';

const SYNC: readonly SyncStatus[] = ['Synced', 'OutOfSync', 'Unknown'];
const HEALTH: readonly HealthStatus[] = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];

/** The overview's filters; absent = any. */
export interface OverviewFilters {
  project?: string;
  sync?: SyncStatus;
  health?: HealthStatus;
}

/**
 * The project of an app view, where the agent knows projects (`policy.project`, or a top-level `project`), else
 * `default`. Read defensively: views without projects have neither field.
 */
export function projectOf(app: AppView): string {
  const a = app as AppView & { project?: unknown; policy?: { project?: unknown } };
  const p = a.policy?.project ?? a.project;
  return typeof p === 'string' && p ? p : 'default';
}

/** Reads the filters from query parameters; an unknown value is an error naming the parameter and the choices. */
export function parseFilters(query: Record<string, string | undefined>): { filters: OverviewFilters; error?: string } {
  const filters: OverviewFilters = {};
  const errors: string[] = [];
  const project = query['project']?.trim();
  if (project) filters.project = project;
  const sync = query['sync']?.trim();
  if (sync) {
    if ((SYNC as readonly string[]).includes(sync)) filters.sync = sync as SyncStatus;
    else errors.push(`sync "${sync}" is not one of ${SYNC.join(', ')}`);
  }
  const health = query['health']?.trim();
  if (health) {
    if ((HEALTH as readonly string[]).includes(health)) filters.health = health as HealthStatus;
    else errors.push(`health "${health}" is not one of ${HEALTH.join(', ')}`);
  }
  return errors.length > 0 ? { filters, error: `Filter ignored: ${errors.join('; ')}.` } : { filters };
}

/** The apps that pass every filter, in their order. */
export function filterApps(apps: readonly AppView[], f: OverviewFilters): AppView[] {
  return apps.filter(
    (a) =>
      (!f.project || projectOf(a) === f.project) &&
      (!f.sync || a.state.sync === f.sync) &&
      (!f.health || a.state.health.status === f.health),
  );
}

function query(f: OverviewFilters): string {
  const q = new URLSearchParams();
  if (f.project) q.set('project', f.project);
  if (f.sync) q.set('sync', f.sync);
  if (f.health) q.set('health', f.health);
  const s = q.toString();
  return s ? `/?${s}` : '/';
}

function select(name: string, label: string, values: readonly string[], current: string | undefined): SafeHtml {
  return html`<label for="f-${name}">${label}<select id="f-${name}" name="${name}"><option value="">any</option>${values.map(
    (v) => html`<option value="${v}"${current === v ? html` selected` : ''}>${v}</option>`,
  )}</select></label>`;
}

/** Counts (links applying each filter) and the filter form, above the apps table. */
export function overviewTop(apps: readonly AppView[], f: OverviewFilters, error?: string): SafeHtml {
  const projects = [...new Set(apps.map(projectOf))].sort();
  const scope = f.project ? apps.filter((a) => projectOf(a) === f.project) : apps;
  const count = (label: string, n: number, target: OverviewFilters, current: boolean) =>
    html`<a href="${query(target)}"${current ? html` aria-current="true"` : ''}><strong>${n}</strong> ${label}</a>`;
  const base = f.project ? { project: f.project } : {};
  const counts = [
    count('apps', scope.length, base, !f.sync && !f.health),
    ...SYNC.map((s) =>
      count(
        s === 'Unknown' ? 'sync Unknown' : s,
        scope.filter((a) => a.state.sync === s).length,
        { ...base, sync: s },
        f.sync === s && !f.health,
      ),
    ),
    ...HEALTH.map((h) =>
      count(
        h === 'Unknown' ? 'health Unknown' : h,
        scope.filter((a) => a.state.health.status === h).length,
        { ...base, health: h },
        f.health === h && !f.sync,
      ),
    ),
  ];
  return html`<nav class="counts" aria-label="Counts by state">${counts}</nav>
${error ? html`<p class="notice bad" role="alert">${error}</p>` : ''}
<form class="filters" method="get" action="/" aria-label="Filter apps">
${projects.length > 1 || f.project ? select('project', 'Project', projects, f.project) : ''}
${select('sync', 'Sync', SYNC, f.sync)}
${select('health', 'Health', HEALTH, f.health)}
<button type="submit">Filter</button>${f.project || f.sync || f.health ? html` <a href="/">Clear</a>` : ''}
</form>`;
}
