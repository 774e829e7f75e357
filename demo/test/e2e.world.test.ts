import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../scenario.ts';

test('the whole loop: bump → PR → merge → synced → promote gated on status → heal → prune → broken image → rollback', async (t) => {
  const { steps } = await runScenario({ log: (line) => t.diagnostic(line) });
  assert.deepEqual(
    steps.map((s) => s.name.split(' — ')[0]!.split(':')[0]),
    [
      'Start the local world',
      'Create the app repo and the environment repo; start one agent per cluster',
      'CI built ghcr.io/acme/web',
      'A reviewer merges it',
      'The Action promotes dev → staging, gated on tether/dev/* being success; merged; staging syncs',
      'Someone scales staging by hand',
      'CI pushes an image that cannot be pulled',
      'The Action rolls dev back to its last good versions',
    ],
  );
  for (const s of steps) assert.ok(s.verified.length > 0, `${s.name} verified nothing`);
});
