// One owner per object, against a real apiserver and Git server: two apps declaring one ConfigMap do not fight, and
// an object Tether adopted is not pruned without the app's consent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { statusFor } from '../src/core/commit-status.ts';
import { APPLYSET } from '../src/core/inventory.ts';
import type { K8sObject } from '../src/core/types.ts';
import { CountingKubeClient } from '../src/edges/kube/counting-kube-client.ts';
import { SelfHeal } from '../src/reconcile/self-heal.ts';
import { pruneOptions } from '../src/reconcile/sync.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  owner: ${value}\n`;

describe('one owner per object', () => {
  let w: AgentWorld;
  before(async () => {
    w = await startAgentWorld({
      files: {
        'envs/dev/a/shared.yaml': cm('shared', 'a'),
        'envs/dev/a/own.yaml': cm('a-only', 'a'),
        'envs/dev/b/shared.yaml': cm('shared', 'b'),
        'envs/dev/b/own.yaml': cm('b-only', 'b'),
        'envs/dev/keep/hand.yaml': cm('hand-made', 'git'),
        'envs/dev/keep/app.yaml': cm('keep-app', 'git'),
        'envs/dev/drop/hand.yaml': cm('hand-made-2', 'git'),
        'envs/dev/drop/app.yaml': cm('drop-app', 'git'),
        // 20 ConfigMaps, one of them a's and one made by hand: a first sync reads them with one list.
        ...Object.fromEntries(
          Array.from({ length: 20 }, (_, i) => [`envs/dev/bulk/cm-${i}.yaml`, cm(`bulk-${i}`, 'bulk')]),
        ),
        'envs/dev/bulk/theirs.yaml': cm('a-only', 'bulk'),
      },
    });
  });
  after(() => w?.stop());

  const makeSync = (name: string, overrides: Partial<ReturnType<typeof pruneOptions>> = {}) =>
    w.appSync({ name, path: `envs/dev/${name}`, prune: pruneOptions(overrides) });
  const get = (name: string) => w.get(`/api/v1/namespaces/default/configmaps/${name}`);
  const owner = (o: K8sObject | undefined) => (o?.data as { owner?: string } | undefined)?.owner;
  const handMade = async (name: string) => {
    const r = await w.kube.request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
      data: { owner: 'hand' },
    });
    assert.equal(r.status, 201);
  };

  test('two apps declaring one ConfigMap: the second gets conflict, and the object does not move for 20 s', async () => {
    const a = await makeSync('a');
    const b = await makeSync('b');
    const healA = new SelfHeal(a, { kube: w.client, discovery: w.discovery }, { debounceMs: 50 });
    const healB = new SelfHeal(b, { kube: w.client, discovery: w.discovery }, { debounceMs: 50 });
    try {
      assert.equal((await a.sync()).error, undefined);
      await healA.update();
      const rv0 = (await get('shared'))?.metadata.resourceVersion;
      const out = await b.sync();
      await healB.update();
      const entry = out.entries.find((e) => e.subject === 'ConfigMap/default/shared');
      assert.equal(entry?.action, 'conflict');
      assert.equal(entry?.reason, 'owned by the ApplySet of ConfigMap/tether-system/tether-a (tether/v1)');
      assert.equal(out.entries.find((e) => e.subject === 'ConfigMap/default/b-only')?.action, 'created');
      assert.equal(b.state.sync, 'OutOfSync');
      const status = statusFor(b.state, { cluster: 'dev' });
      assert.equal(status.state, 'failure');
      assert.match(
        status.description,
        /^Conflict: ConfigMap\/default\/shared: owned by the ApplySet of ConfigMap\/tether-system\/tether-a/,
      );

      // 20 s of both apps syncing (forced, so each sync re-applies) with self-heal on: at most one move per sync.
      const parentRv = async () =>
        ((await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-b')).body as K8sObject)
          .metadata.resourceVersion;
      const parentBefore = await parentRv();
      let syncs = 0;
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        await a.sync({ force: true });
        await b.sync({ force: true });
        syncs += 2;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const shared = await get('shared');
      const moves = Number(shared?.metadata.resourceVersion) - Number(rv0);
      // Stricter than "at most once per sync": nobody writes it at all (a's syncs find it unchanged, b's leave it).
      assert.equal(owner(shared), 'a');
      assert.equal(shared?.metadata.labels?.[APPLYSET.partOfLabel], a.applySetId);
      assert.equal(
        shared?.metadata.resourceVersion,
        rv0,
        `the shared ConfigMap moved during ${syncs} syncs (global rv delta ${moves})`,
      );
      assert.equal(b.state.sync, 'OutOfSync');
      // Nor does b's inventory churn while the conflict lasts.
      assert.equal(await parentRv(), parentBefore);
    } finally {
      await Promise.all([healA.stop(), healB.stop()]);
    }
  });

  test('a hand-made ConfigMap adopted and then dropped from Git is skipped with the reason', async () => {
    await handMade('hand-made');
    const app = await makeSync('keep');
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.deepEqual(
      out.entries.find((e) => e.subject === 'ConfigMap/default/hand-made'),
      {
        subject: 'ConfigMap/default/hand-made',
        action: 'adopted',
        reason: 'was live without an owner; Tether did not create it',
      },
    );
    assert.equal(out.entries.find((e) => e.subject === 'ConfigMap/default/keep-app')?.action, 'created');
    assert.equal(owner(await get('hand-made')), 'git');
    const parent = await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-keep');
    assert.equal(
      (parent.body as K8sObject & { data: Record<string, string> }).data.adopted,
      '/ConfigMap/default/hand-made\n',
    );

    await w.commit({ 'envs/dev/keep/hand.yaml': null }, 'drop');
    const dropped = await app.sync();
    assert.equal(dropped.error, undefined, JSON.stringify(dropped.error));
    const kept = dropped.entries.find((e) => e.subject === 'ConfigMap/default/hand-made');
    assert.equal(kept?.action, 'skipped');
    assert.match(kept?.reason ?? '', /adopted: Tether took it over but did not create it \(set pruneAdopted: true/);
    assert.ok(await get('hand-made'));
    // An object Tether created whose label was removed by hand is relabelled as ours, not "adopted".
    const unlabel = await w.kube.request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/keep-app',
      { metadata: { labels: { [APPLYSET.partOfLabel]: null } } },
      'application/merge-patch+json',
    );
    assert.equal(unlabel.status, 200);
    // Kept in the inventory: the next sync still knows it is adopted.
    await w.commit({ 'envs/dev/keep/app.yaml': cm('keep-app', 'v2') }, 'touch');
    const again = await app.sync();
    assert.equal(again.entries.find((e) => e.subject === 'ConfigMap/default/hand-made')?.action, 'skipped');
    assert.equal(again.entries.find((e) => e.subject === 'ConfigMap/default/keep-app')?.action, 'configured');
    assert.equal((await get('keep-app'))?.metadata.labels?.[APPLYSET.partOfLabel], app.applySetId);
  });

  test('with pruneAdopted: true an adopted object dropped from Git is pruned', async () => {
    await handMade('hand-made-2');
    const app = await makeSync('drop', { pruneAdopted: true });
    const out = await app.sync();
    assert.equal(out.entries.find((e) => e.subject === 'ConfigMap/default/hand-made-2')?.action, 'adopted');
    await w.commit({ 'envs/dev/drop/hand.yaml': null }, 'drop');
    const dropped = await app.sync();
    assert.equal(dropped.entries.find((e) => e.subject === 'ConfigMap/default/hand-made-2')?.action, 'pruned');
    assert.equal(await get('hand-made-2'), undefined);
  });

  /** Creates a ConfigMap as Argo CD leaves one (tracking id, instance label) and one as Flux leaves one (its labels). */
  const managedByTools = async (argo: string, flux: string) => {
    for (const [name, labels, annotations] of [
      [
        argo,
        { 'app.kubernetes.io/instance': 'guestbook' },
        { 'argocd.argoproj.io/tracking-id': `guestbook:/ConfigMap:default/${argo}` },
      ],
      [
        flux,
        { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' },
        {},
      ],
    ] as const) {
      const r = await w.kube.request('POST', '/api/v1/namespaces/default/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, labels, annotations },
        data: { owner: 'tool' },
      });
      assert.equal(r.status, 201);
    }
  };

  test('objects Argo CD or Flux manage are not taken over', async () => {
    await managedByTools('argo-owned', 'flux-owned');
    await w.commit(
      { 'envs/dev/tools/a.yaml': cm('argo-owned', 'git'), 'envs/dev/tools/f.yaml': cm('flux-owned', 'git') },
      'collide with tools',
    );
    const app = await makeSync('tools');
    const out = await app.sync();
    const reasons = Object.fromEntries(out.entries.map((e) => [e.subject, `${e.action}: ${e.reason}`]));
    assert.deepEqual(reasons, {
      'ConfigMap/default/argo-owned': 'conflict: managed by Argo CD application guestbook',
      'ConfigMap/default/flux-owned': 'conflict: managed by Flux Kustomization flux-system/apps',
    });
    assert.equal(owner(await get('argo-owned')), 'tool');
    assert.equal(owner(await get('flux-owned')), 'tool');
  });

  test('takeOver: objects Argo CD or Flux manage are adopted, their markers removed, and stay ours', async () => {
    await managedByTools('argo-taken', 'flux-taken');
    await w.commit(
      { 'envs/dev/take/a.yaml': cm('argo-taken', 'git'), 'envs/dev/take/f.yaml': cm('flux-taken', 'git') },
      'take over from tools',
    );
    const app = await w.appSync({ name: 'take', path: 'envs/dev/take', takeOver: ['argocd', 'flux'] });
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    const reasons = Object.fromEntries(out.entries.map((e) => [e.subject, `${e.action}: ${e.reason}`]));
    assert.deepEqual(reasons, {
      'ConfigMap/default/argo-taken':
        'adopted: taken over from Argo CD application guestbook (takeOver: argocd); Tether did not create it',
      'ConfigMap/default/flux-taken':
        'adopted: taken over from Flux Kustomization flux-system/apps (takeOver: flux); Tether did not create it',
    });
    assert.equal(app.state.sync, 'Synced');
    const argo = await get('argo-taken');
    assert.equal(owner(argo), 'git');
    assert.equal(argo?.metadata.labels?.[APPLYSET.partOfLabel], app.applySetId);
    assert.equal(argo?.metadata.annotations?.['argocd.argoproj.io/tracking-id'], undefined);
    assert.equal(argo?.metadata.labels?.['app.kubernetes.io/instance'], 'guestbook', 'the Helm instance label stays');
    const flux = await get('flux-taken');
    assert.equal(owner(flux), 'git');
    assert.equal(flux?.metadata.labels?.[APPLYSET.partOfLabel], app.applySetId);
    assert.equal(flux?.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], undefined);
    const parent = await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-take');
    assert.equal(
      (parent.body as K8sObject & { data: Record<string, string> }).data.adopted,
      '/ConfigMap/default/argo-taken\n/ConfigMap/default/flux-taken\n',
    );
    // The next sync finds them members: nothing adopted again, no conflict.
    const again = await app.sync({ force: true });
    assert.deepEqual(
      again.entries.map((e) => e.action),
      ['unchanged', 'unchanged'],
    );
  });

  test('Delete=false: an object Git drops is left in place and let go, never deleted', async () => {
    const keep = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: never-delete\n  annotations:\n    argocd.argoproj.io/sync-options: Delete=false\ndata:\n  owner: git\n`;
    await w.commit(
      { 'envs/dev/rel/keep.yaml': keep, 'envs/dev/rel/other.yaml': cm('rel-other', 'git') },
      'an object that outlives its app',
    );
    const app = await makeSync('rel');
    assert.equal((await app.sync()).error, undefined);
    assert.equal((await get('never-delete'))?.metadata.labels?.[APPLYSET.partOfLabel], app.applySetId);
    await w.commit({ 'envs/dev/rel/keep.yaml': null }, 'drop');
    const dropped = await app.sync();
    assert.equal(dropped.error, undefined, JSON.stringify(dropped.error));
    assert.deepEqual(
      dropped.entries.find((e) => e.subject === 'ConfigMap/default/never-delete'),
      {
        subject: 'ConfigMap/default/never-delete',
        action: 'skipped',
        reason:
          'argocd.argoproj.io/sync-options: Delete=false: left in place and removed from the inventory (no longer managed)',
      },
    );
    const live = await get('never-delete');
    assert.equal(owner(live), 'git', 'still there');
    assert.equal(live?.metadata.labels?.[APPLYSET.partOfLabel], undefined, 'no longer a member');
    const parent = await w.kube.request('GET', '/api/v1/namespaces/tether-system/configmaps/tether-rel');
    assert.doesNotMatch(JSON.stringify(parent.body), /never-delete/);
    assert.equal(app.state.sync, 'Synced');
    // The next sync does not see it at all.
    const again = await app.sync({ force: true });
    assert.equal(
      again.entries.find((e) => e.subject === 'ConfigMap/default/never-delete'),
      undefined,
    );
    assert.ok(await get('never-delete'));
  });

  test('a first sync of many objects of one kind reads them with one list, and still finds owners', async () => {
    await handMade('bulk-3');
    const counting = new CountingKubeClient(w.client);
    const app = await w.appSync({ name: 'bulk', path: 'envs/dev/bulk' }, { kube: counting });
    const out = await app.sync();
    const actions = Object.fromEntries(out.entries.map((e) => [e.subject, e.action]));
    assert.equal(actions['ConfigMap/default/a-only'], 'conflict');
    assert.equal(actions['ConfigMap/default/bulk-3'], 'adopted');
    assert.equal(out.entries.filter((e) => e.action === 'created').length, 19);
    // The parent's GET and the members' list, the namespace's list for the 21 non-members, the other ApplySet's
    // parent lookup: no GET per object.
    assert.ok((counting.requests.GET ?? 0) <= 6, JSON.stringify(counting.requests));
  });
});
