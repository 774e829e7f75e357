// The agent's web UI: the overview, the app pages (resource tree, history, fleet), login and the actions behind it
// (sync now, refresh). Read-only pages stay public as before; actions need a session made by logging in with the
// API token, a matching CSRF token in the form, and a same-origin request (hono's csrf middleware checks Origin and
// Sec-Fetch-Site). Everything works with plain forms and redirects; the one script is the pages' live refresh,
// allowed by a per-response CSP nonce.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import { describeError } from '../../../../shared/src/errors.ts';
import { redactUrls } from '../../../../shared/src/redact.ts';
import type { AgentView, AppView } from '../../core/agent-view.ts';
import type { Inspection } from '../../core/inspection.ts';
import {
  type DiffState,
  html,
  renderAppPage,
  renderIndexPage,
  renderNotFoundPage,
  renderPage,
  type SafeHtml,
  type StatusPageOptions,
} from '../../core/status-page.ts';
import {
  actionsBar,
  noticeFor,
  type RefreshResult,
  refreshBlock,
  renderLoginPage,
  rollbackUrl,
  userBar,
} from '../../core/ui/actions-view.ts';
import { fleetSection } from '../../core/ui/fleet-view.ts';
import { historySection } from '../../core/ui/history-view.ts';
import { filterApps, overviewTop, parseFilters } from '../../core/ui/overview.ts';
import { treeView } from '../../core/ui/tree-view.ts';
import { LoginThrottle, type Session, type SessionStore, sameSecret } from './sessions.ts';

/** What the UI routes need from the server's options. */
export interface UiOptions {
  /** The API token; without one, logging in (and so every action) is disabled. */
  apiToken?: string;
  /** External URL of the server; an https one makes the session cookie Secure, and its origin may post forms. */
  publicUrl?: string;
  now: () => Date;
  refreshSeconds: number;
  /** The environment repo's rollback workflow file (`.github/workflows/<file>`), for the Roll back link. */
  rollbackWorkflow: string;
  sessions: SessionStore;
  /** Failed logins; default: 10 per minute for all clients together. */
  loginThrottle?: LoginThrottle;
}

/**
 * Views that know sync policies take a sync asked for by a person as a manual sync, which applies under the manual
 * policy too (the sync API does the same); views without one get a plain sync request.
 */
type ManualSyncing = {
  requestManualSync?(
    name: string,
    by: string,
  ): { accepted: true } | { accepted: false; status: 404 | 409; error: string };
};

/** The session cookie's name. */
export const SESSION_COOKIE = 'tether_session';

/**
 * The strictest policy the pages work under: inline styles, scripts only with this response's nonce, forms posting
 * only back here, nothing loaded from elsewhere, no framing.
 */
const pageHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: ["'unsafe-inline'"],
    scriptSrc: [NONCE],
    // The live refresh fetches the page it is on.
    connectSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
});

/** The diff of an OutOfSync app; the dry-run behind it can fail without failing the page. */
export async function diffOf(view: AgentView, a: AppView): Promise<DiffState> {
  if (a.state.sync !== 'OutOfSync') return undefined;
  try {
    return { diff: await view.diff(a.name) };
  } catch (err) {
    return { error: describeError(err) };
  }
}

/** A path to go back to after logging in: only a local absolute path (never `//host` or a URL). */
function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])[^\s]*$/.test(next) ? next : '/';
}

/** A refresh as the page shows it: which objects a sync would change, and the diff. */
function refreshResult(inspection: Inspection, at: string): RefreshResult {
  return {
    at,
    revision: inspection.revision,
    sync: inspection.sync,
    health: inspection.health,
    changed: inspection.objects.filter((o) => o.sync !== 'Synced').map((o) => o.subject),
    diff: inspection.objects
      .map((o) => o.diff)
      .filter(Boolean)
      .join(''),
  };
}

/** Registers the UI's pages and actions on the server's app. */
export function registerUiRoutes(app: Hono, view: AgentView, opts: UiOptions): void {
  const { sessions } = opts;
  const throttle = opts.loginThrottle ?? new LoginThrottle();
  const loginEnabled = Boolean(opts.apiToken);
  /** The last refresh per app: shown on the app page to everyone (it is what the public diff shows, newer). */
  const refreshes = new Map<string, RefreshResult>();
  const publicOrigin = opts.publicUrl ? new URL(opts.publicUrl).origin : undefined;

  for (const path of ['/', '/apps/*', '/login', '/logout']) app.use(path, pageHeaders);

  const sessionOf = (c: Context): Session | undefined => sessions.get(getCookie(c, SESSION_COOKIE));
  const pageOptions = (c: Context, session: Session | undefined): Partial<StatusPageOptions> => {
    const nonce = c.get('secureHeadersNonce');
    const path = new URL(c.req.url).pathname;
    return {
      now: opts.now(),
      refreshSeconds: opts.refreshSeconds,
      ...(nonce ? { nonce } : {}),
      ...(loginEnabled ? { userBar: userBar(session, path) } : {}),
    };
  };
  // What the read-only routes serve is public to anyone who reaches the port: every URL loses its credentials
  // (a repo URL, a Git error quoting one) however it got into the view.
  const send = (c: Context, body: string, status: 200 | 400 | 401 | 403 | 404 | 409 | 429 = 200) =>
    c.html(redactUrls(body), status);
  const publicJson = (c: Context, body: unknown, status: 200 | 404 = 200) =>
    c.body(redactUrls(JSON.stringify(body)), status, { 'content-type': 'application/json' });
  const forbidden = (c: Context, why: string) =>
    send(
      c,
      renderPage('Forbidden', view.cluster, html`<h2>Forbidden</h2><p>${why}</p><p><a href="/">All apps</a></p>`, {
        now: opts.now(),
        refreshSeconds: 0,
      }),
      403,
    );

  // Same-origin only (Origin, else Sec-Fetch-Site), on top of the session's CSRF token: a form on another site can
  // neither read the token nor, in a current browser, send the cookie (SameSite=Strict).
  const sameOrigin = csrf({
    origin: (origin, c) => origin === new URL(c.req.url).origin || origin === publicOrigin,
  });
  // The UI's forms are a token and a CSRF field: anything bigger is refused before it is buffered (the login form
  // is open to anyone who reaches the port).
  const formLimit = bodyLimit({
    maxSize: 16 * 1024,
    onError: (c) => c.text('form larger than 16 KiB', 413),
  });
  const originCheck: MiddlewareHandler = async (c, next) => {
    try {
      await sameOrigin(c, async () => {});
    } catch (err) {
      if (err instanceof HTTPException) return forbidden(c, 'Cross-origin form posts are refused.');
      throw err;
    }
    await next();
  };

  /** A state-changing form post: a live session and its CSRF token in the body, else 403 (nothing happens). */
  const withSession =
    (handle: (c: Context, session: Session) => Promise<Response> | Response) => async (c: Context) => {
      const session = sessionOf(c);
      if (!session) return forbidden(c, 'Log in first: this action needs a session.');
      const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
      const token = typeof form['csrf'] === 'string' ? form['csrf'] : '';
      if (!token || !sameSecret(token, session.csrf))
        return forbidden(c, 'The form is missing its CSRF token or it does not match this session.');
      return handle(c, session);
    };

  const isHttps = (c: Context) =>
    new URL(c.req.url).protocol === 'https:' ||
    c.req.header('x-forwarded-proto') === 'https' ||
    opts.publicUrl?.startsWith('https:') === true;

  // ---- pages ----

  app.get('/', (c) => {
    const all = view.apps();
    const { filters, error } = parseFilters(c.req.query());
    const shown = filterApps(all, filters);
    const top = html`${noticeFor(c.req.query('done'))}${all.length > 0 ? overviewTop(all, filters, error) : ''}`;
    const options = { ...pageOptions(c, sessionOf(c)), projects: view.projects?.() ?? [] };
    const body = renderIndexPage(view.cluster, shown, options, {
      top,
      ...(all.length > 0 ? { emptyMessage: 'No app matches these filters.' } : {}),
    });
    return send(c, body, error ? 400 : 200);
  });

  app.get('/apps/:name', async (c) => {
    const name = c.req.param('name');
    const session = sessionOf(c);
    const a = view.app(name);
    if (!a) return send(c, renderNotFoundPage(view.cluster, `No app named ${name}.`, pageOptions(c, session)), 404);
    const now = opts.now();
    const history = view.history?.(name);
    const commitUrl = a.repoWebUrl ? (sha: string) => `${a.repoWebUrl}/commit/${sha}` : undefined;
    const top: SafeHtml = html`${noticeFor(c.req.query('done'))}
${actionsBar(a, {
  ...(session ? { session } : {}),
  loginEnabled,
  cluster: view.cluster,
  fleet: Boolean(view.fleet),
  ...(rollbackUrl(a.repoWebUrl, opts.rollbackWorkflow)
    ? { rollback: rollbackUrl(a.repoWebUrl, opts.rollbackWorkflow)! }
    : {}),
})}
${refreshBlock(refreshes.get(name), now)}`;
    const bottom = history ? historySection(history, commitUrl, now) : undefined;
    const tree = view.tree?.(name);
    return send(
      c,
      renderAppPage(view.cluster, a, await diffOf(view, a), pageOptions(c, session), {
        top,
        ...(tree ? { resources: treeView(tree, { now }) } : {}),
        ...(bottom ? { bottom } : {}),
      }),
    );
  });

  app.get('/apps/:name/fleet', async (c) => {
    const name = c.req.param('name');
    const session = sessionOf(c);
    const a = view.app(name);
    const fleet = a ? await view.fleet?.(name) : undefined;
    if (!a || !fleet)
      return send(c, renderNotFoundPage(view.cluster, `No app named ${name}.`, pageOptions(c, session)), 404);
    const now = opts.now();
    const commitUrl = a.repoWebUrl ? (sha: string) => `${a.repoWebUrl}/commit/${sha}` : undefined;
    const body = html`<h2 class="app-title">${name} <span class="muted">in every cluster</span></h2>
<p><a href="/apps/${encodeURIComponent(name)}">Back to ${name} in ${view.cluster}</a></p>
${fleetSection(fleet, { now, here: view.cluster, ...(commitUrl ? { commitUrl } : {}) })}`;
    return send(c, renderPage(`${name} fleet`, view.cluster, body, pageOptions(c, session)));
  });

  app.get('/api/apps/:name/fleet', async (c) => {
    const name = c.req.param('name');
    const fleet = view.app(name) ? await view.fleet?.(name) : undefined;
    if (!fleet) return publicJson(c, { error: `no app named ${name}` }, 404);
    return publicJson(c, { app: name, ...fleet });
  });

  app.get('/api/apps/:name/tree', (c) => {
    const name = c.req.param('name');
    const t = view.tree?.(name);
    if (!t) return publicJson(c, { error: `no app named ${name}` }, 404);
    return publicJson(c, { app: name, ...t });
  });

  app.get('/api/apps/:name/history', (c) => {
    const name = c.req.param('name');
    const h = view.history?.(name);
    if (!h) return publicJson(c, { error: `no app named ${name}` }, 404);
    return publicJson(c, { app: name, ...h });
  });

  // ---- login ----

  app.get('/login', (c) =>
    send(
      c,
      renderLoginPage(
        view.cluster,
        { next: safeNext(c.req.query('next')), enabled: loginEnabled },
        pageOptions(c, sessionOf(c)),
      ),
      loginEnabled ? 200 : 404,
    ),
  );

  app.post('/login', formLimit, originCheck, async (c) => {
    if (!opts.apiToken) return send(c, renderLoginPage(view.cluster, { next: '/', enabled: false }), 404);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const token = typeof form['token'] === 'string' ? form['token'].trim() : '';
    const next = safeNext(typeof form['next'] === 'string' ? form['next'] : undefined);
    const wait = throttle.waitMs();
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      c.header('retry-after', String(seconds));
      const error = `Too many failed logins: try again in ${seconds} s.`;
      return send(c, renderLoginPage(view.cluster, { next, enabled: true, error }, pageOptions(c, undefined)), 429);
    }
    if (!token || !sameSecret(token, opts.apiToken)) {
      throttle.failed();
      return send(
        c,
        renderLoginPage(
          view.cluster,
          { next, enabled: true, error: 'That is not the API token.' },
          pageOptions(c, undefined),
        ),
        401,
      );
    }
    const old = sessionOf(c);
    if (old) sessions.delete(old.id);
    const session = sessions.create();
    setCookie(c, SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(c),
      path: '/',
      maxAge: Math.floor(sessions.options.ttlMs / 1000),
    });
    return c.redirect(next === '/' ? '/?done=login' : next, 303);
  });

  app.post(
    '/logout',
    formLimit,
    originCheck,
    withSession((c, session) => {
      sessions.delete(session.id);
      deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
      return c.redirect('/?done=logout', 303);
    }),
  );

  // ---- actions ----

  app.post(
    '/apps/:name/sync',
    formLimit,
    originCheck,
    withSession((c) => {
      const name = c.req.param('name') ?? '';
      const manual = (view as AgentView & ManualSyncing).requestManualSync;
      if (manual) {
        const answer = manual.call(view, name, 'ui');
        if (!answer.accepted) {
          const body = html`<h2>Not synced</h2><p class="error">${answer.error}</p><p><a href="/apps/${encodeURIComponent(name)}">Back to ${name}</a></p>`;
          return send(c, renderPage('Not synced', view.cluster, body, pageOptions(c, sessionOf(c))), answer.status);
        }
      } else if (!view.requestSync(name, 'ui sync')) return c.notFound();
      return c.redirect(`/apps/${encodeURIComponent(name)}?done=sync`, 303);
    }),
  );

  app.post(
    '/apps/:name/refresh',
    formLimit,
    originCheck,
    withSession(async (c) => {
      const name = c.req.param('name') ?? '';
      if (!view.app(name) || !view.inspect) return c.notFound();
      const at = opts.now().toISOString();
      try {
        refreshes.set(name, refreshResult(await view.inspect(name), at));
      } catch (err) {
        refreshes.set(name, { at, error: describeError(err) });
      }
      return c.redirect(`/apps/${encodeURIComponent(name)}?done=refresh`, 303);
    }),
  );
}
