// The HTTP server's part in apps defined in Git: the app sources' route, the push webhook waking a source, and
// where each app is defined on the API and the status page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppSourceView } from '../src/core/app-set-plan.ts';
import { createServer } from '../src/edges/http/server.ts';
import { FIXTURE_NOW, fixtureApps, fixtureMetrics, InMemoryAgentView } from './fixtures/agent-view.ts';
import { signedPush } from './fixtures/webhooks.ts';

const SECRET = 'whsec-apps-from-git';

/** The fixture view plus one app source that wakes on pushes to acme/env main. */
class WithSources extends InMemoryAgentView {
  readonly woken: string[] = [];
  appSources(): AppSourceView[] {
    return [
      {
        name: 'apps',
        repo: 'https://x-access-token:ghs_secret@github.com/acme/env.git',
        ref: 'main',
        path: 'apps/prod',
        revision: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
        state: 'failure',
        description: 'apps/prod/bad.yaml: App/bad: spec.prune: … · 3 apps, 1 project',
        apps: ['billing'],
        parents: ['team'],
        projects: ['team-a'],
        errors: ['apps/prod/bad.yaml: App/bad: spec.prune: Invalid input: expected boolean, received string'],
        notes: [],
      },
    ];
  }
  requestSourcesForPush(repoFullName: string, ref: string, reason: string): string[] {
    if (repoFullName !== 'acme/env' || ref !== 'refs/heads/main') return [];
    this.woken.push(reason);
    return ['apps'];
  }
}

const setup = () => {
  const view = new WithSources('prod-eu', fixtureApps(), fixtureMetrics());
  return { view, app: createServer(view, { now: () => FIXTURE_NOW, onError: () => {}, webhookSecret: SECRET }) };
};

test('GET /api/app-sources lists every source with its problems, credentials redacted', async () => {
  const { app } = setup();
  const res = await app.request('/api/app-sources');
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(!text.includes('ghs_secret'), text);
  const body = JSON.parse(text) as { cluster: string; sources: AppSourceView[] };
  assert.equal(body.cluster, 'prod-eu');
  assert.equal(body.sources[0]!.name, 'apps');
  assert.deepEqual(body.sources[0]!.parents, ['team']);
  assert.match(body.sources[0]!.errors[0]!, /^apps\/prod\/bad\.yaml: App\/bad: spec\.prune: /);
});

test('a push to a source’s repo and branch wakes the source as well as the apps', async () => {
  const { app, view } = setup();
  const res = await app.request(signedPush(SECRET));
  assert.equal(res.status, 202);
  const answer = (await res.json()) as { triggered: string[]; sources?: string[] };
  assert.deepEqual(answer.sources, ['apps']);
  assert.deepEqual(view.woken, ['webhook push a1b2c3d']);
});

test('the API and the status page say where each app is defined', async () => {
  const { app } = setup();
  const apps = (await (await app.request('/api/apps')).json()) as { apps: { name: string; origin: string }[] };
  assert.equal(apps.apps.find((a) => a.name === 'web')!.origin, 'config');
  assert.equal(
    apps.apps.find((a) => a.name === 'billing')!.origin,
    'https://github.com/acme/env.git@main:apps/prod/billing.yaml',
  );
  const index = await (await app.request('/')).text();
  assert.ok(index.includes('>git:apps/prod/billing.yaml</div>'), 'the index names the file');
  const page = await (await app.request('/apps/billing')).text();
  assert.ok(
    page.includes(
      '<dt>Defined in</dt><dd class="mono">https://github.com/acme/env.git@main:apps/prod/billing.yaml</dd>',
    ),
  );
  const web = await (await app.request('/apps/web')).text();
  assert.ok(web.includes('<dt>Defined in</dt><dd class="mono">the agent’s config file</dd>'));
});
