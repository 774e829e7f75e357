import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import type { KubeConnection } from '../src/edges/kube/kubeconfig.ts';
import { cm, type TestPki, testPki } from './fixtures/kube-client.ts';

// close() on the client's HTTP/1.1 paths: a plain-http apiserver (a local proxy, `kubectl proxy`), and requests that
// carry an exec plugin's client certificate (they need a TLS connection of their own, so they never use HTTP/2).
// Both must end for good, as the HTTP/2 path does (kube-client-h2.test.ts): the requests in flight or waiting for a
// socket end with "the client is closed", their sockets are closed, and no request opens a socket again.

let pki: TestPki;
const servers: Server[] = [];

before(() => {
  pki = testPki();
});
after(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A server that takes requests and never answers; counts the connections it was opened and those still open. */
async function silent(
  server: Server,
  scheme: 'http' | 'https',
): Promise<{ url: string; opened: () => number; open: () => number }> {
  const sockets = new Set<Socket>();
  let opened = 0;
  server.on('connection', (socket: Socket) => {
    opened++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', () => undefined);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    opened: () => opened,
    open: () => sockets.size,
  };
}

async function closesForGood(
  server: Server,
  scheme: 'http' | 'https',
  conn: (url: string) => KubeConnection,
): Promise<void> {
  const s = await silent(server, scheme);
  const c = new HttpKubeClient(conn(s.url), { maxSockets: 1, retry: { attempts: 5, baseDelayMs: 5, maxDelayMs: 20 } });
  // One request holds the only socket; the second waits for it.
  const waiting = [c.get(cm, 'a', 'web'), c.get(cm, 'b', 'web')].map((p) =>
    p.then(
      () => 'answered',
      (err: Error) => err.message,
    ),
  );
  while (s.opened() === 0) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  c.close();
  // Before their timeout (60 s), with an error that says why, and without a retry on a new connection.
  const outcome = await Promise.race([
    Promise.all(waiting),
    new Promise((r) => setTimeout(() => r('still waiting'), 3000).unref()),
  ]);
  const closed = `${new URL(s.url).host}: the client is closed`;
  assert.deepEqual(outcome, [closed, closed]);
  await assert.rejects(c.get(cm, 'c', 'web'), { message: closed });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(s.opened(), 1, 'connections opened');
  assert.equal(s.open(), 0, 'connections left open');
}

test('close() ends the requests to a plain-http server, closes its sockets and opens none again', async () => {
  await closesForGood(createHttpServer(), 'http', (server) => ({ server }));
});

test("close() ends the requests with an exec plugin's client certificate (HTTP/1.1) alike", async () => {
  let asked = 0;
  await closesForGood(
    createHttpsServer({ key: pki.key, cert: pki.cert, ca: pki.ca, requestCert: true }),
    'https',
    (server) => ({
      server,
      ca: pki.ca,
      credentials: async () => {
        asked++;
        return { cert: pki.clientCert, key: pki.clientKey };
      },
    }),
  );
  // The plugin is asked for each request made before close() only.
  assert.equal(asked, 2);
});

test('close() ends the watches (HTTP/1.1, a connection each) and starts none again', async () => {
  const s = await silent(createHttpsServer({ key: pki.key, cert: pki.cert }), 'https');
  const c = new HttpKubeClient({ server: s.url, ca: pki.ca });
  const watch = c.watch(cm, { namespace: 'web' }, () => undefined);
  while (s.opened() === 0) await new Promise((r) => setTimeout(r, 10));
  c.close();
  const ended = (w: { done: Promise<void> }) =>
    Promise.race([w.done.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still watching'), 3000).unref())]);
  assert.equal(await ended(watch), 'ended');
  assert.equal(await ended(c.watch(cm, { namespace: 'web' }, () => undefined)), 'ended');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(s.opened(), 1, 'connections opened');
  assert.equal(s.open(), 0, 'connections left open');
});

test('a watch of a plain-http server gets its events (it is not sent as https)', async () => {
  const server = createHttpServer((req, res) => {
    assert.match(req.url ?? '', /[?&]watch=1/);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: 'a' } } })}\n`);
    res.end(`${JSON.stringify({ type: 'DELETED', object: { kind: 'ConfigMap', metadata: { name: 'a' } } })}\n`);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = new HttpKubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  const events: string[] = [];
  const w = c.watch(cm, { namespace: 'web' }, (e) => events.push(`${e.type} ${e.object.metadata.name}`));
  const outcome = await Promise.race([
    w.done.then(() => 'ended'),
    new Promise((r) => setTimeout(() => r('still waiting'), 3000).unref()),
  ]);
  c.close();
  assert.equal(outcome, 'ended');
  assert.deepEqual(events, ['ADDED a', 'DELETED a']);
});
