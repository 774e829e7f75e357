import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const script = new URL('../scripts/build.mjs', import.meta.url).pathname;
const committed = new URL('../action/dist/index.js', import.meta.url).pathname;
const built = new URL('../dist/tether.mjs', import.meta.url).pathname;

function check(...args: string[]) {
  return spawnSync(process.execPath, [script, '--check', ...args], { encoding: 'utf8' });
}

test('check-dist passes on the committed Action bundle and the built tether bundle', () => {
  const ok = check();
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /action\/dist\/index\.js is up to date/);
  assert.match(ok.stdout, /dist\/tether\.mjs is up to date/);
});

test('check-dist fails on a stale Action bundle', () => {
  const stale = join(mkdtempSync(join(tmpdir(), 'tether-dist-')), 'index.js');
  writeFileSync(stale, readFileSync(committed, 'utf8').replace('is not owner/name', 'was changed by hand'));
  const bad = check('action', '--dist', stale);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is stale/);
});

test('check-dist fails on a stale or missing tether bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-dist-'));
  const stale = join(dir, 'tether.mjs');
  const text = readFileSync(built, 'utf8');
  assert.ok(text.includes('unknown command'), 'the CLI bundle holds the CLI');
  writeFileSync(stale, text.replace('unknown command', 'unrecognised command'));
  const bad = check('tether', '--dist', stale);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is stale/);
  const missing = check('tether', '--dist', join(dir, 'none.mjs'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /is missing/);
});

test('an unknown build target is a usage error naming it', () => {
  const r = check('agentx');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown build target 'agentx'/);
});
