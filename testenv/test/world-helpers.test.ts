// Pure pieces of the Git server and GitHub emulator: token parsing, fault arming, commit parsing, GitHub's
// combined-status rule and the OpenAPI → JSON Schema conversion.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { Faults } from '../src/faults.ts';
import { parseCommit, ZERO_SHA } from '../src/git-ops.ts';
import { refChanges } from '../src/git-server.ts';
import { toJsonSchema } from '../src/github/openapi.ts';
import { combinedState } from '../src/github/responses.ts';
import type { StatusRecord } from '../src/github/state.ts';
import { etcdAnswers, freePort, startTogether } from '../src/processes.ts';
import { basicToken, bearerToken, canAccess, principalFor, type TokenMap } from '../src/tokens.ts';

const tokens: TokenMap = { ghs_a: { login: 'a', repos: ['Acme/Env'] } };
const b64 = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

test('tokens: GitHub accepts the token as Basic password or user, and as bearer', () => {
  assert.equal(basicToken(b64('x-access-token:ghs_a'), tokens), 'ghs_a');
  assert.equal(basicToken(b64('ghs_a:x-oauth-basic'), tokens), 'ghs_a');
  assert.equal(basicToken(b64('ghs_a:'), tokens), 'ghs_a');
  assert.equal(bearerToken('token ghs_a'), 'ghs_a');
  assert.equal(bearerToken('Bearer ghs_a'), 'ghs_a');
  assert.equal(bearerToken('Basic abc'), undefined);
  const p = principalFor(tokens, 'ghs_a')!;
  assert.equal(canAccess(p, 'acme/env'), true);
  assert.equal(canAccess(p, 'acme/other'), false);
  assert.equal(principalFor(tokens, 'nope'), undefined);
});

test('faults: armed counts are consumed by matching requests only', () => {
  const f = new Faults();
  f.failNext(2, { status: 502, match: /^GET \/a/ }).malformNext(1, (b) => b);
  assert.equal(f.take('GET', '/b', ['status']), undefined);
  assert.deepEqual(f.take('GET', '/a/1', ['status']), { kind: 'status', status: 502 });
  assert.equal(f.take('GET', '/a/2', ['malform'])?.kind, 'malform');
  assert.equal(f.pending, 1);
  assert.deepEqual(f.take('GET', '/a/3'), { kind: 'status', status: 502 });
  assert.equal(f.pending, 0);
  assert.throws(() => f.failNext(0), RangeError);
});

test('parseCommit reads parents, signatures and a message after a signature block', () => {
  const text = [
    'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904',
    `parent ${'a'.repeat(40)}`,
    `parent ${'b'.repeat(40)}`,
    'author Jane Doe <jane@example.com> 1700000000 +0200',
    'committer GitHub <noreply@github.com> 1700000100 +0000',
    'gpgsig -----BEGIN PGP SIGNATURE-----',
    ' abc',
    ' -----END PGP SIGNATURE-----',
    '',
    'Merge pull request #1\n\nbody\n',
  ].join('\n');
  const c = parseCommit('c'.repeat(40), text);
  assert.deepEqual(c.parents, ['a'.repeat(40), 'b'.repeat(40)]);
  assert.deepEqual(c.author, { name: 'Jane Doe', email: 'jane@example.com', timestamp: 1700000000, timezone: '+0200' });
  assert.equal(c.message, 'Merge pull request #1\n\nbody\n');
});

test('refChanges lists created, moved and deleted refs', () => {
  const before = new Map([
    ['refs/heads/main', '1'.repeat(40)],
    ['refs/heads/old', '2'.repeat(40)],
  ]);
  const after = new Map([
    ['refs/heads/main', '3'.repeat(40)],
    ['refs/heads/new', '4'.repeat(40)],
  ]);
  assert.deepEqual(
    refChanges('acme/env', before, after).map((e) => [e.ref, e.before[0], e.after[0]]),
    [
      ['refs/heads/main', '1', '3'],
      ['refs/heads/new', ZERO_SHA[0], '4'],
      ['refs/heads/old', '2', ZERO_SHA[0]],
    ],
  );
});

test('combined status follows GitHub: failure beats pending beats success; none is pending', () => {
  const s = (state: StatusRecord['state']) => ({ state }) as StatusRecord;
  assert.equal(combinedState([]), 'pending');
  assert.equal(combinedState([s('success')]), 'success');
  assert.equal(combinedState([s('success'), s('pending')]), 'pending');
  assert.equal(combinedState([s('pending'), s('error')]), 'failure');
  assert.equal(combinedState([s('failure'), s('success')]), 'failure');
});

test('toJsonSchema turns OpenAPI nullable into JSON Schema, also beside oneOf', () => {
  assert.deepEqual(toJsonSchema({ type: 'string', nullable: true, enum: ['a'] }), {
    type: ['string', 'null'],
    enum: ['a', null],
  });
  assert.deepEqual(toJsonSchema({ nullable: true, allOf: [{ type: 'object' }] }), {
    anyOf: [{ allOf: [{ type: 'object' }] }, { type: 'null' }],
  });
  // A property named like a keyword is a property, not a keyword.
  assert.deepEqual(toJsonSchema({ type: 'object', properties: { nullable: { type: 'integer', nullable: true } } }), {
    type: 'object',
    properties: { nullable: { type: ['integer', 'null'] } },
  });
});

test('startTogether stops the part that started when the other fails, then throws its error', async () => {
  let stopped = 0;
  const up = Promise.resolve({ stop: async () => void stopped++ });
  const down = Promise.reject(new Error('bind: address already in use'));
  await assert.rejects(startTogether(up, down), /address already in use/);
  assert.equal(stopped, 1);
  const [a, b] = await startTogether(up, Promise.resolve({ stop: async () => {}, name: 'b' }));
  assert.equal(typeof a.stop, 'function');
  assert.equal(b.name, 'b');
});

test('etcdAnswers: an open port held by another HTTP server is not taken for etcd', async () => {
  const serve = async (body: string) => {
    const server = createServer((_req, res) => res.end(body)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    return { server, port: typeof address === 'object' && address ? address.port : 0 };
  };
  const other = await serve('# service=git-upload-pack\n');
  const jsonOther = await serve('{"message":"Not Found"}');
  const etcdLike = await serve('{"health":"true","reason":""}');
  try {
    assert.equal(await etcdAnswers(other.port), false);
    assert.equal(await etcdAnswers(jsonOther.port), false);
    assert.equal(await etcdAnswers(etcdLike.port), true);
    assert.equal(await etcdAnswers(await freePort()), false);
  } finally {
    for (const s of [other, jsonOther, etcdLike]) s.server.close();
  }
});

test('a test process ended by a signal takes the processes its world started with it', async () => {
  const processes = new URL('../src/processes.ts', import.meta.url).href;
  const script = `
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    const { startProcess } = await import(${JSON.stringify(processes)});
    const p = startProcess('sleep', 'sleep', ['300'], { logFile: join(tmpdir(), 'tether-sleep-' + process.pid + '.log') });
    console.log(p.pid);
    setInterval(() => {}, 1000);
  `;
  // Running, and not a zombie waiting for an init that reaps slowly.
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
    const pid = Number(line.toString().trim());
    assert.ok(pid > 0 && alive(pid), `the child runs: ${line}`);
    parent.kill(signal);
    const [, ended] = (await once(parent, 'exit')) as [number | null, string | null];
    assert.equal(ended, signal, 'the test process still ends by the signal');
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false, `${signal}: the world's process is gone`);
  }
});
