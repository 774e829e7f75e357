// Debian's Chromium driven by playwright-core, for tests that look at a page as a person would. Chromium is
// installed by scripts/ensure-chromium.sh (the test runner calls it); a missing one fails loudly, never skips.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where Chromium is (`TETHER_CHROMIUM` overrides Debian's path). */
export const CHROMIUM = process.env.TETHER_CHROMIUM ?? '/usr/bin/chromium';

/** Installs Chromium through scripts/ensure-chromium.sh when missing; throws with the reason when it cannot. */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const r = spawnSync('bash', [join(root, 'scripts', 'ensure-chromium.sh')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0 || !existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is needed at ${CHROMIUM} for the browser tests and could not be installed ` +
        `(scripts/ensure-chromium.sh exited ${r.status}). Install it with: apt-get install -y chromium`,
    );
  }
}

/** A headless Chromium with a fresh profile and no background network traffic; `close()` removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  ensureChromium();
  const userDataDir = mkdtempSync(join(tmpdir(), 'tether-chromium-'));
  // playwright refuses --user-data-dir in args; launchPersistentContext is how it takes a fresh profile.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
