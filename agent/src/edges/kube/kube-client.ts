import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent, request } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { TetherError } from '../../../../shared/src/errors.ts';
import {
  APPLY_CONCURRENCY,
  type ApplyOptions,
  type ApplyResult,
  defaultApplyOptions,
  type KubeClient,
  type KubeEvent,
  type Lease,
  type ListOptions,
  type MergePatchOptions,
  type ResourceType,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from '../../core/kube-port.ts';
import type { K8sObject } from '../../core/types.ts';
import { TokenFile, type TokenFileOptions } from '../token-file.ts';
import {
  type Answer,
  answer,
  ConnectionLost,
  clientClosed,
  H2_TRANSIENT_CODES,
  H2Connection,
  h2Request,
  timedOut,
} from './h2.ts';
import type { KubeConnection } from './kubeconfig.ts';

export type {
  ApplyOptions,
  ApplyResult,
  KubeClient,
  ResourceType,
  Watch,
  WatchEvent,
} from '../../core/kube-port.ts';
export { defaultApplyOptions } from '../../core/kube-port.ts';

/** An error answer of the apiserver, with its HTTP status and Status reason. */
export class KubeApiError extends TetherError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super('kube', message);
    this.status = status;
    this.reason = reason;
  }
}

/** The URL path of a resource type, optionally of one object in it. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string): string {
  const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${type.resource}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

const AGGREGATED_DISCOVERY = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';

interface DiscoveryGroupList {
  kind?: string;
  items: {
    metadata: { name?: string };
    versions: {
      version: string;
      resources: { resource: string; responseKind: { kind: string }; scope: string; verbs: string[] }[];
    }[];
  }[];
}

/** How transient API errors are retried: attempts in all, and the backoff between them. */
export interface KubeRetryOptions {
  attempts: number;
  /** First delay; doubles per attempt up to `maxDelayMs`. A `Retry-After` from the server is honoured up to the max. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Defaults: 5 attempts, 250 ms doubling to at most 5 s (about 4 s of waiting in all without Retry-After). */
export function defaultKubeRetryOptions(): KubeRetryOptions {
  return { attempts: 5, baseDelayMs: 250, maxDelayMs: 5000 };
}

/**
 * Answers worth another try: the apiserver throttling (429, also `storage is (re)initializing` while etcd comes
 * up) or briefly unavailable (5xx behind a load balancer, during a restart or an upgrade).
 */
const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

function transientError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (
    (typeof code === 'string' && (TRANSIENT_CODES.has(code) || H2_TRANSIENT_CODES.has(code))) ||
    err instanceof ConnectionLost ||
    (err as Error)?.message === 'socket hang up'
  );
}

/** Who a request is from: a bearer token, and the TLS identity (the kubeconfig's, or an exec plugin's certificate). */
interface Auth {
  token?: string;
  tls: { ca?: string; cert?: string; key?: string } | { secureContext: SecureContext };
}

/** Objects per page of a list (see HttpKubeClient.list). */
export const LIST_PAGE_SIZE = 500;

/** A KubeClient over node:https with a keep-alive agent (bounded sockets) against one apiserver. */
export class HttpKubeClient implements KubeClient {
  /** The HTTP/1.1 pool: https (an exec plugin's client certificate, a server without HTTP/2), or plain http. */
  private readonly agent: HttpAgent;
  /** The HTTP/1.1 requests in flight or waiting for a socket of the pool, and the watches: `close` ends them. */
  private readonly http1 = new Set<ClientRequest>();
  /** `close` was called: every request from then on fails at once, as on the HTTP/2 path. */
  private closed = false;
  private readonly retry: KubeRetryOptions;
  /**
   * The kubeconfig's CA and client certificate parsed once for every connection. Given as ca/cert/key instead, each
   * new socket parses them again, and the Agent keys its pools by their concatenated PEM text on every request.
   */
  private readonly tls: SecureContext;
  /**
   * Where requests go, parsed once: a URL per request (parsed, then turned back into request options by node:https)
   * was ~5 % of the agent's CPU in a first sync of 1,000 objects.
   */
  private readonly target: { protocol: string; hostname: string; port: number };
  /** Who every request is from when nothing is read per request (no exec plugin, no token file); else undefined. */
  private readonly fixedAuth: Auth | undefined;
  /** HTTP/2 to an https apiserver that offers it (see h2.ts); undefined for a plain-http server. */
  private readonly h2: H2Connection | undefined;
  /** The connection's token file, read again only when it changes; undefined without one. */
  private readonly tokenFile: TokenFile | undefined;
  /** The last base headers (see baseHeaders) and the token they carry. */
  private base: { token: string | undefined; headers: Record<string, string> } | undefined;

  constructor(
    private readonly conn: KubeConnection,
    options: { maxSockets?: number; retry?: Partial<KubeRetryOptions>; tokenFile?: Partial<TokenFileOptions> } = {},
  ) {
    this.retry = { ...defaultKubeRetryOptions(), ...options.retry };
    this.tokenFile = conn.tokenFile ? new TokenFile(conn.tokenFile, options.tokenFile) : undefined;
    this.tls = createSecureContext({ ca: conn.ca, cert: conn.cert, key: conn.key });
    const server = new URL(conn.server);
    this.target = {
      protocol: server.protocol,
      // An IPv6 literal comes bracketed in a URL, and without brackets in request options.
      hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(server.port) || (server.protocol === 'http:' ? 80 : 443),
    };
    // Twice a sync's apply concurrency, so that one app's sync leaves sockets (or HTTP/2 streams) to the other apps
    // and to heals.
    const maxSockets = options.maxSockets ?? 2 * APPLY_CONCURRENCY;
    // No TLS material on the Agent itself: its options override a request's, and an exec plugin's certificate goes
    // on the request (see auth). A pool of the client's own for plain http too, so that `close` ends its sockets.
    this.agent =
      server.protocol === 'http:'
        ? new HttpAgent({ keepAlive: true, maxSockets })
        : new Agent({ keepAlive: true, maxSockets, rejectUnauthorized: !conn.insecureSkipTLSVerify });
    this.fixedAuth =
      conn.credentials || conn.tokenFile
        ? undefined
        : { ...(conn.token ? { token: conn.token } : {}), tls: { secureContext: this.tls } };
    this.h2 =
      server.protocol === 'https:'
        ? new H2Connection(this.target, this.tls, !conn.insecureSkipTLSVerify, maxSockets)
        : undefined;
  }

  /**
   * Closes the connections, for good: requests in flight, or waiting for a connection, end with "the client is
   * closed" (not transient: not retried), watches end, and no request opens a connection again.
   */
  close(): void {
    this.closed = true;
    const err = clientClosed(this.target);
    for (const req of this.http1) req.destroy(err);
    this.http1.clear();
    // A request that waited for a socket stays queued in the pool when destroyed, and node's Agent opens a socket for
    // it once one of its sockets closes: from now on the pool opens none (the request is already settled).
    this.agent.createConnection = (_options, callback) => {
      callback?.(err, undefined as never);
      return undefined;
    };
    this.agent.destroy();
    this.h2?.close();
  }

  /** Tracks an HTTP/1.1 request until it ends, so that `close` can end it. */
  private track(req: ClientRequest): void {
    this.http1.add(req);
    req.once('close', () => this.http1.delete(req));
  }

  /** Who this request is from: an exec plugin's credentials when the kubeconfig has one, else the static ones. */
  private async auth(): Promise<Auth> {
    const fromPlugin = this.conn.credentials ? await this.conn.credentials() : {};
    const token = fromPlugin.token ?? (this.tokenFile ? this.tokenFile.token() : this.conn.token);
    // A plugin's client certificate goes on the request; node's Agent keeps a separate socket pool per certificate.
    return {
      token,
      tls: fromPlugin.cert
        ? { ca: this.conn.ca, cert: fromPlugin.cert, key: fromPlugin.key }
        : { secureContext: this.tls },
    };
  }

  private headers(token: string | undefined, extra: Record<string, string>): Record<string, string> {
    return { 'user-agent': 'tether-agent', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
  }

  /** The headers every JSON request starts with, built again only when the token changes. */
  private baseHeaders(token: string | undefined): Record<string, string> {
    if (!this.base || this.base.token !== token) {
      this.base = { token, headers: this.headers(token, { accept: 'application/json' }) };
    }
    return this.base.headers;
  }

  /**
   * One request, retried with backoff while the answer is transient (429, 5xx, a reset connection); JSON answers
   * are parsed (non-2xx answers too: the caller decides). POST is not retried: it creates, and a retry after a lost
   * answer would create twice. Every other verb Tether uses is idempotent (GET, server-side apply PATCH, DELETE, PUT
   * with a resourceVersion). Edge-internal.
   */
  private async raw(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    timeoutMs = 60_000,
  ): Promise<{ status: number; body: unknown }> {
    const attempts = method === 'POST' ? 1 : Math.max(1, this.retry.attempts);
    for (let attempt = 1; ; attempt++) {
      let delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      try {
        const r = await this.rawOnce(method, path, body, headers, timeoutMs);
        if (attempt >= attempts || !TRANSIENT_STATUS.has(r.status)) return { status: r.status, body: r.body };
        if (r.retryAfterMs !== undefined) delay = Math.min(this.retry.maxDelayMs, r.retryAfterMs);
      } catch (err) {
        if (attempt >= attempts || !transientError(err)) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  private async rawOnce(
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Answer> {
    // Before an exec plugin is asked for credentials a closed client will not use (closed while it is asked, the
    // pool refuses the connection).
    if (this.closed) throw clientClosed(this.target);
    const auth = this.fixedAuth ?? (await this.auth());
    const all: Record<string, string> = {
      ...this.baseHeaders(auth.token),
      ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      ...headers,
    };
    // A plugin's client certificate needs a connection of its own: those requests stay on the HTTP/1.1 pool.
    if (this.h2 && 'secureContext' in auth.tls) {
      const h2 = this.h2;
      await h2.slot();
      let session: Awaited<ReturnType<H2Connection['session']>>;
      try {
        session = await h2.session(timeoutMs);
      } catch (err) {
        h2.release();
        throw err;
      }
      if (session) return h2Request(h2, session, { method, path, body, headers: all, timeoutMs });
      h2.release();
    }
    const plain = this.target.protocol === 'http:';
    const send = plain ? httpRequest : request;
    return new Promise((resolve, reject) => {
      const req = send(
        {
          ...this.target,
          path,
          method,
          agent: this.agent,
          ...auth.tls,
          headers: all,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve(answer(res.statusCode ?? 0, res.headers['retry-after'], chunks)));
        },
      );
      this.track(req);
      req.on('timeout', () => req.destroy(timedOut(method, path)));
      req.on('error', reject);
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }

  private async json(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<unknown> {
    return this.check(method, path, await this.raw(method, path, body, headers));
  }

  private check(method: string, path: string, r: { status: number; body: unknown }): unknown {
    if (r.status >= 200 && r.status < 300) return r.body;
    const status = r.body as { reason?: string; message?: string } | string;
    const reason = typeof status === 'object' ? (status.reason ?? '') : '';
    const message =
      typeof status === 'object' ? (status.message ?? JSON.stringify(status)) : String(status).slice(0, 300);
    throw new KubeApiError(r.status, reason, `${method} ${path}: ${r.status} ${message}`);
  }

  async ping(timeoutMs = 5000): Promise<void> {
    // /version is readable by every client (system:public-info-viewer) and costs the apiserver nothing.
    // One attempt: the probe must answer quickly that the apiserver is away, not retry into its backoff.
    await this.rawOnce('GET', '/version', undefined, {}, timeoutMs);
  }

  async discover(): Promise<ResourceType[]> {
    const out: ResourceType[] = [];
    for (const root of ['/api', '/apis']) {
      const list = (await this.json('GET', root, undefined, { accept: AGGREGATED_DISCOVERY })) as DiscoveryGroupList;
      if (list.kind !== 'APIGroupDiscoveryList') {
        throw new TetherError(
          'kube',
          `${root}: the apiserver does not serve aggregated discovery (Kubernetes ≥ 1.30 needed)`,
        );
      }
      for (const g of list.items) {
        for (const v of g.versions) {
          for (const r of v.resources) {
            out.push({
              group: g.metadata.name ?? '',
              version: v.version,
              kind: r.responseKind.kind,
              resource: r.resource,
              namespaced: r.scope === 'Namespaced',
              verbs: r.verbs,
            });
          }
        }
      }
    }
    return out;
  }

  async apply(type: ResourceType, obj: K8sObject, options: Partial<ApplyOptions> = {}): Promise<ApplyResult> {
    const o = { ...defaultApplyOptions(), ...options };
    // The query by hand, not by URLSearchParams: one per object of a sync.
    const q = `fieldManager=${encodeURIComponent(o.fieldManager)}${o.force ? '&force=true' : ''}${o.dryRun ? '&dryRun=All' : ''}`;
    // The body is JSON.stringify output, which cannot repeat a key, and server-side apply refuses a field the schema
    // does not declare at every fieldValidation level (built-in kinds and CRDs alike: `.spec.replica: field not
    // declared in schema` with Ignore, Warn and Strict; agent/test/sync.world.test.ts holds it). What the server's
    // default, Warn, adds for apply is a second, strict YAML parse of every body looking for duplicate keys: Ignore
    // skips it, as `kubectl apply --validate=false` does, and loses no error.
    const path = `${resourcePath(type, obj.metadata.namespace, obj.metadata.name)}?${q}&fieldValidation=Ignore`;
    // The object's JSON exactly as rendered: JSON is YAML, and nothing is run through generated types that drop fields.
    const body = o.body ?? JSON.stringify(obj);
    const r = await this.raw('PATCH', path, body, { 'content-type': 'application/apply-patch+yaml' });
    return { object: this.check('PATCH', path, r) as K8sObject, created: r.status === 201 };
  }

  async mergePatch(
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: object,
    options: Partial<MergePatchOptions> = {},
  ): Promise<K8sObject | undefined> {
    // Named, or the apiserver records the manager from the User-Agent (`tether-agent`) instead of Tether's.
    const manager = options.fieldManager ?? defaultApplyOptions().fieldManager;
    const path = `${resourcePath(type, namespace, name)}?fieldManager=${encodeURIComponent(manager)}`;
    try {
      return (await this.json('PATCH', path, JSON.stringify(patch), {
        'content-type': 'application/merge-patch+json',
      })) as K8sObject;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async get(type: ResourceType, name: string, namespace?: string): Promise<K8sObject | undefined> {
    try {
      return (await this.json('GET', resourcePath(type, namespace, name))) as K8sObject;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Lists in pages of LIST_PAGE_SIZE (`limit` and `continue`, one consistent snapshot): a list of thousands of objects
   * then never arrives as one response body of many MB, which the agent's heap would have to hold beside its parse,
   * and `keep` drops what the caller does not want page by page. A continue token that expired (410) starts the list
   * again unpaged.
   */
  async list(type: ResourceType, options: ListOptions = {}): Promise<{ items: K8sObject[]; resourceVersion: string }> {
    const items: K8sObject[] = [];
    const apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
    let resourceVersion = '';
    let next: string | undefined;
    let pageSize: number | undefined = LIST_PAGE_SIZE;
    do {
      const q = new URLSearchParams();
      if (options.labelSelector) q.set('labelSelector', options.labelSelector);
      if (pageSize) q.set('limit', String(pageSize));
      if (next) q.set('continue', next);
      const path = `${resourcePath(type, options.namespace)}${q.size ? `?${q}` : ''}`;
      let page: { items: K8sObject[]; metadata: { resourceVersion: string; continue?: string } };
      try {
        page = (await this.json('GET', path)) as typeof page;
      } catch (err) {
        if (!(next && err instanceof KubeApiError && err.status === 410)) throw err;
        items.length = 0;
        next = undefined;
        pageSize = undefined;
        continue;
      }
      for (const item of page.items) {
        // List items come without apiVersion/kind; put them back so items are whole objects.
        item.apiVersion ??= apiVersion;
        item.kind ??= type.kind;
        const kept = options.keep ? options.keep(item) : item;
        if (kept) items.push(kept);
      }
      resourceVersion = page.metadata.resourceVersion;
      next = page.metadata.continue || undefined;
    } while (next);
    return { items, resourceVersion };
  }

  async delete(
    type: ResourceType,
    name: string,
    namespace?: string,
    options: { propagationPolicy?: string; resourceVersion?: string } = {},
  ): Promise<boolean> {
    const body = JSON.stringify({
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: options.propagationPolicy ?? 'Background',
      ...(options.resourceVersion ? { preconditions: { resourceVersion: options.resourceVersion } } : {}),
    });
    try {
      await this.json('DELETE', resourcePath(type, namespace, name), body, { 'content-type': 'application/json' });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      // A failed precondition is a 409: the object changed since it was read, so it is kept.
      if (err instanceof KubeApiError && err.status === 409 && options.resourceVersion) return false;
      throw err;
    }
  }

  watch(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent) => void): Watch {
    const q = new URLSearchParams({ watch: '1', allowWatchBookmarks: 'true' });
    if (options.labelSelector) q.set('labelSelector', options.labelSelector);
    if (options.resourceVersion) q.set('resourceVersion', options.resourceVersion);
    const url = new URL(`${resourcePath(type, options.namespace)}?${q}`, this.conn.server);
    let stopped = false;
    let req: ClientRequest | undefined;
    // A plain-http server (`kubectl proxy`, a local proxy) is watched over http: https.request refuses an http URL.
    const send = url.protocol === 'http:' ? httpRequest : request;
    const done = new Promise<void>((resolve) => {
      const open = (auth: Awaited<ReturnType<HttpKubeClient['auth']>>) => {
        // A watch has a connection of its own, outside the pool: once closed, the client opens none.
        if (stopped || this.closed) return resolve();
        req = send(
          url,
          // Its own connection: a watch holds its socket for minutes and must not starve the apply pool.
          {
            method: 'GET',
            ca: this.conn.ca,
            cert: this.conn.cert,
            key: this.conn.key,
            ...auth.tls,
            rejectUnauthorized: !this.conn.insecureSkipTLSVerify,
            headers: this.headers(auth.token, { accept: 'application/json' }),
          },
          (res) => {
            if (res.statusCode !== 200) {
              res.resume();
              resolve();
              return;
            }
            let buffer = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              buffer += chunk;
              for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
                const line = buffer.slice(0, nl);
                buffer = buffer.slice(nl + 1);
                if (line.trim() === '') continue;
                try {
                  onEvent(JSON.parse(line) as WatchEvent);
                } catch {
                  // a malformed line ends nothing; the periodic re-list covers what it said
                }
              }
            });
            res.on('end', () => resolve());
            res.on('error', () => resolve());
            res.on('close', () => resolve());
          },
        );
        this.track(req);
        req.on('error', () => resolve());
        req.end();
      };
      // A plugin that fails, or a request that cannot be made, ends the watch as a dropped connection does (the
      // caller's re-list reports the error); thrown here, it would be an unhandled rejection that ends the process.
      this.auth().then(
        (auth) => {
          try {
            open(auth);
          } catch {
            resolve();
          }
        },
        () => resolve(),
      );
    });
    return {
      stop: () => {
        if (stopped) return;
        stopped = true;
        req?.destroy();
      },
      done,
    };
  }

  async createEvent(event: KubeEvent): Promise<void> {
    const { involvedObject, reason, message, type, component } = event;
    const now = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${involvedObject.name}.`, namespace: involvedObject.namespace },
      involvedObject,
      reason,
      message,
      type,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const path = `/api/v1/namespaces/${encodeURIComponent(involvedObject.namespace)}/events`;
    await this.json('POST', path, JSON.stringify(body), { 'content-type': 'application/json' });
  }

  async getLease(namespace: string, name: string): Promise<Lease | undefined> {
    const path = leasePath(namespace, name);
    const r = await this.raw('GET', path);
    if (r.status === 404) return undefined;
    return this.check('GET', path, r) as Lease;
  }

  async createLease(lease: Lease): Promise<boolean> {
    const path = leasePath(lease.metadata.namespace);
    const body = JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease });
    const r = await this.raw('POST', path, body, { 'content-type': 'application/json' });
    if (r.status === 409) return false;
    this.check('POST', path, r);
    return true;
  }

  async updateLease(lease: Lease): Promise<boolean> {
    const path = leasePath(lease.metadata.namespace, lease.metadata.name);
    const body = JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease });
    const r = await this.raw('PUT', path, body, { 'content-type': 'application/json' });
    if (r.status === 409) return false;
    this.check('PUT', path, r);
    return true;
  }
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name ? `${base}/${encodeURIComponent(name)}` : base;
}
