import assert from 'node:assert/strict';
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { githubAppProvider } from '../src/edges/github/github-auth.ts';

describe('githubAppProvider against a local token endpoint', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = mkdtempSync(join(tmpdir(), 'tether-app-auth-'));
  const keyFile = join(dir, 'key.pem');
  const seen: { method: string; url: string; jwt: string }[] = [];
  let server: Server;
  let apiUrl: string;

  before(async () => {
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    server = createServer((req, res) => {
      const jwt = (req.headers.authorization ?? '').replace(/^bearer /i, '');
      seen.push({ method: req.method ?? '', url: req.url ?? '', jwt });
      const [h, p, sig] = jwt.split('.');
      const verifier = createVerify('RSA-SHA256');
      verifier.update(`${h}.${p}`);
      if (!sig || !verifier.verify(publicKey, Buffer.from(sig, 'base64url'))) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"message":"A JSON web token could not be decoded"}');
        return;
      }
      const expires = new Date(Date.now() + 3_600_000).toISOString();
      res.writeHead(201, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          token: `ghs_${seen.length}`,
          expires_at: expires,
          permissions: {},
          repository_selection: 'all',
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('mints an installation token with an RS256 App JWT, then serves it from the cache', async () => {
    const token = githubAppProvider({ appId: '123', privateKeyFile: keyFile, installationId: '42', apiUrl });
    assert.equal(await token(), 'ghs_1');
    assert.equal(await token(), 'ghs_1');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/app/installations/42/access_tokens');
    const payload = JSON.parse(Buffer.from(seen[0]!.jwt.split('.')[1]!, 'base64url').toString()) as { iss: unknown };
    assert.equal(String(payload.iss), '123');
  });

  test('a refused mint is an error naming the App and installation', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const wrongKey = join(dir, 'wrong.pem');
    writeFileSync(wrongKey, other.export({ type: 'pkcs1', format: 'pem' }));
    const token = githubAppProvider({ appId: '123', privateKeyFile: wrongKey, installationId: '7', apiUrl });
    await assert.rejects(token(), /GitHub App 123 installation 7: 401/);
  });

  test('a missing key file is a configuration error naming the field', async () => {
    const token = githubAppProvider({ appId: '1', privateKeyFile: join(dir, 'nope.pem'), installationId: '2', apiUrl });
    await assert.rejects(token(), /github\.app\.privateKeyFile .*nope\.pem/);
  });
});
