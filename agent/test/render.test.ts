import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../../shared/src/errors.ts';
import { render, unrenderedFiles } from '../src/edges/render/render.ts';

const enc = new TextEncoder();
const files = (entries: Record<string, string>) =>
  Object.entries(entries).map(([path, text]) => ({ path, content: enc.encode(text) }));
const options = (path: string) => ({ path, timeoutMs: 10_000, maxOutputBytes: 1 << 20 });
const noRepo = async () => [];

const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: "1"}\n';

test('a path of Jsonnet files only is a render error naming them, not a silent 0 objects', async () => {
  const src = files({
    'envs/dev/web/main.jsonnet': '{ apiVersion: "v1", kind: "ConfigMap" }',
    'envs/dev/web/lib/util.libsonnet': '{}',
    'envs/dev/web/README.md': '# web',
  });
  await assert.rejects(render(src, noRepo, options('envs/dev/web')), (err: unknown) => {
    assert.ok(err instanceof TetherError);
    assert.equal(err.code, 'render');
    assert.match(err.message, /^envs\/dev\/web: no manifests Tether can render/);
    assert.match(err.message, /envs\/dev\/web\/main\.jsonnet \(Jsonnet is not supported\)/);
    assert.match(err.message, /envs\/dev\/web\/lib\/util\.libsonnet/);
    assert.doesNotMatch(err.message, /README/);
    return true;
  });
});

test('a config management plugin path (plugin.yaml, .argocd-source) is a render error naming the markers', async () => {
  const src = files({
    'apps/web/plugin.yaml': '# marker for the sidecar plugin\n',
    'apps/web/.argocd-source-web.yaml': 'helm:\n  parameters: []\n',
    'apps/web/values.j2': 'replicas: {{ n }}',
  });
  await assert.rejects(render(src, noRepo, options('apps/web')), (err: unknown) => {
    assert.ok(err instanceof TetherError);
    assert.match(err.message, /apps\/web\/plugin\.yaml \(config management plugin marker/);
    assert.match(err.message, /apps\/web\/\.argocd-source-web\.yaml \(Argo CD parameter override/);
    assert.match(err.message, /apps\/web\/values\.j2 \(Jinja templates are not supported\)/);
    return true;
  });
});

test('a mixed path renders its manifests and lists what it skipped', async () => {
  const src = files({
    'web/cm.yaml': configMap,
    'web/extra.jsonnet': '{}',
    'web/deploy.yaml.tmpl': 'kind: Deployment',
  });
  const r = await render(src, noRepo, options('web'));
  assert.equal(r.kind, 'plain');
  assert.equal(r.objects.length, 1);
  assert.deepEqual(r.skipped, [
    { path: 'web/extra.jsonnet', reason: 'Jsonnet is not supported' },
    { path: 'web/deploy.yaml.tmpl', reason: 'a template outside a Helm chart; Tether cannot run it' },
  ]);
});

test('plain manifests render with nothing skipped; files that never hold manifests are not gaps', async () => {
  const r = await render(files({ 'web/cm.yaml': configMap, 'web/README.md': '#', 'web/.gitignore': '' }), noRepo, {
    ...options('web'),
  });
  assert.equal(r.objects.length, 1);
  assert.deepEqual(r.skipped, []);
  assert.deepEqual(unrenderedFiles([{ path: 'LICENSE' }, { path: 'docs/notes.txt' }]), []);
});
