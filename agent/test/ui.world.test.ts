// The agent's UI in a real browser against real agents: two clusters (dev and staging, each a kube-apiserver with
// controller-manager, scheduler and kwok so Pods "run") reporting on one env repo in the GitHub emulator, each agent
// serving its UI on a real socket, Debian's Chromium driven by playwright-core with real clicks and key presses.
// dev runs an image kwok will not pull (`:broken`), so its Pod fails as a kubelet's would. Every page is checked
// with axe-core (zero serious or critical violations) and leaves a screenshot in test-artifacts/.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../../testenv/src/chromium.ts';
import { waitFor } from '../../testenv/src/processes.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import type { Agent } from '../src/reconcile/agent.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = join(root, 'test-artifacts');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const API_TOKEN = 'ui-test-api-token-5d1f0c';
const CLUSTERS = ['dev', 'staging'] as const;
type Cluster = (typeof CLUSTERS)[number];
/** World setup and rollouts on a shared, loaded machine: generous, never tuned to one machine's speed. */
const WAIT_MS = 240_000;

const files = (env: Cluster, image: string): Record<string, string> => ({
  [`envs/${env}/web/namespace.yaml`]: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n',
  [`envs/${env}/web/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  replicas: 1
  progressDeadlineSeconds: 8
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: ${image}
`,
  [`envs/${env}/web/configmap.yaml`]: `apiVersion: v1
kind: ConfigMap
metadata: {name: web-settings, namespace: web}
data: {GREETING: "hello from ${env}"}
`,
});

describe('agent UI in Chromium', { timeout: 20 * 60_000 }, () => {
  let w: AgentWorld;
  const agents = {} as Record<Cluster, { agent: Agent; url: string }>;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page;
  let dev: string;
  /** What the dev agent asks of its apiserver, by verb. */
  let devRequests: Record<string, number>;
  /** The dev agent's UI once more, reloading itself every second (the live-refresh script). */
  let live: { url: string } | undefined;

  before(
    async () => {
      mkdirSync(artifacts, { recursive: true });
      w = await startAgentWorld({
        kube: { dev: 'full', staging: 'full' },
        github: true,
        files: { ...files('dev', 'ghcr.io/acme/web:broken'), ...files('staging', 'ghcr.io/acme/web:1.0.0') },
        message: 'Initial environments',
      });
      for (const c of CLUSTERS) {
        const counting = new CountingKubeClient(w.kubeClient(c));
        if (c === 'dev') devRequests = counting.requests;
        const agent = await w.createAgent(
          { cluster: c, apps: [w.app('web', `envs/${c}/web`, { namespace: 'web', interval: '1h' })] },
          { kube: counting, healthIntervalMs: 250 },
        );
        // refreshSeconds 0: a reload in the middle of a check would replace the page under the test.
        agents[c] = { agent, url: await w.serve(agent, { apiToken: API_TOKEN, refreshSeconds: 0 }) };
        await agent.start();
      }
      dev = agents.dev.url;
      live = { url: await w.serve(agents.dev.agent, { apiToken: API_TOKEN, refreshSeconds: 1 }) };
      // Both clusters have reported on the env repo: the fleet view has two rows to show.
      const head = await w.head();
      await waitFor(
        async () => {
          const res = await fetch(`${w.github.url}/repos/acme/env/commits/${head}/status`, {
            headers: { authorization: `token ${w.token}` },
          });
          const body = (await res.json()) as { statuses: { context: string }[] };
          return CLUSTERS.every((c) => body.statuses.some((s) => s.context === `tether/${c}/web`));
        },
        { timeoutMs: WAIT_MS, intervalMs: 500, describe: () => 'both agents to post tether/<cluster>/web' },
      );
      browser = await launchChromium();
      page = browser.context.pages()[0] ?? (await browser.context.newPage());
    },
    { timeout: 15 * 60_000 },
  );

  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  /** Runs axe-core in the page (evaluated over the DevTools protocol: the page's CSP stays as strict as served). */
  async function accessibility(name: string): Promise<void> {
    await page.evaluate(AXE);
    type Violation = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };
    const violations = (await page.evaluate(
      'axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }).then(r => r.violations)',
    )) as Violation[];
    const bad = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    assert.deepEqual(bad, [], `${name}: serious or critical accessibility violations`);
  }

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  test('the overview lists the app with counts; filters narrow it', async () => {
    await page.goto(`${dev}/`);
    assert.equal(await page.title(), 'Tether · dev');
    assert.ok(await page.getByRole('link', { name: 'web', exact: true }).isVisible());
    assert.ok(await page.locator('nav.counts').getByText('apps').isVisible());
    await page.selectOption('#f-sync', 'Unknown');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/sync=Unknown/);
    assert.equal(await page.getByRole('link', { name: 'web', exact: true }).count(), 0);
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL(`${dev}/`);
    await accessibility('overview');
    await shot('ui-overview');
  });

  test("expanding the Deployment to its ReplicaSet and Pod shows the failing Pod's message", async () => {
    const pod = page.locator('li[data-subject^="Pod/web/web-"]').first();
    await waitFor(
      async () => {
        await page.goto(`${dev}/apps/web`);
        return (await pod.count()) > 0 && /ErrImagePull|ImagePullBackOff/.test((await pod.textContent()) ?? '');
      },
      { timeoutMs: WAIT_MS, intervalMs: 1000, describe: () => 'the failing Pod in the tree' },
    );
    assert.ok(!(await pod.isVisible()), 'collapsed at first');
    await page.locator('details[data-key="Deployment/web/web"] > summary').click();
    const rs = page.locator('li[data-subject^="ReplicaSet/web/web-"] > details > summary').first();
    assert.ok(await rs.isVisible(), 'the ReplicaSet shows once the Deployment is expanded');
    await rs.click();
    assert.ok(await pod.isVisible(), 'the Pod shows once the ReplicaSet is expanded');
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
    const text = (await pod.innerText()).replace(/\s+/g, ' ');
    assert.match(
      text,
      /Pod web-\S+ Degraded ghcr\.io\/acme\/web:broken 0 restarts age \S+.* container web: ErrImagePull/,
    );
    await accessibility('app page with the tree expanded');
    await shot('ui-tree');
    // The tree comes from the agent's watches: more views cost the apiserver nothing.
    const before = { ...devRequests };
    for (let i = 0; i < 5; i++) await page.goto(`${dev}/apps/web`);
    assert.deepEqual({ ...devRequests }, before, 'page views made no Kubernetes request');
  });

  test('logging in with the API token, then Sync now reached by keyboard adds a history entry', async () => {
    await page.goto(`${dev}/apps/web`);
    await page.getByRole('link', { name: 'Log in to sync or refresh' }).click();
    await page.waitForURL(/\/login\?next=/);
    await accessibility('login page');
    await shot('ui-login');
    await page.getByLabel('API token').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.ok(await page.getByText('That is not the API token.').isVisible());
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${dev}/apps/web`);
    const cookies = await browser!.context.cookies(dev);
    const session = cookies.find((c) => c.name === 'tether_session');
    assert.ok(session?.httpOnly && session.sameSite === 'Strict', 'HttpOnly, SameSite=Strict session cookie');
    assert.ok(!session.value.includes(API_TOKEN));

    const rows = page.locator('#sync-history tbody tr');
    const before = await rows.count();
    // Keyboard only: Tab from the top of the page until the Sync button has focus, then Enter.
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 25 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(
        '(document.activeElement && document.activeElement.textContent || "").trim() === "Sync now"',
      );
    }
    assert.ok(reached, 'the Sync now button is reachable with Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${dev}/apps/web?done=sync`);
    assert.ok(await page.getByRole('status').getByText('Sync requested').isVisible());
    await waitFor(
      async () => {
        await page.reload();
        return (await rows.count()) > before && /\bapi\b/.test((await rows.first().textContent()) ?? '');
      },
      { timeoutMs: WAIT_MS, intervalMs: 500, describe: () => 'a new history entry triggered by the UI' },
    );
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
    const newest = (await rows.first().innerText()).replace(/\s+/g, ' ');
    assert.match(newest, /api [0-9a-f]{7} /);
    // The first sync's status was written to GitHub (and, as the rollout failed, replaced by the failure verdict).
    // A busy machine may still hold the write in the reporter's queue (shown as `queued`): wait until it is delivered.
    let first = '';
    await waitFor(
      async () => {
        await page.reload();
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
        first = (await rows.last().innerText()).replace(/\s+/g, ' ');
        return /start [0-9a-f]{7} .* tether\/dev\/web (posted|superseded)/.test(first);
      },
      { timeoutMs: WAIT_MS, intervalMs: 500, describe: () => `the first sync's status delivered: ${first}` },
    );
    await accessibility('app page after a sync');
    await shot('ui-history');
  });

  test('a state-changing POST without the CSRF token is refused with 403 and changes nothing', async () => {
    await page.goto(`${dev}/apps/web`);
    const rows = page.locator('#sync-history tbody tr');
    const before = await rows.count();
    // The same logged-in browser posts a form without the token (same origin, session cookie sent).
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/apps/web/sync') && r.request().method() === 'POST'),
      page.evaluate(`(() => {
        const f = document.createElement('form');
        f.method = 'post';
        f.action = '/apps/web/sync';
        document.body.appendChild(f);
        f.submit();
      })()`),
    ]);
    assert.equal(response.status(), 403);
    await page.waitForURL(`${dev}/apps/web/sync`);
    await page.getByText('missing its CSRF token').waitFor({ state: 'visible' });
    await new Promise((r) => setTimeout(r, 2000));
    await page.goto(`${dev}/apps/web`);
    assert.equal(await rows.count(), before, 'no sync ran');
  });

  test('Refresh fetches and compares without applying, and shows the result on the page', async () => {
    await page.goto(`${dev}/apps/web`);
    const rows = page.locator('#sync-history tbody tr');
    const before = await rows.count();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForURL(`${dev}/apps/web?done=refresh`);
    const result = page.locator('#refresh-result');
    assert.match(
      ((await result.textContent()) ?? '').replace(/\s+/g, ' '),
      /revision [0-9a-f]{7} is Synced (Degraded|Progressing) — a sync would change nothing/,
    );
    assert.equal(await rows.count(), before, 'a refresh is not a sync');
  });

  test('a heal shows in the history: a hand edit of a managed ConfigMap is put back', async () => {
    await w.world.clusters.dev!.request(
      'PATCH',
      '/api/v1/namespaces/web/configmaps/web-settings',
      { data: { GREETING: 'edited by hand' } },
      'application/merge-patch+json',
    );
    const heals = page.locator('#heal-history tbody tr');
    await waitFor(
      async () => {
        await page.goto(`${dev}/apps/web`);
        return (await heals.count()) > 0;
      },
      { timeoutMs: WAIT_MS, intervalMs: 500, describe: () => 'the heal in the history' },
    );
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
    assert.match((await heals.first().innerText()).replace(/\s+/g, ' '), /ConfigMap\/web\/web-settings configured/);
  });

  test('with JavaScript the page refreshes itself under the strict CSP and keeps expanded rows open', async () => {
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
    });
    await page.goto(`${live!.url}/apps/web`);
    assert.equal(await page.locator('noscript').count(), 1, 'the meta refresh is only for pages without scripts');
    await page.locator('details[data-key="Deployment/web/web"] > summary').click();
    // The script's own fetch (marked by its header) comes back and replaces <main>.
    await page.waitForResponse((r) => r.request().headers()['x-tether-refresh'] === '1');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(
      await page.locator('details[data-key="Deployment/web/web"]').evaluate((d) => (d as { open: boolean }).open),
      'the Deployment stays expanded after a refresh',
    );
    assert.equal(page.url(), `${live!.url}/apps/web`, 'refreshed in place, not reloaded');
    assert.deepEqual(blocked, [], 'the CSP blocked nothing');
  });

  test('the fleet view shows the app in both clusters, read from GitHub commit statuses', async () => {
    await page.goto(`${dev}/apps/web`);
    await page.getByRole('link', { name: 'Fleet view' }).click();
    await page.waitForURL(`${dev}/apps/web/fleet`);
    const table = page.locator('#fleet');
    const rows = (await table.locator('tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.equal(rows.length, 2, rows.join('\n'));
    assert.match(rows[0]!, /^dev \(this cluster\) [0-9a-f]{7} (pending|failure) /);
    assert.match(rows[1]!, /^staging [0-9a-f]{7} (pending|success) /);
    await accessibility('fleet view');
    await shot('ui-fleet');
  });
});
