// Deletion hooks against a real apiserver: removing an app runs its PreDelete hooks, then the caller's deletion of
// the members, then its PostDelete hooks; a failed PreDelete hook stops the removal before anything is deleted.
// ConfigMap hooks succeed as soon as they exist (hooks of other kinds than Jobs and Pods are judged by health), so
// the API-only mode suffices; Jobs are waited on the same way as in sync hooks (hooks.world.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LocalKube, startKube } from '../../testenv/src/kube.ts';
import { type Hook, splitHooks } from '../src/core/hooks.ts';
import type { K8sObject } from '../src/core/types.ts';
import { Discovery } from '../src/edges/kube/discovery.ts';
import { HttpKubeClient } from '../src/edges/kube/kube-client.ts';
import { loadKubeconfig } from '../src/edges/kube/kubeconfig.ts';
import { runDeleteHooks } from '../src/reconcile/hooks.ts';

const cm = (name: string, annotations: Record<string, string>, namespace = 'default'): K8sObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, annotations },
  data: { a: '1' },
});

describe('deletion hooks (runDeleteHooks)', () => {
  let kube: LocalKube;
  let http: HttpKubeClient;
  let discovery: Discovery;

  before(async () => {
    kube = await startKube({ mode: 'api' });
    http = new HttpKubeClient(loadKubeconfig(kube.kubeconfig));
    discovery = new Discovery(http);
  });
  after(async () => {
    http?.close();
    await kube?.stop();
  });

  const exists = async (name: string) =>
    (await kube.request('GET', `/api/v1/namespaces/default/configmaps/${name}`)).status === 200;
  const options = { timeoutMs: 30_000, pollMs: 200 };

  test('PreDelete runs before the members are deleted, PostDelete after; sync hooks do not run', async () => {
    const { hooks, members } = splitHooks([
      cm('pre-delete', { 'argocd.argoproj.io/hook': 'PreDelete' }),
      cm('post-delete', { 'helm.sh/hook': 'post-delete', 'helm.sh/hook-delete-policy': 'before-hook-creation' }),
      cm('pre-sync', { 'argocd.argoproj.io/hook': 'PreSync' }),
      cm('member', {}),
    ]);
    assert.deepEqual(
      members.map((m) => m.metadata.name),
      ['member'],
    );
    const seen: Record<string, boolean> = {};
    const out = await runDeleteHooks(
      { kube: http, discovery },
      hooks,
      async () => {
        seen.preDuring = await exists('pre-delete');
        seen.postDuring = await exists('post-delete');
      },
      options,
    );
    assert.equal(out.error, undefined);
    assert.equal(out.removed, true);
    assert.deepEqual(seen, { preDuring: true, postDuring: false });
    assert.deepEqual(
      out.results.map((r) => [r.phase, r.subject, r.outcome]),
      [
        ['PreDelete', 'ConfigMap/default/pre-delete', 'Succeeded'],
        ['PostDelete', 'ConfigMap/default/post-delete', 'Succeeded'],
      ],
    );
    assert.equal(await exists('post-delete'), true);
    assert.equal(await exists('pre-sync'), false, 'a sync hook is not a deletion hook');
  });

  test('a failed PreDelete hook stops the removal: nothing deleted, PostDelete not run', async () => {
    const hooks: Hook[] = splitHooks([
      // Its namespace does not exist, so creating it fails.
      cm('pre-fails', { 'tether.dev/hook': 'PreDelete' }, 'no-such-namespace'),
      cm('post-never', { 'tether.dev/hook': 'PostDelete' }),
    ]).hooks;
    let deleted = false;
    const out = await runDeleteHooks(
      { kube: http, discovery },
      hooks,
      async () => {
        deleted = true;
      },
      options,
    );
    assert.equal(out.removed, false);
    assert.equal(deleted, false);
    assert.match(
      out.error ?? '',
      /^PreDelete hook ConfigMap\/no-such-namespace\/pre-fails failed: creating it: .*; nothing of the app was deleted$/,
    );
    assert.equal(await exists('post-never'), false);
    // A deletion that fails is reported, and PostDelete hooks do not run after it.
    const failing = await runDeleteHooks(
      { kube: http, discovery },
      splitHooks([cm('post-after-failure', { 'tether.dev/hook': 'PostDelete' })]).hooks,
      async () => {
        throw new Error('prune blocked: 9 of 10 objects would be deleted');
      },
      options,
    );
    assert.equal(failing.removed, false);
    assert.match(failing.error ?? '', /deleting the app's objects: prune blocked/);
    assert.equal(await exists('post-after-failure'), false);
  });
});
