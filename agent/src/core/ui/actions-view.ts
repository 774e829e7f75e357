// The UI's action pieces: who is logged in, the app's buttons (forms that work without JavaScript, each carrying
// the session's CSRF token), the notices after an action, the result of a refresh, and the login page. Pure.
import type { AppView } from '../agent-view.ts';
import { badge, diffBlock, html, renderPage, type SafeHtml, type StatusPageOptions, time } from '../status-page.ts';
import type { HealthResult, SyncStatus } from '../types.ts';

/** What a refresh (fetch, render and diff against the cluster, no apply) found. */
export type RefreshResult =
  | { at: string; revision: string; sync: SyncStatus; health: HealthResult; changed: string[]; diff: string }
  | { at: string; error: string };

/** Notices shown after a redirect, by the fixed code in `?done=`: no text from the URL reaches the page. */
const NOTICES: Record<string, string> = {
  sync: 'Sync requested: it runs now, or right after the sync in progress. Its entry appears in the history below.',
  refresh: 'Refreshed: the newest revision was fetched and compared with the cluster; nothing was applied.',
  login: 'Logged in.',
  logout: 'Logged out.',
};

/** The notice for a `?done=` code, or nothing for an unknown one. */
export function noticeFor(code: string | undefined): SafeHtml | string {
  const text = code ? NOTICES[code] : undefined;
  return text ? html`<p class="notice" role="status">${text}</p>` : '';
}

/** A hidden field with the session's CSRF token, for every state-changing form. */
export function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

/** The header's right side: the logout button when logged in, else a login link back to `next`. */
export function userBar(session: { csrf: string } | undefined, next: string): SafeHtml {
  if (session) {
    return html`<span class="muted">logged in</span><form method="post" action="/logout">${csrfField(session.csrf)}<button type="submit">Log out</button></form>`;
  }
  return html`<a href="/login?next=${encodeURIComponent(next)}">Log in</a>`;
}

/**
 * The rollback link: GitHub's page of the environment repo's rollback workflow, where "Run workflow" asks for the
 * environment (GitHub takes no URL parameters that fill in workflow_dispatch inputs, so the page says what to pick).
 */
export function rollbackUrl(repoWebUrl: string | undefined, workflowFile: string): string | undefined {
  if (!repoWebUrl || !/^https?:\/\//i.test(repoWebUrl)) return undefined;
  return `${repoWebUrl}/actions/workflows/${encodeURIComponent(workflowFile)}`;
}

/** The app's action bar: Sync now and Refresh (logged in), Roll back (a link to GitHub), the fleet view. */
export function actionsBar(
  app: AppView,
  options: { session?: { csrf: string }; loginEnabled: boolean; rollback?: string; cluster: string; fleet: boolean },
): SafeHtml {
  const name = encodeURIComponent(app.name);
  const buttons = options.session
    ? html`<form method="post" action="/apps/${name}/sync">${csrfField(options.session.csrf)}<button type="submit" class="primary">Sync now</button></form>
<form method="post" action="/apps/${name}/refresh">${csrfField(options.session.csrf)}<button type="submit">Refresh</button></form>`
    : options.loginEnabled
      ? html`<a href="/login?next=${encodeURIComponent(`/apps/${app.name}`)}">Log in to sync or refresh</a>`
      : '';
  const rollback = options.rollback
    ? html`<a class="button" href="${options.rollback}" rel="noopener noreferrer" target="_blank">Roll back on GitHub<span class="sr-only"> (opens the rollback workflow in a new tab)</span></a>
<span class="muted">run it with environment <code>${options.cluster}</code></span>`
    : '';
  return html`<div class="actions" role="group" aria-label="Actions">${buttons}
${options.fleet ? html`<a class="button" href="/apps/${name}/fleet">Fleet view</a>` : ''}
${rollback}</div>`;
}

/** The last refresh of an app: what would change, or why it could not be computed. */
export function refreshBlock(result: RefreshResult | undefined, now: Date): SafeHtml | string {
  if (!result) return '';
  if ('error' in result) {
    return html`<div class="notice bad" id="refresh-result"><strong>Refresh</strong> ${time(result.at, now)} failed: ${result.error}</div>`;
  }
  return html`<div class="notice" id="refresh-result"><strong>Refresh</strong> ${time(result.at, now)}: revision <span class="mono">${result.revision.slice(0, 7)}</span> is ${badge(result.sync)} ${badge(result.health.status)}${
    result.changed.length > 0
      ? html` — a sync would change <span class="mono">${result.changed.join(', ')}</span>`
      : html` — a sync would change nothing`
  }${
    result.diff
      ? html`<details data-key="refresh-diff"><summary>What would change (live → desired)</summary>${diffBlock(result.diff)}</details>`
      : ''
  }</div>`;
}

/** The login page: one password field for the agent's API token. */
export function renderLoginPage(
  cluster: string,
  options: { error?: string; next: string; enabled: boolean },
  page: Partial<StatusPageOptions> = {},
): string {
  const body = options.enabled
    ? html`<h2>Log in</h2>
<p>Log in with the agent's API token (the file <code>server.apiTokenFile</code> names) to sync and refresh apps.
Everything else stays readable without logging in.</p>
${options.error ? html`<p class="notice bad" role="alert">${options.error}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${options.next}">
<p><label for="token">API token</label><br><input id="token" name="token" type="password" autocomplete="current-password" required size="40"></p>
<p><button type="submit" class="primary">Log in</button></p>
</form>`
    : html`<h2>Log in</h2><p>Logging in is disabled: the agent has no API token configured (<code>server.apiTokenFile</code>).</p>`;
  return renderPage('Log in', cluster, body, { refreshSeconds: 0, ...page });
}
