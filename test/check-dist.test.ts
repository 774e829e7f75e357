import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const script = new URL('../scripts/build.mjs', import.meta.url).pathname;
const committed = new URL('../action/dist/index.js', import.meta.url).pathname;
const builtDir = new URL('../dist/', import.meta.url).pathname;

function check(...args: string[]) {
  return spawnSync(process.execPath, [script, '--check', ...args], { encoding: 'utf8' });
}

test('check-dist passes on the committed Action bundle and the built tether bundle', () => {
  const ok = check();
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /action\/dist\/index\.js is up to date/);
  assert.match(ok.stdout, /^dist is up to date \(\d+ files/m);
});

test('check-dist fails on a stale Action bundle', () => {
  const stale = join(mkdtempSync(join(tmpdir(), 'tether-dist-')), 'index.js');
  writeFileSync(stale, readFileSync(committed, 'utf8').replace('is not owner/name', 'was changed by hand'));
  const bad = check('action', '--dist', stale);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is stale/);
});

test('check-dist fails on a stale or missing file of the split tether bundle', () => {
  // The entry, the parse worker's entry and the chunks they load: each must match what the sources build.
  const names = readdirSync(builtDir);
  assert.ok(names.includes('tether.mjs') && names.includes('parse-worker.mjs'), names.join(', '));
  assert.ok(
    names.some((n) => /^chunk-\w+\.mjs$/.test(n)),
    names.join(', '),
  );
  const dir = mkdtempSync(join(tmpdir(), 'tether-dist-'));
  cpSync(builtDir, dir, { recursive: true });
  assert.equal(check('tether', '--dist', dir).status, 0, 'a copy of the built files is up to date');
  const text = readFileSync(join(dir, 'tether.mjs'), 'utf8');
  assert.ok(text.includes('unknown command'), 'the entry holds the CLI');
  writeFileSync(join(dir, 'tether.mjs'), text.replace('unknown command', 'unrecognised command'));
  const bad = check('tether', '--dist', dir);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /tether\.mjs is stale/);
  const missing = check('tether', '--dist', mkdtempSync(join(tmpdir(), 'tether-dist-')));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /parse-worker\.mjs is missing/);
});

test('an unknown build target is a usage error naming it', () => {
  const r = check('agentx');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown build target 'agentx'/);
});

test('every shipped bundle is ASCII only, so V8 stores its script at one byte per character', () => {
  const files = [committed, ...readdirSync(builtDir).map((n) => join(builtDir, n))];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const at = text.search(/[^\x00-\x7f]/);
    assert.equal(at, -1, `${f} has a non-ASCII character near: ${text.slice(Math.max(0, at - 40), at + 10)}`);
  }
  // The status page's separators are still in its templates, as escapes (a template's cooked text is the same).
  const server = readdirSync(builtDir).find((n) => n.startsWith('server-'));
  assert.ok(server);
  assert.ok(readFileSync(join(builtDir, server), 'utf8').includes('\\u00b7'));
});
