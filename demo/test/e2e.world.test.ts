import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium } from '../../testenv/src/chromium.ts';
import { runScenario } from '../scenario.ts';

const artifacts = new URL('../../test-artifacts/', import.meta.url).pathname;

test('the whole loop: bump → PR → merge → synced → promote gated on status → heal → prune → broken image → rollback', async (t) => {
  const { steps, running } = await runScenario({ log: (line) => t.diagnostic(line), keep: true });
  try {
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

    // The status page of the real dev agent, in a real browser, after the loop.
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${running!.agents.dev.url}/apps/web`);
      const text = (await page.locator('body').textContent()) ?? '';
      assert.match(text, /Deployment\/web\/web/);
      assert.match(text, /Healthy/);
      assert.match(text, /Synced/);
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'status-page-real-agent.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  } finally {
    await running?.stop();
  }
});
