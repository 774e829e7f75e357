// The client's bearer token from a token file (the in-cluster ServiceAccount token, which the kubelet rotates): read
// when the file changes, not for every request.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import { TokenFile } from '../src/edges/token-file.ts';
import { cm, object } from './fixtures/kube-client.ts';

const seen: string[] = [];
let server: Server;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tether-token-'));

before(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(object));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

test('the token file is read again only once it changed and the recheck time passed, not per request', async () => {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'token-one\n');
  let now = 0;
  const c = new HttpKubeClient({ server: url, tokenFile }, { tokenFile: { recheckMs: 60_000, now: () => now } });
  seen.length = 0;
  await c.get(cm, 'a', 'web');
  // The kubelet's rotation: a new file swapped in for the old one.
  writeFileSync(join(dir, 'token.new'), 'token-two\n');
  renameSync(join(dir, 'token.new'), tokenFile);
  await c.get(cm, 'a', 'web');
  await c.get(cm, 'a', 'web');
  now += 60_000;
  await c.get(cm, 'a', 'web');
  assert.deepEqual(seen, ['Bearer token-one', 'Bearer token-one', 'Bearer token-one', 'Bearer token-two']);
  c.close();
});

test('a file rewritten in place is read again after the recheck time; an unreadable one fails until it is back', () => {
  const path = join(dir, 'inplace');
  writeFileSync(path, 'alpha');
  let now = 0;
  const t = new TokenFile(path, { recheckMs: 10, now: () => now });
  assert.equal(t.token(), 'alpha');
  now += 10;
  assert.equal(t.token(), 'alpha');
  writeFileSync(path, 'bravo-longer');
  now += 10;
  assert.equal(t.token(), 'bravo-longer');
  rmSync(path);
  now += 10;
  assert.throws(() => t.token(), /ENOENT/);
  writeFileSync(path, 'charlie');
  assert.equal(t.token(), 'charlie', 'a failed look is tried again at once');
});
