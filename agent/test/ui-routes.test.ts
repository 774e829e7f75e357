// The UI's routes through `app.request()`: history in the API and on the page, login with the API token into a
// server-side session, and every refusal of a state-changing post (no session, no or wrong CSRF token, another
// origin) checked for doing nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { syncHistoryEntry } from '../src/core/history.ts';
import { createServer } from '../src/edges/http/server.ts';
import { LoginThrottle, SessionStore } from '../src/edges/http/sessions.ts';
import { FIXTURE_NOW, fixtureAgentView, REVISIONS } from './fixtures/agent-view.ts';

const TOKEN = 'tether-api-7c1d2b9e5f';
const ORIGIN = 'http://agent';

function setup(options: Parameters<typeof createServer>[1] = {}) {
  const view = fixtureAgentView();
  const sessions = new SessionStore();
  const app = createServer(view, { now: () => FIXTURE_NOW, onError: () => {}, apiToken: TOKEN, sessions, ...options });
  return { view, app, sessions };
}

function form(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return new Request(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Logs in; returns the cookie header to send and the CSRF token the app page's forms carry. */
async function login(app: ReturnType<typeof createServer>) {
  const res = await app.request(form('/login', { token: TOKEN, next: '/apps/web' }));
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/apps/web');
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const page = await (await app.request(`${ORIGIN}/apps/web`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, 'the app page has a CSRF field once logged in');
  return { cookie, setCookie, csrf, page };
}

describe('history', () => {
  test('GET /api/apps/:name/history answers the syncs and heals, newest first; unknown apps 404', async () => {
    const { app, view } = setup();
    const entry = syncHistoryEntry(
      {
        revision: REVISIONS.web,
        startedAt: '2026-11-21T22:45:00.000Z',
        durationMs: 2300,
        noop: false,
        entries: [{ subject: 'Deployment/web/api', action: 'configured' }],
      },
      'webhook push 3f9c2a7',
      { context: 'tether/prod-eu/web', state: 'pending', description: 'Synced 6 resources · Progressing' },
    );
    view.histories.set('web', {
      syncs: [entry],
      heals: [
        {
          subject: 'ConfigMap/web/settings',
          at: '2026-11-21T22:47:00.000Z',
          action: 'configured',
          latencyMs: 140,
          mode: 'healed',
        },
      ],
    });
    const res = await app.request('/api/apps/web/history');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { app: string; syncs: unknown[]; heals: unknown[] };
    assert.equal(body.app, 'web');
    assert.deepEqual(body.syncs, [entry]);
    assert.equal(body.heals.length, 1);
    assert.equal((await app.request('/api/apps/nope/history')).status, 404);

    const page = await (await app.request('/apps/web')).text();
    assert.match(page, /<table id="sync-history"/);
    assert.ok(page.includes('<span class="trigger">webhook</span>'));
    assert.ok(page.includes(`<a class="mono" href="https://github.com/acme/env/commit/${REVISIONS.web}"`));
    assert.ok(page.includes('1 applied · 0 pruned · 0 unchanged'));
    assert.ok(
      page.includes('<span class="badge b-info">pending</span> <span class="muted mono">tether/prod-eu/web</span>'),
    );
    assert.ok(page.includes('ConfigMap/web/settings'));
    assert.ok(!page.includes('<th>Replica</th>'), 'no Replica column when no entry names one');
  });

  test('an entry made by a replica (sharding, leader election) names it in the API and on the page', async () => {
    const { app, view } = setup();
    const entry = {
      ...syncHistoryEntry(
        { revision: REVISIONS.web, startedAt: '2026-11-21T22:45:00.000Z', durationMs: 900, noop: false, entries: [] },
        'webhook push 3f9c2a7',
      ),
      replica: 'tether-7d9f-x2kq',
    };
    view.histories.set('web', { syncs: [entry], heals: [] });
    const body = (await (await app.request('/api/apps/web/history')).json()) as { syncs: { replica?: string }[] };
    assert.equal(body.syncs[0]?.replica, 'tether-7d9f-x2kq');
    const page = await (await app.request('/apps/web')).text();
    assert.ok(page.includes('<th>Replica</th>'));
    assert.ok(page.includes('<td class="mono">tether-7d9f-x2kq</td>'));
  });
});

describe('login', () => {
  test('the API token logs in: an HttpOnly, SameSite=Strict cookie holding a random session id, never the token', async () => {
    const { app, sessions } = setup();
    const { setCookie, page } = await login(app);
    assert.match(setCookie, /^tether_session=[A-Za-z0-9_-]{43};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain http: a Secure cookie would never come back');
    assert.ok(!setCookie.includes(TOKEN));
    assert.ok(!page.includes(TOKEN));
    assert.equal(sessions.size, 1);
    assert.ok(page.includes('>Sync now</button>'));
    assert.ok(page.includes('>Log out</button>'));
  });

  test('behind https (or an https publicUrl) the cookie is Secure', async () => {
    const { app } = setup({ publicUrl: 'https://tether.example.com' });
    const res = await app.request(form('/login', { token: TOKEN }));
    assert.match(res.headers.get('set-cookie') ?? '', /Secure/);
  });

  test('a wrong token is a 401 page and no session; no token configured disables login (404)', async () => {
    const { app, sessions } = setup();
    const res = await app.request(form('/login', { token: 'nope' }));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('set-cookie'), null);
    assert.ok((await res.text()).includes('That is not the API token.'));
    assert.equal(sessions.size, 0);
    const off = setup({ apiToken: undefined });
    assert.equal((await off.app.request(form('/login', { token: TOKEN }))).status, 404);
    assert.equal((await off.app.request('/login')).status, 404);
    assert.ok(!(await (await off.app.request('/apps/web')).text()).includes('Log in'));
  });

  test('next is only ever a local path', async () => {
    const { app } = setup();
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const res = await app.request(form('/login', { token: TOKEN, next }));
      assert.equal(res.headers.get('location'), '/?done=login', next);
    }
  });

  test('log out ends the session on the server', async () => {
    const { app, sessions } = setup();
    const { cookie, csrf } = await login(app);
    const res = await app.request(form('/logout', { csrf }, { cookie }));
    assert.equal(res.status, 303);
    assert.equal(sessions.size, 0);
    assert.ok(!(await (await app.request(`${ORIGIN}/apps/web`, { headers: { cookie } })).text()).includes('Sync now'));
  });
});

describe('actions', () => {
  test('Sync now with the session and its CSRF token requests a sync and redirects to the app page', async () => {
    const { app, view } = setup();
    const { cookie, csrf } = await login(app);
    const res = await app.request(form('/apps/web/sync', { csrf }, { cookie }));
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/apps/web?done=sync');
    assert.deepEqual(view.syncRequests, [{ name: 'web', reason: 'ui sync' }]);
  });

  test('without a session, without or with a wrong CSRF token, or from another origin: 403 and no sync', async () => {
    const { app, view } = setup();
    const { cookie, csrf } = await login(app);
    const refused = [
      form('/apps/web/sync', { csrf }),
      form('/apps/web/sync', {}, { cookie }),
      form('/apps/web/sync', { csrf: `${csrf.slice(1)}x` }, { cookie }),
      form('/apps/web/sync', { csrf }, { cookie, origin: 'https://evil.example' }),
      form('/apps/web/refresh', { csrf: '' }, { cookie }),
    ];
    for (const req of refused) {
      const res = await app.request(req);
      assert.equal(res.status, 403, req.url);
    }
    assert.deepEqual(view.syncRequests, []);
  });

  test('an expired session is refused', async () => {
    let now = 0;
    const sessions = new SessionStore({ now: () => now, ttlMs: 1000 });
    const { app, view } = setup({ sessions });
    const { cookie, csrf } = await login(app);
    now = 1000;
    assert.equal((await app.request(form('/apps/web/sync', { csrf }, { cookie }))).status, 403);
    assert.deepEqual(view.syncRequests, []);
  });

  test('Refresh fetches and judges without applying, and the app page shows what a sync would change', async () => {
    const { app, view } = setup();
    view.inspections.set('web', {
      revision: 'abcdef0123456789abcdef0123456789abcdef01',
      sync: 'OutOfSync',
      health: { status: 'Healthy', message: 'all healthy' },
      objects: [
        {
          desired: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'web' } },
          subject: 'ConfigMap/web/settings',
          sync: 'OutOfSync',
          health: { status: 'Healthy', message: 'ok' },
          diff: '-a\n+b\n',
        },
      ],
    });
    const { cookie, csrf } = await login(app);
    const res = await app.request(form('/apps/web/refresh', { csrf }, { cookie }));
    assert.equal(res.status, 303);
    assert.deepEqual(view.syncRequests, [], 'a refresh never syncs');
    const page = await (await app.request(`${ORIGIN}/apps/web?done=refresh`)).text();
    assert.ok(page.includes('id="refresh-result"'));
    assert.ok(page.includes('a sync would change <span class="mono">ConfigMap/web/settings</span>'));
    assert.ok(page.includes('nothing was applied'));
    assert.ok(page.includes('<summary>What would change (live → desired)</summary><pre class="diff">'));
    assert.ok(page.includes('<span class="add">+b</span>'));
  });

  test('the Roll back link opens the repo rollback workflow on GitHub', async () => {
    const { app } = setup({ rollbackWorkflow: 'rollback.yml' });
    const page = await (await app.request('/apps/web')).text();
    assert.ok(page.includes('href="https://github.com/acme/env/actions/workflows/rollback.yml"'));
    assert.ok(page.includes('run it with environment <code>prod-eu</code>'));
  });
});

describe('overview', () => {
  /** The app names in the overview's table, in order. */
  const names = (page: string) => [...page.matchAll(/<a href="\/apps\/([^"]+)"><strong>/g)].map((m) => m[1]);

  test('counts at the top; sync and health filters narrow the table and the counts link to them', async () => {
    const { app } = setup();
    const page = await (await app.request('/')).text();
    assert.deepEqual(names(page), ['web', 'billing', 'batch', 'worker']);
    assert.ok(page.includes('<a href="/" aria-current="true"><strong>4</strong> apps</a>'));
    assert.ok(page.includes('<a href="/?sync=Synced"><strong>2</strong> Synced</a>'));
    assert.ok(page.includes('<a href="/?sync=OutOfSync"><strong>1</strong> OutOfSync</a>'));
    assert.ok(page.includes('<a href="/?health=Degraded"><strong>1</strong> Degraded</a>'));
    assert.ok(page.includes('<a href="/?sync=Unknown"><strong>1</strong> sync Unknown</a>'));
    assert.ok(page.includes('<a href="/?health=Unknown"><strong>1</strong> health Unknown</a>'));
    assert.deepEqual(names(await (await app.request('/?sync=Synced')).text()), ['billing', 'batch']);
    assert.deepEqual(names(await (await app.request('/?health=Degraded')).text()), ['batch']);
    assert.deepEqual(names(await (await app.request('/?sync=Synced&health=Healthy')).text()), ['billing']);
    const none = await (await app.request('/?sync=Unknown&health=Healthy')).text();
    assert.deepEqual(names(none), []);
    assert.ok(none.includes('No app matches these filters.'));
  });

  test('a project filter reads the optional project field of app views (default when absent)', async () => {
    const view = fixtureAgentView();
    const apps = view.apps();
    Object.assign(apps[0]!, { project: 'team-a' });
    Object.assign(apps[3]!, { project: 'team-a' });
    const app = createServer(view, { now: () => FIXTURE_NOW });
    const page = await (await app.request('/?project=team-a')).text();
    assert.deepEqual(names(page), ['web', 'worker']);
    assert.ok(page.includes('<option value="team-a" selected>team-a</option>'));
    assert.ok(page.includes('<a href="/?project=team-a" aria-current="true"><strong>2</strong> apps</a>'));
    assert.deepEqual(names(await (await app.request('/?project=default')).text()), ['billing', 'batch']);
  });

  test('an unknown filter value is a 400 naming it, and the table is not filtered by it', async () => {
    const { app } = setup();
    const res = await app.request('/?sync=Broken&health=<b>');
    assert.equal(res.status, 400);
    const page = await res.text();
    assert.ok(page.includes('sync &quot;Broken&quot; is not one of Synced, OutOfSync, Unknown'));
    assert.ok(page.includes('health &quot;&lt;b&gt;&quot; is not one of'));
    assert.deepEqual(names(page), ['web', 'billing', 'batch', 'worker']);
  });
});

describe('login throttle', () => {
  test('after 10 failed logins in a minute even the right token waits (429 with retry-after); then it works', async () => {
    let now = 0;
    const { app, sessions } = setup({ loginThrottle: new LoginThrottle(10, 60_000, () => now) });
    for (let i = 0; i < 10; i++) assert.equal((await app.request(form('/login', { token: `guess-${i}` }))).status, 401);
    const refused = await app.request(form('/login', { token: TOKEN }));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '60');
    assert.equal(refused.headers.get('set-cookie'), null);
    assert.equal(sessions.size, 0);
    now = 60_000;
    assert.equal((await app.request(form('/login', { token: TOKEN }))).status, 303);
  });
});

describe('views that know sync policies', () => {
  test('Sync now is a manual sync by `ui`; a refusal (409) is shown and nothing else is requested', async () => {
    const view = fixtureAgentView();
    const asked: [string, string][] = [];
    const manual = {
      requestManualSync(name: string, by: string) {
        asked.push([name, by]);
        return name === 'web'
          ? ({ accepted: false, status: 409, error: 'sync window deny until 22:00 UTC' } as const)
          : ({ accepted: true } as const);
      },
    };
    Object.assign(view, manual);
    const app = createServer(view, { now: () => FIXTURE_NOW, onError: () => {}, apiToken: TOKEN });
    const { cookie, csrf } = await login(app);
    const refused = await app.request(form('/apps/web/sync', { csrf }, { cookie }));
    assert.equal(refused.status, 409);
    assert.ok((await refused.text()).includes('sync window deny until 22:00 UTC'));
    const ok = await app.request(form('/apps/billing/sync', { csrf }, { cookie }));
    assert.equal(ok.status, 303);
    assert.deepEqual(asked, [
      ['web', 'ui'],
      ['billing', 'ui'],
    ]);
    assert.deepEqual(view.syncRequests, [], 'no plain sync request besides the manual one');
  });

  test('the project filter also reads policy.project', async () => {
    const view = fixtureAgentView();
    Object.assign(view.apps()[1]!, { policy: { project: 'team-b' } });
    const app = createServer(view, { now: () => FIXTURE_NOW });
    const page = await (await app.request('/?project=team-b')).text();
    assert.deepEqual(
      [...page.matchAll(/<a href="\/apps\/([^"]+)"><strong>/g)].map((m) => m[1]),
      ['billing'],
    );
  });
});

test('a form body over 16 KiB is refused (413) before it is read, also on the open login form', async () => {
  const { app, sessions } = setup();
  const res = await app.request(form('/login', { token: TOKEN, pad: 'x'.repeat(17 * 1024) }));
  assert.equal(res.status, 413);
  assert.equal(sessions.size, 0);
});
