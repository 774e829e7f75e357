// The agent's HTTP server: probes, Prometheus metrics, the GitHub push and pull_request webhooks, a small JSON API and the status
// page. It sees the running agent only through `AgentView`, so tests drive it with `app.request()` and an in-memory
// view, and the runtime serves the same app with @hono/node-server. Limits, auth and headers are hono's own
// middleware; the webhook signature is checked by @octokit/webhooks-methods.
import { createHash, timingSafeEqual } from 'node:crypto';
import { verify } from '@octokit/webhooks-methods';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { describeError } from '../../../../shared/src/errors.ts';
import { isRecord } from '../../../../shared/src/is-record.ts';
import { redactUrls } from '../../../../shared/src/redact.ts';
import type { AgentView, AppView } from '../../core/agent-view.ts';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../../core/metrics-text.ts';
import { pullRequestFields } from '../../core/pr-plan.ts';
import { type LoginThrottle, SessionStore } from './sessions.ts';
import { diffOf, registerUiRoutes } from './ui-routes.ts';

/** Options of `createServer`. */
export interface ServerOptions {
  /** Secret of the GitHub webhook; without one `/webhook/github` answers 404 (webhook disabled). */
  webhookSecret?: string;
  /** Bearer token for `POST /api/apps/:name/sync`; without one that route answers 404 (disabled). */
  apiToken?: string;
  /**
   * More bearer tokens for the sync API, each with the name a manual sync made with it is recorded under (a person
   * or a pipeline); requests with `apiToken` are recorded as `api`.
   */
  apiTokens?: { name: string; token: string }[];
  /** External URL of this server (e.g. https://tether.prod.example.com); adds `url` to the API's apps. */
  publicUrl?: string;
  /** Largest webhook body accepted; GitHub caps payloads at 25 MB but a push is far smaller. */
  maxBodyBytes: number;
  /** How many recent signed webhook bodies are remembered (as digests) to answer replays without a second sync. */
  maxDeliveries: number;
  /** Clock for the status page's relative times. */
  now: () => Date;
  /** Seconds between the status page's automatic reloads; 0 = never. */
  refreshSeconds: number;
  /** Called with unexpected errors before a 500 is answered. */
  onError: (err: unknown) => void;
  /** The environment repo's rollback workflow file, linked from the app page's Roll back button. */
  rollbackWorkflow: string;
  /** The UI's login sessions; default: a fresh store (8-hour sessions). */
  sessions?: SessionStore;
  /** Failed UI logins; default: at most 10 a minute. */
  loginThrottle?: LoginThrottle;
}

/**
 * Defaults of `createServer`: webhook and sync API disabled, 1 MB body limit, the last 1,000 signed bodies remembered,
 * real clock, errors to stderr, rollback workflow `rollback.yml`.
 */
export function defaultServerOptions(): ServerOptions {
  return {
    maxBodyBytes: 1_048_576,
    maxDeliveries: 1000,
    now: () => new Date(),
    refreshSeconds: 30,
    onError: (err) => console.error(`tether server: ${describeError(err)}`),
    rollbackWorkflow: 'rollback.yml',
  };
}

/** Checks GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`; malformed values are false. */
async function validSignature(header: string, body: Buffer, secret: string): Promise<boolean> {
  try {
    return await verify(secret, body.toString('utf8'), header.trim());
  } catch {
    // verify throws on an empty body or signature: nothing was signed, so nothing is valid.
    return false;
  }
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

/** The `pull_request` actions that start or drop a plan. */
const PLANNED_ACTIONS = new Set(['opened', 'reopened', 'synchronize', 'closed']);

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
  const app = new Hono();
  /**
   * SHA-256 digests of the newest signed webhook bodies, oldest first (a Set keeps insertion order), `maxDeliveries`
   * at most.
   */
  const handledBodies = new Set<string>();

  app.onError((err, c) => {
    opts.onError(err);
    return c.json({ error: 'internal error' }, 500);
  });

  const withUrl = (a: AppView) => (publicUrl ? { ...a, url: `${publicUrl}/apps/${encodeURIComponent(a.name)}` } : a);

  // What the read-only routes serve is public to anyone who reaches the port: every URL loses its credentials
  // (a repo URL, a Git error quoting one) however it got into the view.
  const publicJson = (c: Context, body: unknown, status: 200 | 404 = 200) =>
    c.body(redactUrls(JSON.stringify(body)), status, { 'content-type': 'application/json' });

  // The webhook is refused as disabled before its body is looked at; then the body is read up to the limit only
  // (Content-Length first, then the stream is counted, so a lying or absent Content-Length buffers no more).
  const webhookEnabled: MiddlewareHandler = async (c, next) => {
    if (!webhookSecret) return c.json({ error: 'webhook disabled: no webhook secret configured' }, 404);
    if (!c.req.header('x-hub-signature-256')) return c.json({ error: 'missing X-Hub-Signature-256' }, 401);
    await next();
  };
  const webhookBodyLimit = bodyLimit({
    maxSize: opts.maxBodyBytes,
    onError: (c) => c.json({ error: `body larger than ${opts.maxBodyBytes} bytes` }, 413),
  });

  // The sync API: disabled without a token; any request without the right bearer token is a 401 with the challenge
  // (hono answers a malformed Authorization header with 400; to a client it is the same missing credential).
  const unauthorized = (c: Context) => {
    c.header('www-authenticate', 'Bearer realm="tether"');
    return c.json({ error: 'missing or wrong bearer token' }, 401);
  };
  // Tokens are compared as SHA-256 digests with a constant-time comparison, so neither a token's length nor its
  // prefix leaks through timing; the name of the token that matched is who asked.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const knownTokens = [
    ...(apiToken ? [{ name: 'api', token: apiToken }] : []),
    ...(opts.apiTokens ?? []).filter((t) => t.token),
  ].map((t) => ({ name: t.name, digest: digest(t.token) }));
  const requesters = new WeakMap<Context, string>();
  const syncApiAuth: MiddlewareHandler = async (c, next) => {
    if (knownTokens.length === 0) return c.json({ error: 'sync API disabled: no API token configured' }, 404);
    let requester: string | undefined;
    const tokenAuth = bearerAuth({
      realm: 'tether',
      invalidToken: { wwwAuthenticateHeader: 'Bearer realm="tether"' },
      verifyToken: (token) => {
        const d = digest(token);
        requester = knownTokens.find((k) => timingSafeEqual(k.digest, d))?.name;
        return requester !== undefined;
      },
    });
    try {
      await tokenAuth(c, async () => {});
    } catch (err) {
      if (!(err instanceof HTTPException)) throw err;
    }
    if (requester === undefined) return unauthorized(c);
    requesters.set(c, requester);
    await next();
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

  // GitHub push and pull_request webhooks: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
  app.post('/webhook/github', webhookEnabled, webhookBodyLimit, async (c) => {
    const body = Buffer.from(await c.req.arrayBuffer());
    if (!(await validSignature(c.req.header('x-hub-signature-256') ?? '', body, webhookSecret ?? '')))
      return c.json({ error: 'bad signature' }, 401);

    const event = c.req.header('x-github-event');
    if (!event) return c.json({ error: 'missing X-GitHub-Event' }, 400);
    // A redelivery (GitHub's "Redeliver", or a replay of a captured request) was handled already: answer it without
    // another sync. It is recognised by a digest of the signed body, not by `X-GitHub-Delivery`: the signature does
    // not cover headers, so a captured body replayed under a fresh delivery id (or another event name) is still the
    // same body. GitHub's own payloads differ from one event to the next (timestamps, shas), so two real events never
    // share a body. Only signed bodies are remembered, so nobody can fill the set with forged ones.
    const delivery = c.req.header('x-github-delivery');
    const seen = createHash('sha256').update(body).digest('hex');
    if (handledBodies.has(seen)) return c.json({ duplicate: delivery ?? seen }, 200);
    handledBodies.add(seen);
    if (handledBodies.size > opts.maxDeliveries) handledBodies.delete(handledBodies.values().next().value as string);
    if (event === 'ping') return c.json({ ok: true });
    if (event !== 'push' && event !== 'pull_request') return c.json({ ignored: event }, 202);
    let payload: unknown;
    try {
      payload = parsePayload(body, c.req.header('content-type'));
    } catch {
      return c.json({ error: 'body is not valid JSON' }, 400);
    }
    if (event === 'pull_request') {
      // Plans follow the pull request's head: opened, reopened and synchronize (a push) plan it, closed drops it;
      // other actions (labels, reviews, edits) change nothing a plan looks at.
      const action = isRecord(payload) ? payload['action'] : undefined;
      if (!PLANNED_ACTIONS.has(String(action))) return c.json({ ignored: `pull_request ${String(action)}` }, 202);
      const pr = isRecord(payload) ? pullRequestFields(payload['pull_request']) : undefined;
      if (!pr) return c.json({ error: 'pull_request event without pull_request head, base and number' }, 400);
      return c.json({ planning: view.planPullRequest?.(pr) ?? [] }, 202);
    }
    const push = pushFields(payload);
    if (!push) return c.json({ error: 'push event without repository.full_name and ref' }, 400);
    const reason = `webhook push ${push.after.slice(0, 7)}`.trimEnd();
    const matching = view.appsForPush(push.repo, push.ref);
    const triggered = matching.filter((name) => view.requestSync(name, reason));
    // Sharded: apps another replica holds are named with their holder; that replica wakes them when the push is
    // signalled to it (`signalled`), else at their interval.
    const elsewhere = matching.flatMap((app) => {
      const at = view.heldElsewhere?.(app);
      return at ? [{ app, ...at }] : [];
    });
    const sources = view.requestSourcesForPush?.(push.repo, push.ref, reason) ?? [];
    // A push nothing follows is not signalled: the signal stays as small as the set of branches apps follow. A
    // failed signal still answers 202 (this replica's apps were woken); the body says the others were not told.
    const signal =
      matching.length + sources.length > 0
        ? await view.signalPush?.({
            repo: push.repo,
            ref: push.ref,
            after: push.after,
            ...(delivery ? { delivery } : {}),
          })
        : undefined;
    return c.json(
      {
        triggered,
        ...(elsewhere.length > 0 ? { heldElsewhere: elsewhere } : {}),
        ...(sources.length > 0 ? { sources } : {}),
        ...(signal ? (signal.signalled ? { signalled: true } : { signalled: false, signalError: signal.error }) : {}),
      },
      202,
    );
  });

  app.get('/api/apps', (c) => {
    const sharding = view.shardMap?.();
    return publicJson(c, { cluster: view.cluster, apps: view.apps().map(withUrl), ...(sharding ? { sharding } : {}) });
  });
  app.get('/api/app-sources', (c) => publicJson(c, { cluster: view.cluster, sources: view.appSources?.() ?? [] }));
  app.get('/api/apps/:name', async (c) => {
    const a = view.app(c.req.param('name'));
    if (!a) return publicJson(c, { error: `no app named ${c.req.param('name')}` }, 404);
    const d = await diffOf(view, a);
    const extra = d === undefined ? {} : 'diff' in d ? { diff: d.diff } : { diffError: d.error };
    return publicJson(c, { ...withUrl(a), ...extra });
  });
  app.get('/api/projects', (c) => publicJson(c, { cluster: view.cluster, projects: view.projects?.() ?? [] }));
  // A manual sync: it applies under the manual sync policy too, and is recorded as asked for by the name of the token
  // used (`api` for server.apiTokenFile's).
  app.post('/api/apps/:name/sync', syncApiAuth, (c) => {
    const name = c.req.param('name');
    if (view.requestManualSync) {
      const by = requesters.get(c) ?? 'api';
      const answer = view.requestManualSync(name, by);
      if (!answer.accepted) {
        const { accepted: _, status, ...body } = answer;
        return c.json(body, status);
      }
      return c.json({ app: name, sync: 'requested', requestedBy: by }, 202);
    }
    const elsewhere = view.heldElsewhere?.(name);
    if (elsewhere) return c.json({ error: `app ${name} is held by another replica`, ...elsewhere }, 409);
    if (!view.requestSync(name, 'api request')) return c.json({ error: `no app named ${name}` }, 404);
    return c.json({ app: name, sync: 'requested' }, 202);
  });

  // The pages, login and the actions behind it.
  registerUiRoutes(app, view, {
    ...(apiToken ? { apiToken } : {}),
    ...(publicUrl ? { publicUrl } : {}),
    now: opts.now,
    refreshSeconds: opts.refreshSeconds,
    rollbackWorkflow: opts.rollbackWorkflow,
    sessions: opts.sessions ?? new SessionStore(),
    ...(opts.loginThrottle ? { loginThrottle: opts.loginThrottle } : {}),
  });

  return app;
}

/** `{...defaults, ...options}` must not let an explicit `undefined` erase a default. */
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
