import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const script = new URL('../scripts/build-action.mjs', import.meta.url).pathname;
const committed = new URL('../action/dist/index.js', import.meta.url).pathname;

test('check-dist passes on the committed bundle and fails on a stale one', () => {
  const ok = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);

  const stale = join(mkdtempSync(join(tmpdir(), 'tether-dist-')), 'index.js');
  writeFileSync(stale, readFileSync(committed, 'utf8').replace('is not owner/name', 'was changed by hand'));
  const bad = spawnSync(process.execPath, [script, '--check', '--dist', stale], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is stale/);
});
