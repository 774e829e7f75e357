import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { main } from '../main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

test('tether --help lists the commands and exits 0', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  assert.match(c.out.join('\n'), /Usage: tether <command>/);
  assert.match(c.out.join('\n'), /\bsync\b/);
});

test('an unknown command is a usage error (exit 2) that names it', async () => {
  const c = capture();
  assert.equal(await main(['frobnicate'], c.io), 2);
  assert.match(c.err.join('\n'), /unknown command 'frobnicate'/);
});

test('the bin runs the bundle under plain node, with no TypeScript loader', () => {
  const bin = new URL('../../bin/tether.js', import.meta.url).pathname;
  // NODE_OPTIONS cleared: the test runner's `--import tsx` must not be what makes the bin work.
  const r = spawnSync(process.execPath, [bin, '--help'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tether — GitOps/);
  const bundle = readFileSync(new URL('../../dist/tether.mjs', import.meta.url), 'utf8');
  assert.doesNotMatch(bundle, /from ['"]tsx/, 'the bundle does not load tsx');
  assert.doesNotMatch(bundle, /\.\.\/cli\/main\.ts/, 'the bundle does not load TypeScript sources');
});
