import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { HttpKubeClient, KubeApiError } from '../src/edges/kube/kube-client.ts';
import { cm, object } from './fixtures/kube-client.ts';

// The client against a small local HTTP server that answers as an apiserver does while it comes up or sheds load.

let script: ((req: IncomingMessage, res: ServerResponse) => void)[] = [];
const seen: string[] = [];
let server: Server;
let url: string;

const status =
  (code: number, message: string, headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message, code }));
  };
const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(object));
};
const reset = (req: IncomingMessage) => req.socket.destroy();

before(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    (script.shift() ?? ok)(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const client = () => new HttpKubeClient({ server: url }, { retry: { baseDelayMs: 5, maxDelayMs: 50 } });

test('429 "storage is (re)initializing", 503 and a reset connection are retried until the answer comes', async () => {
  script = [status(429, 'storage is (re)initializing', { 'retry-after': '0' }), status(503, 'unavailable'), reset];
  seen.length = 0;
  const c = client();
  const got = await c.get(cm, 'a', 'web');
  assert.deepEqual(got, object);
  assert.equal(seen.length, 4);
  c.close();
});

test('server-side apply is retried too; a lasting failure surfaces after the attempts, naming the request', async () => {
  script = [status(500, 'etcdserver: leader changed'), ok];
  seen.length = 0;
  const c = client();
  const r = await c.apply(cm, object);
  assert.equal(r.object.metadata.name, 'a');
  assert.equal(seen.length, 2);

  script = Array.from({ length: 5 }, () => status(503, 'still down'));
  seen.length = 0;
  await assert.rejects(c.get(cm, 'a', 'web'), (err: unknown) => {
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 503);
    assert.match(err.message, /^GET \/api\/v1\/namespaces\/web\/configmaps\/a: 503 still down$/);
    return true;
  });
  assert.equal(seen.length, 5);
  c.close();
});

test('errors that are not transient are not retried, and POST never is', async () => {
  script = [status(422, 'invalid')];
  seen.length = 0;
  const c = client();
  await assert.rejects(c.apply(cm, object), /422 invalid/);
  assert.equal(seen.length, 1);
  script = [status(503, 'unavailable')];
  seen.length = 0;
  await assert.rejects(
    c.createEvent({
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'a', namespace: 'web' },
      reason: 'Synced',
      message: 'm',
      type: 'Normal',
      component: 'tether',
    }),
    /503/,
  );
  assert.equal(seen.length, 1);
  c.close();
});
