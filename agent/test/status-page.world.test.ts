// The status page in a real browser: the agent's server on a real socket, Debian's Chromium driven by
// playwright-core. It checks what a person sees (names, coloured badges, resources, the diff) and leaves
// screenshots in test-artifacts/ for review. The AgentView is the in-memory fixture (every badge and state at once);
// demo/test/e2e.world.test.ts looks at the real agent's page after the whole loop.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../testenv/src/chromium.ts';
import { createServer } from '../src/edges/http/server.ts';
import { FIXTURE_NOW, fixtureAgentView } from './fixtures/agent-view.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = join(root, 'test-artifacts');

function listen(app: ReturnType<typeof createServer>): Promise<Server> {
  return new Promise((resolveServer, reject) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolveServer(server as Server),
    ) as Server;
    server.once('error', reject);
  });
}

describe('status page in Chromium', () => {
  let server: Server;
  let baseUrl: string;
  let context: BrowserContext;
  let page: Page;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    // refreshSeconds 0: a meta refresh in the middle of a check would reload the page under the test.
    const app = createServer(fixtureAgentView(), { now: () => FIXTURE_NOW, refreshSeconds: 0 });
    server = await listen(app);
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    context = browser.context;
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  /** The computed background colour of the first visible badge with this text. */
  async function badgeColor(text: string): Promise<string> {
    const badge = page.locator('.badge', { hasText: new RegExp(`^${text}$`) }).first();
    assert.ok(await badge.isVisible(), `badge ${text} visible`);
    // Runs in the page; the project compiles without the DOM lib, hence the cast.
    type Css = { getComputedStyle(el: unknown): { backgroundColor: string } };
    return badge.evaluate((el) => (globalThis as unknown as Css).getComputedStyle(el).backgroundColor);
  }

  test('/ lists the apps with coloured sync and health badges', async () => {
    const res = await page.goto(`${baseUrl}/`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'Tether · prod-eu');
    for (const name of ['web', 'billing', 'batch', 'worker']) {
      assert.ok(await page.getByRole('link', { name, exact: true }).isVisible(), name);
    }
    const row = page.locator('tr', { has: page.getByRole('link', { name: 'web', exact: true }) });
    assert.match(
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
      (await row.innerText()).replace(/\s+/g, ' '),
      /web .*OutOfSync Progressing 3f9c2a7 5 min ago · 2\.3 s/,
    );
    assert.equal(
      await page.getByRole('link', { name: '3f9c2a7' }).getAttribute('href'),
      'https://github.com/acme/env/commit/3f9c2a7d1e4b5a6c7d8e9f0a1b2c3d4e5f6a7b8c',
    );
    assert.ok(await page.getByText('fetch failed: git: fetch https://github.com/acme/worker-env.git').isVisible());
    // The badges are coloured, and differently for good and bad news.
    const colors = {
      Synced: await badgeColor('Synced'),
      OutOfSync: await badgeColor('OutOfSync'),
      Degraded: await badgeColor('Degraded'),
      Healthy: await badgeColor('Healthy'),
    };
    assert.equal(colors.Synced, 'rgb(218, 251, 225)');
    assert.equal(colors.Healthy, colors.Synced);
    assert.equal(colors.OutOfSync, 'rgb(255, 248, 197)');
    assert.equal(colors.Degraded, 'rgb(255, 235, 233)');
    await page.screenshot({ path: join(artifacts, 'status-page.png'), fullPage: true });
  });

  test('/apps/web shows the resources with health, the last sync, the last heal and the diff', async () => {
    await page.goto(`${baseUrl}/`);
    await page.getByRole('link', { name: 'web', exact: true }).click();
    await page.waitForURL(`${baseUrl}/apps/web`);
    assert.equal(await page.title(), 'web · Tether · prod-eu');
    const resources = page.locator('table').first();
    const rows = (await resources.locator('tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.deepEqual(rows, [
      'Namespace — web Healthy Namespace/web: no status to wait for',
      'ConfigMap web settings Healthy ConfigMap/web/settings: no status to wait for',
      'PersistentVolumeClaim web data Healthy PersistentVolumeClaim/web/data: bound',
      'Deployment web api Progressing Deployment/web/api: 1 of 3 replicas updated',
      'Service web public Progressing Service/web/public: waiting for a load balancer address',
      'CronJob web nightly Suspended CronJob/web/nightly: suspended',
    ]);
    assert.ok(await page.getByText('data.LOG_LEVEL changed by kubectl-edit').isVisible());
    const diff = page.locator('pre.diff');
    assert.ok(await diff.isVisible());
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
    const text = await diff.innerText();
    assert.match(text, /^- {8}- image: ghcr\.io\/acme\/api:1\.4\.0$/m);
    assert.match(text, /^\+ {8}- image: ghcr\.io\/acme\/api:1\.5\.0$/m);
    await page.screenshot({ path: join(artifacts, 'status-page-web.png'), fullPage: true });
  });
});
