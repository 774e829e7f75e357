// The agent's HTTP server through `app.request()`, with an in-memory AgentView built from captured
// objects. Every refusal is checked for what it must not do as well as for its status code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentView, AppView } from '../src/core/agent-view.ts';
import { escapeLabelValue } from '../src/core/metrics-text.ts';
import { escapeHtml } from '../src/core/status-page.ts';
import { createServer } from '../src/edges/http/server.ts';
import {
  FIXTURE_NOW,
  fixtureAgentView,
  fixtureApps,
  fixtureMetrics,
  InMemoryAgentView,
  REVISIONS,
} from './fixtures/agent-view.ts';
import { pushBody, signature, webhook } from './fixtures/webhooks.ts';

const SECRET = 'whsec-correct-horse-battery-staple';
const TOKEN = 'tether-api-7c1d2b9e5f';

function setup(options: Parameters<typeof createServer>[1] = {}) {
  const view = fixtureAgentView();
  const app = createServer(view, { now: () => FIXTURE_NOW, onError: () => {}, ...options });
  return { view, app };
}

const sign = (body: string | Buffer, secret = SECRET) => signature(body, secret);

describe('probes', () => {
  test('GET /healthz answers 200 ok', async () => {
    const { app } = setup();
    const res = await app.request('/healthz');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
  });

  test('GET /readyz follows view.ready() and names the reason when not ready', async () => {
    const { app, view } = setup();
    assert.equal((await app.request('/readyz')).status, 200);
    view.readiness = { ready: false, reason: 'first sync of web not attempted yet' };
    const res = await app.request('/readyz');
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'first sync of web not attempted yet');
  });
});

describe('GET /metrics', () => {
  test('is Prometheus text format 0.0.4 with HELP and TYPE for every family', async () => {
    const { app } = setup();
    const res = await app.request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.ok(text.endsWith('\n'));
    const families = {
      tether_sync_duration_seconds: 'summary',
      tether_objects_applied_total: 'counter',
      tether_objects_pruned_total: 'counter',
      tether_drift_heals_total: 'counter',
      tether_git_fetch_duration_seconds: 'summary',
      tether_statuses_posted_total: 'counter',
      tether_statuses_failed_total: 'counter',
      tether_app_sync_status: 'gauge',
      tether_app_health_status: 'gauge',
    };
    for (const [name, type] of Object.entries(families)) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
    }
    // Every sample line is `name{labels} value` with a number a Prometheus parser accepts.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      assert.match(line, /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/, line);
    }
  });

  test('carries the values of view.metrics, 0 for apps without a count', async () => {
    const { app } = setup();
    const text = await (await app.request('/metrics')).text();
    const lines = new Set(text.split('\n'));
    for (const expected of [
      'tether_sync_duration_seconds_sum{app="web"} 27.5',
      'tether_sync_duration_seconds_count{app="web"} 12',
      'tether_sync_duration_seconds_count{app="batch"} 3',
      'tether_objects_applied_total{app="web"} 14',
      'tether_objects_applied_total{app="worker"} 0',
      'tether_objects_pruned_total{app="web"} 1',
      'tether_drift_heals_total{app="web"} 2',
      'tether_git_fetch_duration_seconds_sum 12.25',
      'tether_git_fetch_duration_seconds_count 50',
      'tether_statuses_posted_total 47',
      'tether_statuses_failed_total 1',
    ]) {
      assert.ok(lines.has(expected), `missing: ${expected}`);
    }
  });

  test('status gauges are 1 for the current status and 0 for the others', async () => {
    const { app } = setup();
    const text = await (await app.request('/metrics')).text();
    const value = (line: string) => {
      const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
      assert.ok(hit, `missing: ${line}`);
      return hit.slice(line.length + 1);
    };
    assert.equal(value('tether_app_sync_status{app="web",status="OutOfSync"}'), '1');
    assert.equal(value('tether_app_sync_status{app="web",status="Synced"}'), '0');
    assert.equal(value('tether_app_sync_status{app="web",status="Unknown"}'), '0');
    assert.equal(value('tether_app_sync_status{app="billing",status="Synced"}'), '1');
    assert.equal(value('tether_app_health_status{app="web",status="Progressing"}'), '1');
    assert.equal(value('tether_app_health_status{app="batch",status="Degraded"}'), '1');
    assert.equal(value('tether_app_health_status{app="batch",status="Healthy"}'), '0');
    assert.equal(value('tether_app_health_status{app="worker",status="Unknown"}'), '1');
    // Exactly one status is 1 per app.
    for (const a of ['web', 'billing', 'batch', 'worker']) {
      const ones = text
        .split('\n')
        .filter((l) => l.startsWith(`tether_app_health_status{app="${a}",`) && l.endsWith(' 1'));
      assert.equal(ones.length, 1, a);
    }
  });

  test('label values are escaped', async () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    const [web] = fixtureApps();
    const odd = 'we"ird\\app\nname';
    const view = new InMemoryAgentView('prod-eu', [{ ...web!, name: odd }], fixtureMetrics());
    view.metrics.objectsApplied.set(odd, 3);
    const text = await (await createServer(view).request('/metrics')).text();
    assert.ok(text.includes('tether_objects_applied_total{app="we\\"ird\\\\app\\nname"} 3'), text);
    assert.ok(!text.includes(odd));
  });
});

describe('POST /webhook/github', () => {
  test('without a configured secret the webhook is disabled: 404, nothing triggered', async () => {
    const { app, view } = setup();
    const body = pushBody();
    const res = await app.request(webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) }));
    assert.equal(res.status, 404);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a missing signature is refused with 401 and triggers nothing', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const res = await app.request(webhook(pushBody(), { 'x-github-event': 'push' }));
    assert.equal(res.status, 401);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a signature made with another secret is refused with 401 and triggers nothing', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = pushBody();
    const res = await app.request(
      webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body, 'not-the-secret') }),
    );
    assert.equal(res.status, 401);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a signature of another body (a tampered payload) is refused with 401', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const signed = pushBody('acme/other');
    const sent = pushBody('acme/env');
    for (const signature of [sign(signed), 'sha1=' + sign(sent).slice(7), sign(sent).slice(0, 20), 'sha256=zz']) {
      const res = await app.request(webhook(sent, { 'x-github-event': 'push', 'x-hub-signature-256': signature }));
      assert.equal(res.status, 401, signature);
    }
    assert.deepEqual(view.syncRequests, []);
  });

  test('a signed push triggers a sync of every matching app and answers 202 with their names', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = pushBody('acme/env', 'refs/heads/main', 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    const res = await app.request(webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) }));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { triggered: ['web', 'billing'] });
    assert.deepEqual(view.syncRequests, [
      { name: 'web', reason: 'webhook push a1b2c3d' },
      { name: 'billing', reason: 'webhook push a1b2c3d' },
    ]);
  });

  test('a signed push to a ref no app follows triggers nothing', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = pushBody('acme/env', 'refs/heads/feature');
    const res = await app.request(webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) }));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { triggered: [] });
    assert.deepEqual(view.syncRequests, []);
  });

  test('a form-encoded push (payload=<json>) is accepted like a JSON one', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = new URLSearchParams({ payload: pushBody('acme/worker-env') }).toString();
    const res = await app.request(
      webhook(body, {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'push',
        'x-hub-signature-256': sign(body),
      }),
    );
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { triggered: ['worker'] });
    assert.equal(view.syncRequests.length, 1);
  });

  test('ping answers 200; other events 202 {ignored}; neither triggers a sync', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const r1 = await app.request(webhook(ping, { 'x-github-event': 'ping', 'x-hub-signature-256': sign(ping) }));
    assert.equal(r1.status, 200);
    const issue = JSON.stringify({ action: 'opened' });
    const r2 = await app.request(webhook(issue, { 'x-github-event': 'issues', 'x-hub-signature-256': sign(issue) }));
    assert.equal(r2.status, 202);
    assert.deepEqual(await r2.json(), { ignored: 'issues' });
    assert.deepEqual(view.syncRequests, []);
  });

  test('pull_request opened, synchronize, reopened and closed reach the planner; other actions are ignored', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const pr = (action: string, state = 'open') =>
      JSON.stringify({
        action,
        number: 7,
        pull_request: {
          number: 7,
          state,
          head: { sha: 'b'.repeat(40), ref: 'bump', repo: { full_name: 'acme/env' } },
          base: { sha: 'c'.repeat(40), ref: 'main', repo: { full_name: 'acme/env' } },
        },
        repository: { full_name: 'acme/env' },
      });
    const send = (body: string, signature = sign(body)) =>
      app.request(webhook(body, { 'x-github-event': 'pull_request', 'x-hub-signature-256': signature }));

    const opened = await send(pr('opened'));
    assert.equal(opened.status, 202);
    assert.deepEqual(await opened.json(), { planning: ['web', 'billing'] });
    for (const action of ['synchronize', 'reopened']) assert.equal((await send(pr(action))).status, 202);
    await send(pr('closed', 'closed'));
    const labeled = await send(pr('labeled'));
    assert.deepEqual(await labeled.json(), { ignored: 'pull_request labeled' });
    assert.deepEqual(
      view.planRequests.map((p) => [p.number, p.state, p.headRef, p.baseRef, p.fork]),
      [
        [7, 'open', 'bump', 'main', false],
        [7, 'open', 'bump', 'main', false],
        [7, 'open', 'bump', 'main', false],
        [7, 'closed', 'bump', 'main', false],
      ],
    );
    // Signed like a push; a forged one plans nothing, and neither kind syncs.
    assert.equal((await send(pr('opened'), sign(pr('opened'), 'not-the-secret'))).status, 401);
    const bad = JSON.stringify({ action: 'opened', pull_request: { number: 7 } });
    assert.equal((await send(bad)).status, 400);
    assert.equal(view.planRequests.length, 4);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a redelivered pull_request (same X-GitHub-Delivery) plans nothing twice', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = JSON.stringify({
      action: 'synchronize',
      pull_request: {
        number: 9,
        state: 'open',
        head: { sha: 'e'.repeat(40), ref: 'bump', repo: { full_name: 'acme/env' } },
        base: { sha: 'c'.repeat(40), ref: 'main', repo: { full_name: 'acme/env' } },
      },
    });
    const headers = {
      'x-github-event': 'pull_request',
      'x-hub-signature-256': sign(body),
      'x-github-delivery': 'delivery-pr-1',
    };
    assert.equal((await app.request(webhook(body, headers))).status, 202);
    const again = await app.request(webhook(body, headers));
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { duplicate: 'delivery-pr-1' });
    assert.equal(view.planRequests.length, 1);
  });

  test('a pull request from a fork is marked as one', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = JSON.stringify({
      action: 'opened',
      pull_request: {
        number: 8,
        state: 'open',
        head: { sha: 'd'.repeat(40), ref: 'main', repo: { full_name: 'mallory/env' } },
        base: { sha: 'c'.repeat(40), ref: 'main', repo: { full_name: 'acme/env' } },
      },
    });
    const res = await app.request(
      webhook(body, { 'x-github-event': 'pull_request', 'x-hub-signature-256': sign(body) }),
    );
    assert.equal(res.status, 202);
    assert.equal(view.planRequests[0]?.fork, true);
  });

  test('a signed body that is not JSON, or a push without repository, is a 400', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    for (const body of ['{"ref": "refs/heads/main",', JSON.stringify({ ref: 'refs/heads/main' })]) {
      const res = await app.request(webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) }));
      assert.equal(res.status, 400, body);
    }
    assert.deepEqual(view.syncRequests, []);
  });

  test('a body over the limit is refused with 413 from its Content-Length, before any of it is read', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled += 1;
          controller.enqueue(new Uint8Array(1024));
        },
        // No eager pull: a chunk is produced only when the server reads.
      },
      { highWaterMark: 0 },
    );
    const req = new Request('http://agent/webhook/github', {
      method: 'POST',
      headers: { 'x-github-event': 'push', 'x-hub-signature-256': sign('whatever'), 'content-length': '1048577' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const res = await app.request(req);
    assert.equal(res.status, 413);
    assert.equal(pulled, 0);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a 1 MB + 1 byte JSON body is refused with 413 by default', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = JSON.stringify({ ref: 'refs/heads/main', pad: '' });
    const padded = body.replace('"pad":""', `"pad":"${'x'.repeat(1_048_577 - Buffer.byteLength(body))}"`);
    assert.equal(Buffer.byteLength(padded), 1_048_577);
    const res = await app.request(webhook(padded, { 'x-github-event': 'push', 'x-hub-signature-256': sign(padded) }));
    assert.equal(res.status, 413);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a streamed body without Content-Length is cut off at the limit, not buffered whole', async () => {
    const { app, view } = setup({ webhookSecret: SECRET, maxBodyBytes: 64 * 1024 });
    const chunk = new Uint8Array(16 * 1024).fill(0x20);
    let pulled = 0;
    // 10 MB on offer; the server must stop pulling shortly after 64 KiB.
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled >= 10 * 1024 * 1024) return controller.close();
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    const req = new Request('http://agent/webhook/github', {
      method: 'POST',
      headers: { 'x-github-event': 'push', 'x-hub-signature-256': sign('whatever') },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(req.headers.get('content-length'), null);
    const res = await app.request(req);
    assert.equal(res.status, 413);
    assert.ok(pulled <= 64 * 1024 + chunk.byteLength, `pulled ${pulled} bytes`);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a body exactly at the limit is accepted', async () => {
    const body = pushBody();
    const { app } = setup({ webhookSecret: SECRET, maxBodyBytes: Buffer.byteLength(body) });
    const res = await app.request(webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) }));
    assert.equal(res.status, 202);
  });
});

describe('redeliveries and secrets', () => {
  test('a body handled before is answered 200 without a second sync; a new push syncs again', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const send = (body: string, id: string) =>
      app.request(
        webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body), 'x-github-delivery': id }),
      );
    const first = pushBody();
    assert.equal((await send(first, 'd-1')).status, 202);
    const replay = await send(first, 'd-1');
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), { duplicate: 'd-1' });
    assert.equal(view.syncRequests.length, 2, 'the replay triggered nothing (two apps follow acme/env main)');
    assert.equal((await send(pushBody('acme/env', 'refs/heads/main', 'b'.repeat(40)), 'd-2')).status, 202);
    assert.equal(view.syncRequests.length, 4);
  });

  test('a captured body replayed under a new X-GitHub-Delivery (the header is not signed) syncs nothing', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = pushBody();
    const send = (headers: Record<string, string>) =>
      app.request(webhook(body, { 'x-hub-signature-256': sign(body), ...headers }));
    assert.equal((await send({ 'x-github-event': 'push', 'x-github-delivery': 'd-1' })).status, 202);
    const fresh = await send({ 'x-github-event': 'push', 'x-github-delivery': 'd-forged-2' });
    assert.equal(fresh.status, 200);
    assert.deepEqual(await fresh.json(), { duplicate: 'd-forged-2' });
    const noId = await send({ 'x-github-event': 'push' });
    assert.equal(noId.status, 200, 'without a delivery id it is the same body all the same');
    assert.equal(view.syncRequests.length, 2, 'only the first delivery woke the two apps');
  });

  test('a forged delivery (bad signature) is not remembered: the real one still syncs', async () => {
    const { app, view } = setup({ webhookSecret: SECRET });
    const body = pushBody();
    const forged = await app.request(
      webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body, 'x'), 'x-github-delivery': 'd-9' }),
    );
    assert.equal(forged.status, 401);
    const real = await app.request(
      webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body), 'x-github-delivery': 'd-9' }),
    );
    assert.equal(real.status, 202);
    assert.equal(view.syncRequests.length, 2);
  });

  test('the remembered set is bounded: the oldest body is forgotten first', async () => {
    const { app, view } = setup({ webhookSecret: SECRET, maxDeliveries: 2 });
    const bodies = new Map(['a', 'b', 'c'].map((c) => [c, pushBody('acme/env', 'refs/heads/main', c.repeat(40))]));
    const send = (c: string) => {
      const body = bodies.get(c) ?? '';
      return app.request(
        webhook(body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body), 'x-github-delivery': c }),
      );
    };
    for (const c of ['a', 'b', 'c']) await send(c);
    assert.equal((await send('c')).status, 200);
    assert.equal((await send('a')).status, 202, 'a was forgotten when c arrived');
    assert.equal(view.syncRequests.length, 8);
  });

  test('credentials in a URL are never served by the API or the page', async () => {
    const secret = 'ghs_SuperSecretToken123';
    const apps = fixtureApps().map((a) => ({
      ...a,
      repo: `https://x-access-token:${secret}@github.com/acme/env.git`,
      state: {
        ...a.state,
        ...(a.state.lastSync
          ? {
              lastSync: {
                ...a.state.lastSync,
                error: { stage: 'fetch' as const, message: `clone https://u:${secret}@github.com/acme/env.git: 401` },
              },
            }
          : {}),
      },
    }));
    const view = new InMemoryAgentView('prod-eu', apps, fixtureMetrics());
    const app = createServer(view, { now: () => FIXTURE_NOW, onError: () => {} });
    for (const path of ['/api/apps', `/api/apps/${apps[0]!.name}`, '/', `/apps/${apps[0]!.name}`]) {
      const res = await app.request(path);
      assert.equal(res.status, 200, path);
      const text = await res.text();
      assert.ok(text.includes('github.com/acme/env.git'), `${path} still names the repository`);
      assert.doesNotMatch(text, new RegExp(secret), `${path} serves the token`);
    }
  });
});

describe('JSON API', () => {
  test('GET /api/apps lists every app in configuration order', async () => {
    const { app } = setup();
    const res = await app.request('/api/apps');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { cluster: string; apps: AppView[] };
    assert.equal(body.cluster, 'prod-eu');
    assert.deepEqual(
      body.apps.map((a) => a.name),
      ['web', 'billing', 'batch', 'worker'],
    );
    assert.equal(body.apps[0]!.state.revision, REVISIONS.web);
    assert.equal(body.apps[2]!.state.health.status, 'Degraded');
  });

  test('with publicUrl, every app carries the URL of its status page', async () => {
    const { app } = setup({ publicUrl: 'https://tether.prod.example.com/' });
    const body = (await (await app.request('/api/apps')).json()) as { apps: (AppView & { url: string })[] };
    assert.equal(body.apps[0]!.url, 'https://tether.prod.example.com/apps/web');
  });

  test('GET /api/apps/:name of an OutOfSync app includes the diff', async () => {
    const { app, view } = setup();
    const res = await app.request('/api/apps/web');
    assert.equal(res.status, 200);
    const body = (await res.json()) as AppView & { diff: string };
    assert.equal(body.name, 'web');
    assert.equal(body.resources.length, 6);
    assert.match(body.diff, /^\+ {8}- image: ghcr\.io\/acme\/api:1\.5\.0$/m);
    assert.deepEqual(view.diffCalls, ['web']);
  });

  test('GET /api/apps/:name of a Synced app has no diff and does not compute one', async () => {
    const { app, view } = setup();
    const body = (await (await app.request('/api/apps/billing')).json()) as Record<string, unknown>;
    assert.equal(body['name'], 'billing');
    assert.ok(!('diff' in body));
    assert.deepEqual(view.diffCalls, []);
  });

  test('a failing diff is reported in diffError, not as a 500', async () => {
    const { app, view } = setup();
    view.diffs.set('web', new Error('kube: dry-run of Deployment/web/api: connection refused'));
    const res = await app.request('/api/apps/web');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['diffError'], 'kube: dry-run of Deployment/web/api: connection refused');
  });

  test('GET /api/apps/:name of an unknown app is a 404', async () => {
    const { app } = setup();
    assert.equal((await app.request('/api/apps/nope')).status, 404);
  });
});

describe('POST /api/apps/:name/sync', () => {
  const post = (path: string, auth?: string) =>
    new Request(`http://agent${path}`, { method: 'POST', headers: auth ? { authorization: auth } : {} });

  test('without a configured token the route is disabled: 404, nothing triggered', async () => {
    const { app, view } = setup();
    const res = await app.request(post('/api/apps/web/sync', `Bearer ${TOKEN}`));
    assert.equal(res.status, 404);
    assert.deepEqual(view.syncRequests, []);
  });

  test('a missing or wrong token is a 401 and triggers nothing', async () => {
    const { app, view } = setup({ apiToken: TOKEN });
    for (const auth of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]) {
      const res = await app.request(post('/api/apps/web/sync', auth));
      assert.equal(res.status, 401, String(auth));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="tether"');
    }
    assert.deepEqual(view.syncRequests, []);
  });

  test('the right token requests a sync of the app: 202', async () => {
    const { app, view } = setup({ apiToken: TOKEN });
    const res = await app.request(post('/api/apps/web/sync', `Bearer ${TOKEN}`));
    assert.equal(res.status, 202);
    assert.deepEqual(view.syncRequests, [{ name: 'web', reason: 'api request' }]);
  });

  test('an unknown app is a 404 even with the right token', async () => {
    const { app } = setup({ apiToken: TOKEN });
    const res = await app.request(post('/api/apps/nope/sync', `Bearer ${TOKEN}`));
    assert.equal(res.status, 404);
  });
});

/**
 * Scripts in a page that the CSP would not run: the page's own live-refresh script carries this response's nonce,
 * which the CSP lists; anything else (an injected `<script>`) does not.
 */
function foreignScripts(page: string, csp: string): number {
  const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
  assert.ok(nonce, `the CSP allows scripts only by nonce: ${csp}`);
  const tags = [...page.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
  return tags.filter((t) => t !== `<script nonce="${nonce}" data-refresh="30">`).length;
}
describe('manual syncs and projects', () => {
  /** The fixture view with what a real agent adds: manual sync requests (recorded) and projects. */
  function manualSetup() {
    const view = fixtureAgentView();
    const asked: { name: string; by: string }[] = [];
    const extra: Pick<AgentView, 'requestManualSync' | 'projects'> = {
      requestManualSync(name, by) {
        asked.push({ name, by });
        if (!view.app(name)) return { accepted: false, status: 404, error: `no app named ${name}` };
        if (name === 'batch')
          return { accepted: false, status: 409, error: 'manual sync of batch refused: the app is suspended' };
        return { accepted: true };
      },
      projects: () => [
        {
          name: 'team-a',
          origin: 'config',
          sourceRepos: ['https://github.com/acme/*'],
          destinationNamespaces: ['team-a-*'],
          clusterResourceAllowlist: [],
          namespaceResourceDenylist: [],
          prune: true,
          selfHeal: true,
          windows: [],
          apps: ['web'],
        },
      ],
    };
    Object.assign(view, extra);
    const app = createServer(view, { now: () => FIXTURE_NOW, onError: () => {}, apiToken: TOKEN });
    return { view, app, asked };
  }
  const post = (path: string) =>
    new Request(`http://agent${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

  test('the sync API asks for a manual sync recorded as by `api`; 409 and 404 carry the reason', async () => {
    const { app, view, asked } = manualSetup();
    const ok = await app.request(post('/api/apps/web/sync'));
    assert.equal(ok.status, 202);
    assert.deepEqual(await ok.json(), { app: 'web', sync: 'requested', requestedBy: 'api' });
    const refused = await app.request(post('/api/apps/batch/sync'));
    assert.equal(refused.status, 409);
    assert.deepEqual(await refused.json(), { error: 'manual sync of batch refused: the app is suspended' });
    assert.equal((await app.request(post('/api/apps/nope/sync'))).status, 404);
    assert.deepEqual(asked, [
      { name: 'web', by: 'api' },
      { name: 'batch', by: 'api' },
      { name: 'nope', by: 'api' },
    ]);
    // The automated path (webhooks) is not used for a manual request.
    assert.deepEqual(view.syncRequests, []);
  });

  test('a named API token records its name as who asked; the unnamed one records `api`; others are 401', async () => {
    const view = fixtureAgentView();
    const asked: string[] = [];
    Object.assign(view, {
      requestManualSync: (_name: string, by: string) => {
        asked.push(by);
        return { accepted: true };
      },
    });
    const app = createServer(view, {
      now: () => FIXTURE_NOW,
      onError: () => {},
      apiToken: TOKEN,
      apiTokens: [
        { name: 'alice@acme', token: 'alice-token-0123456789' },
        { name: 'release-pipeline', token: 'pipeline-token-0123456789' },
      ],
    });
    const ask = (token: string) =>
      app.request(
        new Request('http://agent/api/apps/web/sync', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        }),
      );
    const r = await ask('alice-token-0123456789');
    assert.equal(r.status, 202);
    assert.equal(((await r.json()) as { requestedBy: string }).requestedBy, 'alice@acme');
    assert.equal((await ask('pipeline-token-0123456789')).status, 202);
    assert.equal((await ask(TOKEN)).status, 202);
    assert.equal((await ask('alice-token-012345678')).status, 401);
    assert.deepEqual(asked, ['alice@acme', 'release-pipeline', 'api']);
    // Named tokens alone enable the route.
    const onlyNamed = createServer(fixtureAgentView(), {
      onError: () => {},
      apiTokens: [{ name: 'bob', token: 'bob-token-0123456789' }],
    });
    const res = await onlyNamed.request(
      new Request('http://agent/api/apps/web/sync', {
        method: 'POST',
        headers: { authorization: 'Bearer bob-token-0123456789' },
      }),
    );
    assert.equal(res.status, 202);
  });

  test('GET /api/projects lists the projects with their apps, and the page groups apps under them', async () => {
    const { app } = manualSetup();
    const body = (await (await app.request('/api/projects')).json()) as {
      cluster: string;
      projects: { name: string; apps: string[] }[];
    };
    assert.equal(body.cluster, 'prod-eu');
    assert.deepEqual(
      body.projects.map((p) => [p.name, p.apps]),
      [['team-a', ['web']]],
    );
    const page = await (await app.request('/')).text();
    assert.match(page, /<h2>Project team-a<\/h2>/);
    // Apps no project lists are still shown.
    assert.match(page, /<h2>Other apps<\/h2>[\s\S]*<strong>billing<\/strong>/);
  });

  test('a view without projects answers an empty list', async () => {
    const { app } = setup();
    assert.deepEqual(await (await app.request('/api/projects')).json(), { cluster: 'prod-eu', projects: [] });
  });
});

describe('status page', () => {
  test('GET / lists every app with coloured sync and health badges, revision link, last sync and error', async () => {
    const { app } = setup();
    const res = await app.request('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    const page = await res.text();
    assert.ok(!/<link|\ssrc=/i.test(page), 'no external assets');
    assert.equal(foreignScripts(page, csp), 0, "no script but the page's own, carrying the CSP nonce");
    for (const name of ['web', 'billing', 'batch', 'worker']) {
      assert.ok(page.includes(`<a href="/apps/${name}"><strong>${name}</strong></a>`), name);
    }
    assert.ok(page.includes('<span class="badge b-warn">OutOfSync</span>'));
    assert.ok(page.includes('<span class="badge b-ok">Synced</span>'));
    assert.ok(page.includes('<span class="badge b-info">Progressing</span>'));
    assert.ok(page.includes('<span class="badge b-bad">Degraded</span>'));
    assert.ok(page.includes(`<a class="mono" href="https://github.com/acme/env/commit/${REVISIONS.web}"`));
    assert.ok(page.includes('>3f9c2a7</a>'));
    // batch has no revisionUrl (not a GitHub repo): the sha is shown, not linked.
    assert.ok(page.includes(`<span class="mono" title="${REVISIONS.batch}">c0ffee1</span>`));
    assert.ok(page.includes('5 min ago'), "relative time of web's last sync (22:44:34 → 22:50)");
    assert.ok(page.includes('2.3 s'));
    assert.ok(page.includes('1 min 5 s'));
    assert.ok(page.includes('fetch failed: git: fetch https://github.com/acme/worker-env.git'));
  });

  test('GET /apps/:name shows resources with health, last sync, last heal and the diff while OutOfSync', async () => {
    const { app } = setup();
    const res = await app.request('/apps/web');
    assert.equal(res.status, 200);
    const page = await res.text();
    for (const r of ['settings', 'data', 'api', 'public', 'nightly']) assert.ok(page.includes(`>${r}</td>`), r);
    assert.ok(page.includes('Deployment/web/api: 1 of 3 replicas updated'));
    assert.ok(page.includes('<span class="badge b-paused">Suspended</span>'));
    assert.ok(page.includes('ConfigMap/web/legacy-flags'));
    assert.ok(page.includes('<span class="badge b-paused">pruned</span>'));
    assert.ok(page.includes('data.LOG_LEVEL changed by kubectl-edit'));
    assert.match(page, /<pre class="diff">[\s\S]*<span class="add">\+ {8}- image: ghcr\.io\/acme\/api:1\.5\.0<\/span>/);
    assert.ok(page.includes('<span class="del">-        - image: ghcr.io/acme/api:1.4.0</span>'));
  });

  test('GET /apps/:name of a Synced app shows no diff and does not compute one', async () => {
    const { app, view } = setup();
    const page = await (await app.request('/apps/billing')).text();
    assert.ok(page.includes('Deployment/billing/api'));
    assert.ok(!page.includes('<pre'));
    assert.deepEqual(view.diffCalls, []);
  });

  test('GET /apps/:name of an unknown app is a 404 page', async () => {
    const { app } = setup();
    const res = await app.request('/apps/nope');
    assert.equal(res.status, 404);
    assert.ok((await res.text()).includes('No app named nope.'));
  });

  test('everything from the cluster or Git is HTML-escaped', async () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const [web] = fixtureApps();
    const evil = '<script>alert(1)</script>';
    const app0: AppView = {
      ...web!,
      revisionUrl: 'javascript:alert(1)',
      resources: [{ ...web!.resources[0]!, name: evil, health: { status: 'Degraded', message: `bad ${evil}` } }],
      state: {
        ...web!.state,
        health: { status: 'Degraded', message: `bad ${evil}` },
        lastSync: { ...web!.state.lastSync!, error: { stage: 'apply', message: evil } },
      },
    };
    const view = new InMemoryAgentView('prod"<eu>', [app0], fixtureMetrics());
    view.diffs.set('web', `+ ${evil}\n`);
    const app = createServer(view, { now: () => FIXTURE_NOW });
    for (const path of ['/', '/apps/web']) {
      const res = await app.request(path);
      const page = await res.text();
      assert.equal(foreignScripts(page, res.headers.get('content-security-policy') ?? ''), 0, path);
      assert.ok(!page.includes('<script>'), path);
      assert.ok(!page.includes('javascript:'), path);
      assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), path);
      assert.ok(page.includes('prod&quot;&lt;eu&gt;'), path);
    }
  });
});

describe('sync waves and hooks on the app page', () => {
  test("each step's timings and outcome are shown, with the object a wave stopped on", async () => {
    const [web] = fixtureApps();
    const app0: AppView = {
      ...web!,
      state: {
        ...web!.state,
        lastSync: {
          ...web!.state.lastSync!,
          waves: [
            { wave: 'prerequisites', objects: 1, applyMs: 40, waitMs: 0, outcome: 'applied' },
            { wave: 1, objects: 2, applyMs: 120, waitMs: 6100, outcome: 'healthy' },
            {
              wave: 2,
              objects: 1,
              applyMs: 30,
              waitMs: 2000,
              outcome: 'degraded',
              subject: 'Deployment/web/api',
              message: 'Deployment/web/api: progress deadline exceeded',
            },
          ],
          hooks: [
            {
              phase: 'PreSync',
              subject: 'Job/web/migrate',
              outcome: 'Succeeded',
              message: 'job complete',
              durationMs: 3200,
              deleted: true,
            },
          ],
        },
      },
    };
    const app = createServer(new InMemoryAgentView('prod-eu', [app0], fixtureMetrics()), { now: () => FIXTURE_NOW });
    const page = await (await app.request('/apps/web')).text();
    assert.ok(page.includes('namespaces and CRDs · 1 object · applied in 40 ms'), page);
    assert.ok(page.includes('wave 1 · 2 objects · applied in 120 ms · healthy after 6.1 s'));
    assert.ok(page.includes('wave 2 · 1 object · applied in 30 ms · degraded after 2.0 s'));
    assert.ok(page.includes('— Deployment/web/api: progress deadline exceeded'));
    assert.match(
      page,
      /PreSync <span class="mono">Job\/web\/migrate<\/span> · <span class="badge [^"]*">Succeeded<\/span> in 3\.2 s · deleted/,
    );
  });
});
