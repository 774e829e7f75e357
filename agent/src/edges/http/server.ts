// The agent's HTTP server: probes, Prometheus metrics, the GitHub push webhook, a small JSON API and the
// status page. It sees the running agent only through `AgentView`, so tests drive it with
// `app.request()` and an in-memory view, and the runtime serves the same app with @hono/node-server.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { type Context, Hono } from 'hono';
import { describeError } from '../../../../shared/src/errors.ts';
import { isRecord } from '../../../../shared/src/is-record.ts';
import type { AgentView, AppView } from '../../core/agent-view.ts';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../../core/metrics-text.ts';
import { type DiffState, renderAppPage, renderIndexPage, renderNotFoundPage } from '../../core/status-page.ts';

/** Options of `createServer`. */
export interface ServerOptions {
  /** Secret of the GitHub webhook; without one `/webhook/github` answers 404 (webhook disabled). */
  webhookSecret?: string;
  /** Bearer token for `POST /api/apps/:name/sync`; without one that route answers 404 (disabled). */
  apiToken?: string;
  /** External URL of this server (e.g. https://tether.prod.example.com); adds `url` to the API's apps. */
  publicUrl?: string;
  /** Largest webhook body accepted; GitHub caps payloads at 25 MB but a push is far smaller. */
  maxBodyBytes: number;
  /** Clock for the status page's relative times. */
  now: () => Date;
  /** Seconds between the status page's automatic reloads; 0 = never. */
  refreshSeconds: number;
  /** Called with unexpected errors before a 500 is answered. */
  onError: (err: unknown) => void;
}

/** Defaults of `createServer`: webhook and sync API disabled, 1 MB body limit, real clock, errors to stderr. */
export function defaultServerOptions(): ServerOptions {
  return {
    maxBodyBytes: 1_048_576,
    now: () => new Date(),
    refreshSeconds: 30,
    onError: (err) => console.error(`tether server: ${describeError(err)}`),
  };
}

/** The strictest policy the status page works under: inline styles only, nothing loaded, no scripts. */
const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * Equal-time comparison of a secret with what a client sent: both are hashed first, so neither the content nor the
 * length of the secret leaks through timing.
 */
function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Checks GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. */
function validSignature(header: string, body: Uint8Array, secret: string): boolean {
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(Buffer.from(match[1]!.toLowerCase(), 'hex'), expected);
}

/**
 * Reads a request body, refusing it as soon as it is larger than `max` bytes: Content-Length is checked first, then
 * the stream is counted, so a lying or absent Content-Length never makes us buffer more than the limit.
 */
async function readBodyLimited(req: Request, max: number): Promise<Buffer | 'too-large'> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > max) return 'too-large';
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return 'too-large';
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** A webhook body as JSON; GitHub sends `payload=<json>` when the hook's content type is form-encoded. */
function parsePayload(body: Buffer, contentType: string | undefined): unknown {
  const text = body.toString('utf8');
  if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new SyntaxError('form body without a payload field');
    return JSON.parse(payload);
  }
  return JSON.parse(text);
}

/** The fields of a push event Tether uses; undefined when the payload lacks them. */
function pushFields(payload: unknown): { repo: string; ref: string; after: string } | undefined {
  if (!isRecord(payload) || !isRecord(payload['repository'])) return undefined;
  const repo = payload['repository']['full_name'];
  const { ref, after } = payload;
  if (typeof repo !== 'string' || typeof ref !== 'string') return undefined;
  return { repo, ref, after: typeof after === 'string' ? after : '' };
}

/** The Hono app of the agent's HTTP server; `options` default to `defaultServerOptions()`. */
export function createServer(view: AgentView, options: Partial<ServerOptions> = {}): Hono {
  const opts: ServerOptions = { ...defaultServerOptions(), ...stripUndefined(options) };
  // An empty secret or token would make every request valid: treat it as not configured.
  const webhookSecret = opts.webhookSecret || undefined;
  const apiToken = opts.apiToken || undefined;
  const publicUrl = opts.publicUrl?.replace(/\/+$/, '');
  const pageOptions = () => ({ now: opts.now(), refreshSeconds: opts.refreshSeconds });
  const app = new Hono();

  app.onError((err, c) => {
    opts.onError(err);
    return c.json({ error: 'internal error' }, 500);
  });

  const withUrl = (a: AppView) => (publicUrl ? { ...a, url: `${publicUrl}/apps/${encodeURIComponent(a.name)}` } : a);

  /** The diff of an OutOfSync app; the dry-run behind it can fail without failing the page. */
  async function diffOf(a: AppView): Promise<DiffState> {
    if (a.state.sync !== 'OutOfSync') return undefined;
    try {
      return { diff: await view.diff(a.name) };
    } catch (err) {
      return { error: describeError(err) };
    }
  }

  const page = (c: Context, body: string, status: 200 | 404 = 200) => {
    for (const [k, v] of Object.entries(PAGE_SECURITY_HEADERS)) c.header(k, v);
    return c.html(body, status);
  };

  // Probes. Liveness says only that the process serves HTTP: restarting the agent does not fix an unreachable
  // cluster, so that belongs to readiness.
  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => {
    const r = view.ready();
    return r.ready ? c.text('ok') : c.text(r.reason ?? 'not ready', 503);
  });

  app.get('/metrics', (c) => {
    c.header('content-type', METRICS_CONTENT_TYPE);
    return c.body(renderMetrics(view.cluster, view.apps(), view.metrics));
  });

  // GitHub push webhook: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
  app.post('/webhook/github', async (c) => {
    if (!webhookSecret) return c.json({ error: 'webhook disabled: no webhook secret configured' }, 404);
    const signature = c.req.header('x-hub-signature-256');
    if (!signature) return c.json({ error: 'missing X-Hub-Signature-256' }, 401);
    const body = await readBodyLimited(c.req.raw, opts.maxBodyBytes);
    if (body === 'too-large') return c.json({ error: `body larger than ${opts.maxBodyBytes} bytes` }, 413);
    if (!validSignature(signature, body, webhookSecret)) return c.json({ error: 'bad signature' }, 401);

    const event = c.req.header('x-github-event');
    if (!event) return c.json({ error: 'missing X-GitHub-Event' }, 400);
    if (event === 'ping') return c.json({ ok: true });
    if (event !== 'push') return c.json({ ignored: event }, 202);
    let payload: unknown;
    try {
      payload = parsePayload(body, c.req.header('content-type'));
    } catch {
      return c.json({ error: 'body is not valid JSON' }, 400);
    }
    const push = pushFields(payload);
    if (!push) return c.json({ error: 'push event without repository.full_name and ref' }, 400);
    const reason = `webhook push ${push.after.slice(0, 7)}`.trimEnd();
    const triggered = view.appsForPush(push.repo, push.ref).filter((name) => view.requestSync(name, reason));
    return c.json({ triggered }, 202);
  });

  app.get('/api/apps', (c) => c.json({ cluster: view.cluster, apps: view.apps().map(withUrl) }));
  app.get('/api/apps/:name', async (c) => {
    const a = view.app(c.req.param('name'));
    if (!a) return c.json({ error: `no app named ${c.req.param('name')}` }, 404);
    const d = await diffOf(a);
    const extra = d === undefined ? {} : 'diff' in d ? { diff: d.diff } : { diffError: d.error };
    return c.json({ ...withUrl(a), ...extra });
  });
  app.post('/api/apps/:name/sync', (c) => {
    if (!apiToken) return c.json({ error: 'sync API disabled: no API token configured' }, 404);
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!auth || !secretEquals(auth[1]!, apiToken)) {
      c.header('www-authenticate', 'Bearer realm="tether"');
      return c.json({ error: 'missing or wrong bearer token' }, 401);
    }
    const name = c.req.param('name');
    if (!view.requestSync(name, 'api request')) return c.json({ error: `no app named ${name}` }, 404);
    return c.json({ app: name, sync: 'requested' }, 202);
  });

  app.get('/', (c) => page(c, renderIndexPage(view.cluster, view.apps(), pageOptions())));
  app.get('/apps/:name', async (c) => {
    const name = c.req.param('name');
    const a = view.app(name);
    if (!a) return page(c, renderNotFoundPage(view.cluster, `No app named ${name}.`, pageOptions()), 404);
    return page(c, renderAppPage(view.cluster, a, await diffOf(a), pageOptions()));
  });

  return app;
}

/** `{...defaults, ...options}` must not let an explicit `undefined` erase a default. */
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
