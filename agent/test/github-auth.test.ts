import assert from 'node:assert/strict';
import { createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { githubAppProvider, tokenFileProvider } from '../src/edges/github/github-auth.ts';

describe('githubAppProvider against a local token endpoint', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = mkdtempSync(join(tmpdir(), 'tether-app-auth-'));
  const keyFile = join(dir, 'key.pem');
  const seen: { method: string; url: string; jwt: string }[] = [];
  /** The App's public keys GitHub knows (an App may have two while its key is rotated). */
  const accepted = [publicKey];
  let server: Server;
  let apiUrl: string;

  before(async () => {
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
    server = createServer((req, res) => {
      const jwt = (req.headers.authorization ?? '').replace(/^bearer /i, '');
      seen.push({ method: req.method ?? '', url: req.url ?? '', jwt });
      const [h, p, sig] = jwt.split('.');
      const signedBy = (key: KeyObject) => {
        const verifier = createVerify('RSA-SHA256');
        verifier.update(`${h}.${p}`);
        return verifier.verify(key, Buffer.from(sig ?? '', 'base64url'));
      };
      if (!sig || !accepted.some(signedBy)) {
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

  test('a rotated key (the Secret swapped) mints with the new key; an unchanged key file is not read again', async () => {
    const secret = mountedSecret(
      dir,
      'app-key',
      'key.pem',
      privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    );
    let now = 0;
    const token = githubAppProvider({
      appId: '123',
      privateKeyFile: secret.path,
      installationId: '42',
      apiUrl,
      keyFile: { recheckMs: 1000, now: () => now },
    });
    const first = await token();
    const mints = seen.length;
    // Bytes of the same size and modification time, in the same file: only a read of the file would see them (and
    // fail to sign with them).
    secret.overwriteUnnoticed('x');
    now += 1000;
    assert.equal(await token(), first, 'the key file was read again though it did not change');
    assert.equal(seen.length, mints);

    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    accepted.push(next.publicKey);
    secret.rotate(next.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
    now += 1000;
    const rotated = await token();
    assert.notEqual(rotated, first, 'a new key starts a new auth, which mints its own token');
    assert.equal(seen.length, mints + 1);
    const [h, p, sig] = seen.at(-1)!.jwt.split('.');
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${h}.${p}`);
    assert.ok(verifier.verify(next.publicKey, Buffer.from(sig!, 'base64url')), 'the mint was signed with the new key');
  });

  test('a missing key file is a configuration error naming the field', async () => {
    const token = githubAppProvider({ appId: '1', privateKeyFile: join(dir, 'nope.pem'), installationId: '2', apiUrl });
    await assert.rejects(token(), /github\.app\.privateKeyFile .*nope\.pem/);
  });
});

describe('tokenFileProvider', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-token-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a rotated token (the Secret swapped) is used after the recheck time; an unchanged file is not read again', async () => {
    const secret = mountedSecret(dir, 'token', 'token', 'ghp_one\n');
    let now = 0;
    const token = tokenFileProvider(secret.path, { file: { recheckMs: 1000, now: () => now } });
    assert.equal(await token(), 'ghp_one');
    secret.overwriteUnnoticed('x');
    now += 1000;
    assert.equal(await token(), 'ghp_one', 'the token file was read again though it did not change');
    secret.rotate('ghp_two\n');
    assert.equal(await token(), 'ghp_one', 'looked at again before the recheck time');
    now += 1000;
    assert.equal(await token(), 'ghp_two');
  });

  test('an empty or missing file is a configuration error naming the field', async () => {
    writeFileSync(join(dir, 'empty'), '\n');
    await assert.rejects(tokenFileProvider(join(dir, 'empty'))(), /github\.tokenFile .*empty is empty/);
    await assert.rejects(
      tokenFileProvider(join(dir, 'nope'), { field: 'github.gitTokenFile' })(),
      /github\.gitTokenFile .*nope: ENOENT/,
    );
  });
});

/**
 * A Secret's key as the kubelet mounts it: `<name>` → `..data/<name>` → `..<version>/<name>`; a rotation writes a new
 * version and swaps the `..data` link in one rename.
 */
function mountedSecret(root: string, volume: string, name: string, text: string) {
  const dir = join(root, volume);
  mkdirSync(dir);
  let version = 0;
  // A fixed modification time, so `overwriteUnnoticed` can put it back exactly.
  const mtime = 1_700_000_000;
  const write = (content: string) => {
    const versionDir = join(dir, `..v${++version}`);
    mkdirSync(versionDir);
    writeFileSync(join(versionDir, name), content);
    utimesSync(join(versionDir, name), mtime, mtime);
    symlinkSync(`..v${version}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  write(text);
  symlinkSync(join('..data', name), join(dir, name));
  let current = text;
  return {
    path: join(dir, name),
    rotate(next: string) {
      current = next;
      write(next);
    },
    /** Rewrites the current file in place with `fill` bytes of the same size and modification time. */
    overwriteUnnoticed(fill: string) {
      const file = join(dir, `..v${version}`, name);
      writeFileSync(file, fill.repeat(Buffer.byteLength(current)));
      utimesSync(file, mtime, mtime);
    },
  };
}
