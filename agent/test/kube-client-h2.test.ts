import assert from 'node:assert/strict';
import { constants, createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { HttpKubeClient, KubeApiError } from '../src/edges/kube/kube-client.ts';
import { cm, object, type TestPki, testPki } from './fixtures/kube-client.ts';

// The client against local TLS servers: one speaking HTTP/2 (as the apiserver does), one HTTP/1.1 only (as some proxies
// in front of an apiserver do), and one that accepts connections and never answers.

type Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;
let script: Handler[] = [];
const seen: string[] = [];
let pki: TestPki;
const servers: { close(cb: () => void): unknown }[] = [];

const status =
  (code: number, message: string, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message, code }));
  };
const ok: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(object));
};

before(() => {
  pki = testPki();
});
after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function listen(server: Server | ReturnType<typeof createSecureServer>): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const client = (server: string, attempts = 5, maxSockets?: number) =>
  new HttpKubeClient(
    { server, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
    { retry: { attempts, baseDelayMs: 5, maxDelayMs: 50 }, ...(maxSockets ? { maxSockets } : {}) },
  );

test('requests go over HTTP/2 when the server offers it; answers, retries and refused streams as over HTTP/1.1', async () => {
  const bodies: string[] = [];
  const h2 = createSecureServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    seen.push(`${req.httpVersion} ${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`);
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d;
    });
    req.on('end', () => {
      bodies.push(body);
      (script.shift() ?? ok)(req, res);
    });
  });
  const url = await listen(h2);
  const c = client(url);
  script = [status(429, 'storage is (re)initializing', { 'retry-after': '0' }), status(503, 'unavailable')];
  seen.length = 0;
  assert.deepEqual(await c.get(cm, 'a', 'web'), object);
  assert.deepEqual(seen, Array(3).fill('2.0 GET /api/v1/namespaces/web/configmaps/a '));

  // A stream the server refuses (as after a GOAWAY) is tried again; the apply's body and content type arrive whole.
  script = [(req) => req.stream.close(constants.NGHTTP2_REFUSED_STREAM)];
  seen.length = 0;
  bodies.length = 0;
  const r = await c.apply(cm, object);
  assert.equal(r.object.metadata.name, 'a');
  assert.equal(seen.length, 2);
  assert.match(
    seen[1]!,
    /^2\.0 PATCH \/api\/v1\/namespaces\/web\/configmaps\/a\?fieldManager=tether&force=true.* application\/apply-patch\+yaml$/,
  );
  assert.deepEqual(JSON.parse(bodies[1]!), object);

  // A lasting error answer surfaces after the attempts, naming the request.
  script = Array.from({ length: 5 }, () => status(503, 'still down'));
  seen.length = 0;
  await assert.rejects(c.get(cm, 'a', 'web'), (err: unknown) => {
    assert.ok(err instanceof KubeApiError);
    assert.match(err.message, /^GET \/api\/v1\/namespaces\/web\/configmaps\/a: 503 still down$/);
    return true;
  });
  assert.equal(seen.length, 5);
  c.close();
});

test('a connection the server closes (GOAWAY) is opened again for the next request', async () => {
  const sessions = new Set<unknown>();
  const h2 = createSecureServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    const session = req.stream.session!;
    sessions.add(session);
    // GOAWAY before the answer (this stream is the last the server serves), then the connection is closed: as an
    // apiserver does with --goaway-chance or when it shuts down.
    session.goaway(constants.NGHTTP2_NO_ERROR, req.stream.id);
    ok(req, res);
    res.on('finish', () => session.close());
  });
  // One attempt each: the next request goes to a new connection at once, not after a failed try on the old one.
  const c = client(await listen(h2), 1);
  for (let i = 0; i < 3; i++) assert.deepEqual(await c.get(cm, 'a', 'web'), object);
  assert.equal(sessions.size, 3);
  c.close();
});

test('requests at once are bounded as the HTTP/1.1 pool bounds them; the rest wait for a stream to end', async () => {
  let open = 0;
  let most = 0;
  const h2 = createSecureServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    most = Math.max(most, ++open);
    setTimeout(() => {
      open--;
      ok(req, res);
    }, 30);
  });
  const c = client(await listen(h2), 1, 3);
  try {
    const got = await Promise.all(Array.from({ length: 10 }, () => c.get(cm, 'a', 'web')));
    assert.equal(got.length, 10);
    assert.equal(most, 3);
  } finally {
    c.close();
  }
});

test('a server that offers only HTTP/1.1 in ALPN is spoken to over HTTP/1.1', async () => {
  const versions: string[] = [];
  const h1 = createHttpsServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    versions.push(req.httpVersion);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(object));
  });
  const c = client(await listen(h1));
  assert.deepEqual(await c.get(cm, 'a', 'web'), object);
  assert.deepEqual(await c.get(cm, 'a', 'web'), object);
  assert.deepEqual(versions, ['1.1', '1.1']);
  c.close();
});

test('a server that never answers times the request out, whether it hangs the handshake or the stream', async () => {
  const silent = createTcpServer(() => undefined);
  const c = client(await listen(silent));
  const t0 = performance.now();
  await assert.rejects(c.ping(300), /timed out/);
  assert.ok(performance.now() - t0 < 5000);
  c.close();

  let calls = 0;
  const h2 = createSecureServer({ key: pki.key, cert: pki.cert }, (_req, res) => {
    // The first request is never answered; the second is, slowly.
    if (++calls === 1) return;
    // An answer that keeps coming, a piece every 100 ms for 800 ms: the timeout is for silence, not for the whole.
    res.writeHead(200, { 'content-type': 'application/json' });
    let n = 0;
    const t = setInterval(() => {
      if (++n < 8) res.write(' ');
      else {
        clearInterval(t);
        res.end('{"major":"1"}');
      }
    }, 100);
  });
  const c2 = client(await listen(h2));
  await assert.rejects(c2.ping(300), /GET \/version: timed out/);
  await c2.ping(300);
  assert.equal(calls, 2);
  c2.close();
});

test('close() ends a connection being opened and its waiting requests at once, and opens none again', async () => {
  // A server that accepts TCP connections and never answers the TLS handshake: requests wait for the connection.
  let connections = 0;
  const silent = createTcpServer((socket) => {
    connections++;
    socket.on('error', () => undefined);
  });
  const url = await listen(silent);
  const c = client(url, 5, 1);
  // The second request waits for a slot (one stream at once), the first for the connection.
  const waiting = [c.ping(20_000), c.ping(20_000)].map((p) =>
    p.then(
      () => 'answered',
      (err: Error) => err.message,
    ),
  );
  while (connections === 0) await new Promise((r) => setTimeout(r, 10));
  c.close();
  // Before their timeout (20 s, which would end this test with "timed out"), with an error that says why.
  const outcome = await Promise.race([
    Promise.all(waiting),
    new Promise((r) => setTimeout(() => r('still waiting'), 5000).unref()),
  ]);
  assert.deepEqual(outcome, Array(2).fill(`${new URL(url).host}: the client is closed`));
  await assert.rejects(c.get(cm, 'a', 'web'), /the client is closed/);
  assert.equal(connections, 1);

  // A request in flight when the client closes is not retried on a new connection.
  let sessions = 0;
  const h2 = createSecureServer({ key: pki.key, cert: pki.cert }, () => undefined);
  h2.on('session', () => sessions++);
  const c2 = client(await listen(h2));
  const inFlight = c2.get(cm, 'a', 'web');
  while (sessions === 0) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  c2.close();
  await assert.rejects(inFlight, /the client is closed/);
  assert.equal(sessions, 1);
});
