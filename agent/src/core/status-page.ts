// The agent's status page: server-rendered HTML with inline CSS, no scripts and no external assets, so it works
// behind any proxy, under a strict Content-Security-Policy and without a build step. Pure (hono/html is a string
// template, no I/O): the server passes the data in, these functions return a string.
import { html as honoHtml, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import {
  type AppView,
  definedIn,
  type HealView,
  type PolicyView,
  type ProjectView,
  type ResourceView,
} from './agent-view.ts';
import type { RetryView } from './retry.ts';
import type { HealthStatus, HookResult, SyncAction, SyncResult, SyncStatus, WaveResult } from './types.ts';

/** HTML that is already escaped (or written by us), so the `html` template inserts it as is. */
export type SafeHtml = HtmlEscapedString;

/**
 * hono/html's `html` tag (exported for the UI's other renderers): every interpolated value is escaped unless it is already HTML, so nothing is escaped by
 * hand. Every value here is synchronous, so the result is never a Promise.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  return honoHtml(strings, ...values) as SafeHtml;
}

/** Escapes text for HTML element content and quoted attribute values, exactly as the `html` tag does. */
export function escapeHtml(text: string): string {
  return html`${text}`.toString();
}

/** Options of the status page renderers. */
export interface StatusPageOptions {
  /** "Now", for the relative times ("3 min ago"). */
  now: Date;
  /** Seconds between automatic reloads; 0 = never. */
  refreshSeconds: number;
  /**
   * The CSP nonce of this response: with one, the page carries its small script (live refresh that keeps expanded
   * rows open) and the meta refresh moves into `<noscript>`; without one the page has no script at all.
   */
  nonce?: string;
  /** What the header shows on the right (who is logged in, the login link). */
  userBar?: SafeHtml;
  /** The projects, for grouping the index page's apps; empty: one flat table. */
  projects: readonly ProjectView[];
}

/** Defaults of the status page: the current time, reload every 30 s. */
export function defaultStatusPageOptions(): StatusPageOptions {
  return { now: new Date(), refreshSeconds: 30, projects: [] };
}

/** Badge colours by status; the palette keeps text readable on every background (WCAG AA). */
const TONE: Record<SyncStatus | HealthStatus | SyncAction, string> = {
  Synced: 'ok',
  OutOfSync: 'warn',
  Unknown: 'muted',
  Healthy: 'ok',
  Progressing: 'info',
  Degraded: 'bad',
  Suspended: 'paused',
  Missing: 'warn',
  created: 'ok',
  configured: 'info',
  unchanged: 'muted',
  pruned: 'paused',
  skipped: 'warn',
  failed: 'bad',
  conflict: 'bad',
  refused: 'bad',
  adopted: 'info',
};

const CSS = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
header{display:flex;align-items:baseline;gap:12px;padding:14px 24px;border-bottom:1px solid var(--line);background:var(--bg)}
header h1{font-size:18px;margin:0}h2.app-title{font-size:20px;margin-top:8px}header .cluster{color:var(--muted)}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h2{font-size:16px;margin:28px 0 8px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}.nowrap{white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;border:1px solid}
.b-ok{color:#116329;background:#dafbe1;border-color:#8ddb9c}
.b-warn{color:#7d4e00;background:#fff8c5;border-color:#e5c664}
.b-bad{color:#a40e26;background:#ffebe9;border-color:#ff8182}
.b-info{color:#0550ae;background:#ddf4ff;border-color:#80ccff}
.b-paused{color:#6639ba;background:#fbefff;border-color:#d2a8ff}
.b-muted{color:#59636e;background:#f6f8fa;border-color:#d1d9e0}
.error{color:#a40e26}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
.facts dt{color:var(--muted)}.facts dd{margin:0}
pre.diff{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;line-height:1.4}
.add{color:#116329;background:#e6ffec;display:block}.del{color:#a40e26;background:#ffebe9;display:block}
.hunk{color:#0550ae;display:block}.meta{color:var(--muted);font-weight:600;display:block}
header .user{margin-left:auto;display:flex;gap:8px;align-items:center}
h3{font-size:14px;margin:18px 0 6px}
.actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0 4px}.actions form{margin:0}
button,.button{font:inherit;font-size:13px;font-weight:600;padding:4px 12px;border-radius:6px;border:1px solid var(--line);background:var(--bg);color:var(--fg);cursor:pointer;display:inline-block}
button.primary{background:#1f883d;border-color:#1a7f37;color:#fff}
a:focus-visible,button:focus-visible,summary:focus-visible,input:focus-visible,select:focus-visible{outline:2px solid #0969da;outline-offset:2px}
.notice{border:1px solid #80ccff;background:#ddf4ff;border-radius:6px;padding:8px 12px;margin:12px 0}
.notice.bad{border-color:#ff8182;background:#ffebe9}
.tree,.tree ul{list-style:none;margin:0;padding:0}.tree ul{padding-left:22px;border-left:1px dotted var(--line);margin-left:6px}
.tree li{margin:2px 0}.tree summary{cursor:pointer}.tree .node{display:inline-flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.tree .leaf{padding-left:14px}.tree .kind{font-weight:600}.tree .msg{color:var(--muted)}.tree .msg.bad{color:#a40e26}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 16px}.counts a{border:1px solid var(--line);border-radius:6px;padding:6px 12px;color:var(--fg)}
.counts a[aria-current]{border-color:#0969da;box-shadow:inset 0 0 0 1px #0969da}.counts strong{font-size:18px;display:block}
form.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:end;margin:8px 0}form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
select,input[type=password]{font:inherit;padding:4px 6px;border:1px solid #818b98;border-radius:6px}
.trigger{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);border:0}
`;

/** A coloured badge for a sync status, health or sync action. */
export function badge(status: SyncStatus | HealthStatus | SyncAction): SafeHtml {
  return html`<span class="badge b-${TONE[status] ?? 'muted'}">${status}</span>`;
}

/** The first 7 characters of a commit sha, as GitHub shows it. */
export function shortSha(sha: string): string {
  return /^[0-9a-f]{40,64}$/i.test(sha) ? sha.slice(0, 7) : sha;
}

/** A commit's short sha, linked to the commit when the URL is http(s). */
export function revisionLink(sha: string | undefined, url: string | undefined): SafeHtml {
  if (!sha) return html`<span class="muted">—</span>`;
  // Only http(s) links: the URL is built from configuration, but a `javascript:` URL must never become clickable.
  if (url && /^https?:\/\//i.test(url)) return html`<a class="mono" href="${url}" title="${sha}">${shortSha(sha)}</a>`;
  return html`<span class="mono" title="${sha}">${shortSha(sha)}</span>`;
}

/** `120 ms`, `6.1 s`, `2 min 5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** `5 min ago` relative to `now`; the text itself when it is not a date. */
export function ago(iso: string, now: Date): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A `<time>` element showing how long ago, with the exact time on hover. */
export function time(iso: string, now: Date): SafeHtml {
  return html`<time datetime="${iso}" title="${iso}">${ago(iso, now)}</time>`;
}

/**
 * The page's one script, allowed by the response's CSP nonce: every `refreshSeconds` it fetches the page again and
 * swaps in the new `<main>`, keeping open whichever `<details data-key>` the reader opened and leaving the page alone
 * while a form field has focus. Without JavaScript the `<noscript>` meta refresh does the reloading instead.
 */
const LIVE_REFRESH = `(function(){
var s=document.currentScript,every=Number(s&&s.dataset.refresh)*1000;if(!every)return;
function tick(){
var a=document.activeElement;if(a&&/^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)){return setTimeout(tick,every);}
fetch(location.href,{credentials:'same-origin',headers:{'x-tether-refresh':'1'}}).then(function(r){return r.ok?r.text():null}).then(function(t){
if(t){var open={};document.querySelectorAll('details[data-key]').forEach(function(d){open[d.dataset.key]=d.open});
var doc=new DOMParser().parseFromString(t,'text/html'),m=doc.querySelector('main'),cur=document.querySelector('main');
if(m&&cur){cur.replaceWith(m);m.querySelectorAll('details[data-key]').forEach(function(d){if(d.dataset.key in open)d.open=open[d.dataset.key]})}}
}).catch(function(){}).then(function(){setTimeout(tick,every)});}
setTimeout(tick,every);})();`;

function page(title: string, cluster: string, body: SafeHtml, options: StatusPageOptions): string {
  const meta = options.refreshSeconds > 0 ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : '';
  const refresh = options.nonce && meta ? html`<noscript>${meta}</noscript>` : meta;
  const script =
    options.nonce && options.refreshSeconds > 0
      ? html`<script nonce="${options.nonce}" data-refresh="${options.refreshSeconds}">${raw(LIVE_REFRESH)}</script>`
      : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}
<title>${title}</title>
<style>${raw(CSS)}</style>
</head>
<body>
<header><h1><a href="/">Tether</a></h1><span class="cluster">cluster <strong>${cluster}</strong></span>${
    options.userBar ? html`<span class="user">${options.userBar}</span>` : ''
  }</header>
<main>
${body}
</main>
${script}
</body>
</html>
`.toString();
}

function lastSyncCell(sync: SyncResult | undefined, now: Date): SafeHtml {
  if (!sync) return html`<span class="muted">not yet</span>`;
  return html`${time(sync.startedAt, now)} <span class="muted">· ${duration(sync.durationMs)}</span>`;
}

function errorText(sync: SyncResult | undefined): SafeHtml | undefined {
  if (!sync?.error && sync?.pruneBlocked) return html`<span class="error">${sync.pruneBlocked}</span>`;
  if (!sync?.error) return undefined;
  return html`<span class="error">${sync.error.stage} failed: ${sync.error.message}</span>`;
}

/** The index page: one row per app with sync and health badges, revision, last sync and error; `extras.top` above. */
export function renderIndexPage(
  cluster: string,
  apps: readonly AppView[],
  options: Partial<StatusPageOptions> = {},
  extras: { top?: SafeHtml; emptyMessage?: string } = {},
): string {
  const opts = { ...defaultStatusPageOptions(), ...options };
  const withPolicy = apps.some((a) => a.policy);
  const row = (a: AppView) => html`<tr>
<td><a href="/apps/${encodeURIComponent(a.name)}"><strong>${a.name}</strong></a><div class="muted mono">${a.path}</div><div class="muted mono" title="defined in ${a.origin}">${definedIn(a.origin)}</div></td>
<td>${badge(a.state.sync)}</td>
<td>${badge(a.state.health.status)}</td>
<td>${revisionLink(a.state.lastSync?.revision ?? a.state.revision, a.revisionUrl)}</td>
<td class="nowrap">${lastSyncCell(a.state.lastSync, opts.now)}</td>
${withPolicy ? html`<td>${policyCell(a.policy)}</td>` : ''}
<td>${messageCell(a)}</td>
</tr>`;
  const table = (rows: readonly AppView[]) => html`<table>
<thead><tr><th>App</th><th>Sync</th><th>Health</th><th>Revision</th><th>Last sync</th>${withPolicy ? html`<th>Policy</th>` : ''}<th>Message</th></tr></thead>
<tbody>
${rows.map(row)}
</tbody>
</table>`;
  // Apps are grouped by project when there is more than the one default project to tell apart.
  const groups = opts.projects.filter((p) => p.apps.length > 0);
  const grouped = groups.length > 1 || groups.some((p) => p.name !== 'default');
  const byName = new Map(apps.map((a) => [a.name, a]));
  // Every app is shown, also one no project lists (a view that knows projects only partly).
  const listed = new Set(groups.flatMap((p) => p.apps));
  const others = apps.filter((a) => !listed.has(a.name));
  const body =
    apps.length === 0
      ? html`${extras.top ?? ''}<p class="muted">${extras.emptyMessage ?? 'No apps are configured.'}</p>`
      : grouped
        ? html`${extras.top ?? ''}${groups.map(
            (p) => html`<h2>Project ${p.name}</h2>
${projectFacts(p)}
${table(p.apps.flatMap((n) => byName.get(n) ?? []))}`,
          )}${
            others.length > 0
              ? html`<h2>Other apps</h2>
${table(others)}`
              : ''
          }`
        : html`${extras.top ?? ''}<h2>Apps</h2>
${table(apps)}`;
  return page(`Tether · ${cluster}`, cluster, body, opts);
}

/** What a project allows, in one line under its heading. */
function projectFacts(p: ProjectView): SafeHtml {
  const list = (xs: readonly string[]) => (xs.length === 0 ? 'none' : xs.join(', '));
  return html`<p class="muted">${p.problem ? html`<span class="error">${p.problem}</span> · ` : ''}repos <span class="mono">${list(p.sourceRepos)}</span> · namespaces <span class="mono">${list(p.destinationNamespaces)}</span> · cluster kinds <span class="mono">${list(p.clusterResourceAllowlist)}</span>${
    p.namespaceResourceDenylist.length > 0
      ? html` · denied <span class="mono">${list(p.namespaceResourceDenylist)}</span>`
      : ''
  }${p.prune ? '' : ' · no prune'}${p.selfHeal ? '' : ' · no self-heal'}${
    p.windows.length > 0 ? html` · windows: ${p.windows.join('; ')}` : ''
  }${p.windowNow ? html` · <strong>${p.windowNow}</strong>` : ''}</p>`;
}

/** An app's sync policy in a table cell: `automated`, `manual`, `suspended`, and what narrows it now. */
function policyCell(p: PolicyView | undefined): SafeHtml | string {
  if (!p) return '';
  const mode = p.suspended
    ? html`<span class="badge b-paused">suspended</span>`
    : html`<span class="badge b-${p.syncPolicy === 'manual' ? 'info' : 'muted'}">${p.syncPolicy}</span>`;
  const off = [p.prune ? '' : 'no prune', p.selfHeal ? '' : 'no self-heal'].filter(Boolean).join(', ');
  return html`${mode}${off ? html`<div class="muted">${off}</div>` : ''}${
    p.windowNow ? html`<div class="muted">${p.windowNow}</div>` : ''
  }`;
}

/** The message column: an error, why the app is held back, or the health message. */
function messageCell(a: AppView): SafeHtml | string {
  const refused = a.policy?.projectProblem;
  if (refused) return html`<span class="error">${refused}</span>`;
  return (
    errorText(a.state.lastSync) ??
    (a.state.held ? a.state.held : a.state.health.status === 'Healthy' ? '' : a.state.health.message)
  );
}

function resourcesTable(resources: readonly ResourceView[]): SafeHtml {
  if (resources.length === 0) return html`<p class="muted">No resources.</p>`;
  return html`<table>
<thead><tr><th>Kind</th><th>Namespace</th><th>Name</th><th>Health</th><th>Message</th></tr></thead>
<tbody>
${resources.map(
  (
    r,
  ) => html`<tr><td>${r.kind}</td><td>${r.namespace ?? html`<span class="muted">—</span>`}</td><td class="mono">${r.name}</td>
<td>${badge(r.health.status)}</td><td>${r.health.message}</td></tr>
`,
)}</tbody>
</table>`;
}

/** Entries shown per sync; a first sync of a big app has thousands, and the API has them all. */
const MAX_ENTRIES = 200;

/** One apply step: `wave 1 · 2 objects · applied in 120 ms · healthy after 6.1 s`. */
function waveLine(w: WaveResult): SafeHtml {
  const name = w.wave === 'prerequisites' ? 'namespaces and CRDs' : `wave ${w.wave}`;
  const waited = w.waitMs > 0 || w.outcome !== 'applied' ? ` · ${w.outcome} after ${duration(w.waitMs)}` : '';
  return html`<div>${name} · ${w.objects} object${w.objects === 1 ? '' : 's'} · applied in ${duration(w.applyMs)}${waited}${
    w.message && w.outcome !== 'healthy' ? html` <span class="muted">— ${w.message}</span>` : ''
  }</div>`;
}

/** One hook: `PreSync Job/web/migrate · Succeeded in 3.2 s · deleted — job complete`. */
function hookLine(h: HookResult): SafeHtml {
  return html`<div>${h.phase} <span class="mono">${h.subject}</span> · <span class="badge b-${TONE[h.outcome === 'Succeeded' ? 'Healthy' : 'Degraded']}">${h.outcome}</span> in ${duration(h.durationMs)}${
    h.deleted ? ' · deleted' : ''
  } <span class="muted">— ${h.message}</span></div>`;
}

function lastSyncSection(sync: SyncResult | undefined, now: Date): SafeHtml {
  if (!sync) return html`<p class="muted">The app has not been synced yet.</p>`;
  // Changes first: a long list of `unchanged` must not push a failure off the screen.
  const order: SyncAction[] = [
    'failed',
    'refused',
    'conflict',
    'skipped',
    'adopted',
    'pruned',
    'created',
    'configured',
    'unchanged',
  ];
  const entries = [...sync.entries].sort((a, b) => order.indexOf(a.action) - order.indexOf(b.action));
  const shown = entries.slice(0, MAX_ENTRIES);
  const counts = order
    .map((action) => [action, sync.entries.filter((e) => e.action === action).length] as const)
    .filter(([, n]) => n > 0)
    .map(([action, n]) => html`${badge(action)} ${n} `);
  return html`<dl class="facts">
<dt>Started</dt><dd>${time(sync.startedAt, now)} <span class="muted">(${sync.startedAt})</span></dd>
<dt>Duration</dt><dd>${duration(sync.durationMs)}</dd>
<dt>Revision</dt><dd class="mono">${sync.revision}</dd>
<dt>Result</dt><dd>${errorText(sync) ?? html`<span>all stages succeeded</span>`}</dd>
<dt>Objects</dt><dd>${counts.length > 0 ? counts : html`<span class="muted">none</span>`}</dd>
${sync.waves && sync.waves.length > 0 ? html`<dt>Waves</dt><dd>${sync.waves.map(waveLine)}</dd>` : ''}
${sync.hooks && sync.hooks.length > 0 ? html`<dt>Hooks</dt><dd>${sync.hooks.map(hookLine)}</dd>` : ''}
</dl>
${
  shown.length > 0
    ? html`<table>
<thead><tr><th>Object</th><th>Action</th><th>Reason</th></tr></thead>
<tbody>
${shown.map((e) => html`<tr><td class="mono">${e.subject}</td><td>${badge(e.action)}</td><td>${e.reason ?? ''}</td></tr>\n`)}</tbody>
</table>`
    : ''
}
${entries.length > shown.length ? html`<p class="muted">and ${entries.length - shown.length} more (see /api/apps).</p>` : ''}`;
}

function healSection(heal: HealView | undefined, now: Date): SafeHtml {
  if (!heal) return html`<p class="muted">No drift healed since the agent started.</p>`;
  return html`<dl class="facts">
<dt>Object</dt><dd class="mono">${heal.subject}</dd>
<dt>When</dt><dd>${time(heal.at, now)}</dd>
<dt>Action</dt><dd>${heal.action}${heal.reason ? html` <span class="muted">— ${heal.reason}</span>` : ''}</dd>
<dt>Latency</dt><dd>${duration(heal.latencyMs)} from the change to the fix</dd>
</dl>`;
}

/** A unified diff as a `<pre>` with added, removed and hunk lines coloured. */
export function diffBlock(diff: string): SafeHtml {
  const lines = diff.replace(/\n$/, '').split('\n');
  const spans = lines.map((line) => {
    // File headers (`--- live …`, `+++ desired …`) are labels, not changes.
    const cls = /^(---|\+\+\+) /.test(line)
      ? 'meta'
      : line.startsWith('+')
        ? 'add'
        : line.startsWith('-')
          ? 'del'
          : line.startsWith('@@')
            ? 'hunk'
            : '';
    return cls ? html`<span class="${cls}">${line}</span>` : html`${line}\n`;
  });
  return html`<pre class="diff">${spans}</pre>`;
}

/** What the app page shows about the diff: the text, why it could not be computed, or nothing (in sync). */
export type DiffState = { diff: string } | { error: string } | undefined;

/** Sections of the app page that other renderers make (the UI's actions, resource tree, history, fleet). */
export interface AppPageExtras {
  /** Above the facts: notices and the action buttons. */
  top?: SafeHtml;
  /** Replaces the resources table (the live resource tree). */
  resources?: SafeHtml;
  /** After the last sync: history, fleet. */
  bottom?: SafeHtml;
}

/** The page of one app: state, resources with health, the last sync's entries, the last heal and the diff. */
export function renderAppPage(
  cluster: string,
  app: AppView,
  diff: DiffState,
  options: Partial<StatusPageOptions> = {},
  extras: AppPageExtras = {},
): string {
  const opts = { ...defaultStatusPageOptions(), ...options };
  const s = app.state;
  let diffSection: SafeHtml | string = '';
  if (diff && 'error' in diff) {
    diffSection = html`<h2>Diff</h2><p class="error">The diff could not be computed: ${diff.error}</p>`;
  } else if (diff) {
    diffSection = html`<h2>Diff <span class="muted">(live → desired)</span></h2>${
      diff.diff === '' ? html`<p class="muted">No differences.</p>` : diffBlock(diff.diff)
    }`;
  }
  const body = html`<h2 class="app-title">${app.name} ${badge(s.sync)} ${badge(s.health.status)}</h2>
${extras.top ?? ''}
<dl class="facts">
<dt>Source</dt><dd class="mono">${app.repo} · ${app.ref} · ${app.path}</dd>
<dt>Defined in</dt><dd class="mono">${app.origin === 'config' ? 'the agent’s config file' : app.origin}</dd>
<dt>Revision</dt><dd>${revisionLink(s.lastSync?.revision ?? s.revision, app.revisionUrl)}${
    s.lastSync && s.revision && s.revision !== s.lastSync.revision
      ? html` <span class="muted">(fetched ${shortSha(s.revision)}, not synced yet)</span>`
      : ''
  }</dd>
<dt>Health</dt><dd>${s.health.message}</dd>
${app.policy ? policyFacts(app.policy) : ''}
${s.held ? html`<dt>Waiting</dt><dd>${s.held}</dd>` : ''}
${app.retry ? retryFacts(app.retry, opts.now) : ''}
${app.lastManualSync ? html`<dt>Manual sync</dt><dd>asked by <strong>${app.lastManualSync.by}</strong> ${ago(app.lastManualSync.at, opts.now)}${app.lastManualSync.revision ? html` · <span class="mono">${shortSha(app.lastManualSync.revision)}</span>` : ''}</dd>` : ''}
${s.lastSync?.pruneBlocked ? html`<dt>Prune</dt><dd class="error">${s.lastSync.pruneBlocked}</dd>` : ''}
${s.drifted && s.drifted.length > 0 ? html`<dt>Drifted</dt><dd class="mono">${s.drifted.join(', ')} <span class="muted">(self-heal off)</span></dd>` : ''}
</dl>
<h2>Resources</h2>
${extras.resources ?? resourcesTable(app.resources)}
<h2>Last sync</h2>
${lastSyncSection(s.lastSync, opts.now)}
<h2>Last heal</h2>
${healSection(app.lastHeal, opts.now)}
${extras.bottom ?? ''}
${diffSection}`;
  return page(`${app.name} · Tether · ${cluster}`, cluster, body, opts);
}

/** Any page in the status page's style (the UI's login and fleet pages); `body` is already escaped. */
export function renderPage(
  title: string,
  cluster: string,
  body: SafeHtml,
  options: Partial<StatusPageOptions> = {},
): string {
  return page(`${title} · Tether · ${cluster}`, cluster, body, { ...defaultStatusPageOptions(), ...options });
}

/** The retry line of an app whose last sync failed: the attempt and when the next runs, or that it gave up. */
function retryFacts(r: RetryView, now: Date): SafeHtml {
  const limit = r.limit < 0 ? 'unlimited' : String(r.limit);
  if (r.retriesExhausted)
    return html`<dt>Retries</dt><dd class="error">${shortSha(r.revision)}: ${r.message ?? 'retries used up'}</dd>`;
  const next = r.nextAt ? html`; next ${Date.parse(r.nextAt) > now.getTime() ? `at ${r.nextAt}` : 'now'}` : '';
  return html`<dt>Retries</dt><dd>${shortSha(r.revision)} failed ${r.attempt} time${r.attempt === 1 ? '' : 's'} (retry limit ${limit})${next}</dd>`;
}

/** The project and policy lines of an app's page. */
function policyFacts(p: PolicyView): SafeHtml {
  return html`<dt>Project</dt><dd>${p.project}${p.projectProblem ? html` <span class="error">${p.projectProblem}</span>` : ''}</dd>
<dt>Policy</dt><dd>${policyCell(p)}${p.windows.length > 0 ? html`<div class="muted">windows: ${p.windows.join('; ')}</div>` : ''}</dd>`;
}

/** A 404 page in the status page's style. */
export function renderNotFoundPage(cluster: string, message: string, options: Partial<StatusPageOptions> = {}): string {
  const opts = { ...defaultStatusPageOptions(), refreshSeconds: 0, ...options };
  return page(
    `Not found · Tether · ${cluster}`,
    cluster,
    html`<h2>Not found</h2><p>${message}</p><p><a href="/">All apps</a></p>`,
    opts,
  );
}
