import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { TetherError } from '../../shared/src/errors.ts';
import { ensureHelm } from '../../testenv/src/helm.ts';
import { helmOptions, parseConfig } from '../src/config.ts';
import { render } from '../src/edges/render/render.ts';

// Renders charts with the real helm binary (testenv builds it from the Go module proxy), the way the agent does:
// the chart's repository tree in a temp dir, `helm template <release> <path>`, no network.

const enc = new TextEncoder();
const tree = (entries: Record<string, string>) =>
  Object.entries(entries).map(([path, text]) => ({ path, content: enc.encode(text) }));

const chart = (deps: string) => ({
  'envs/dev/web/Chart.yaml': `apiVersion: v2\nname: web\nversion: 0.1.0\n${deps}`,
  'envs/dev/web/values.yaml': 'image: ghcr.io/acme/web:1.0.0\nreplicas: 2\n',
  'envs/dev/web/templates/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ .Release.Name }}',
    '  namespace: {{ .Release.Namespace }}',
    '  labels: {app.kubernetes.io/instance: {{ .Release.Name | quote }}, chart: {{ .Chart.Name | quote }}}',
    'spec:',
    '  replicas: {{ .Values.replicas }}',
    '  selector: {matchLabels: {app: {{ .Release.Name }}}}',
    '  template:',
    '    metadata: {labels: {app: {{ .Release.Name }}}}',
    '    spec: {containers: [{name: web, image: {{ .Values.image | quote }}}]}',
    '',
  ].join('\n'),
  'envs/dev/other/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated}\n',
});

const cacheChart = {
  'envs/dev/web/charts/cache/Chart.yaml': 'apiVersion: v2\nname: cache\nversion: 1.2.3\n',
  'envs/dev/web/charts/cache/values.yaml': 'port: 6379\n',
  'envs/dev/web/charts/cache/templates/service.yaml': [
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: {{ .Release.Name }}-cache}',
    'spec: {ports: [{port: {{ .Values.port }}}], selector: {app: {{ .Release.Name }}-cache}}',
    '',
  ].join('\n'),
};

const config = parseConfig({
  cluster: 'dev',
  apps: [
    { name: 'web', repo: 'https://git.example.com/env.git', path: 'envs/dev/web', namespace: 'web' },
    {
      name: 'api',
      repo: 'https://git.example.com/env.git',
      path: 'envs/dev/web',
      namespace: 'api',
      helm: { releaseName: 'api-release' },
    },
  ],
});

async function renderApp(app: (typeof config.apps)[number], files: Record<string, string>) {
  const all = tree(files);
  const inPath = all.filter((f) => f.path.startsWith(`${app.path}/`));
  return render(inPath, async () => all, {
    path: app.path,
    timeoutMs: 60_000,
    maxOutputBytes: 1 << 22,
    helm: helmOptions(app),
  });
}

before(() => {
  process.env.PATH = `${ensureHelm()}:${process.env.PATH ?? ''}`;
});

test('a chart renders with the app name as release name (no helm: block), with its vendored dependency', async () => {
  const files = {
    ...chart('dependencies:\n  - name: cache\n    version: 1.2.3\n    repository: https://charts.example.com\n'),
    ...cacheChart,
  };
  const r = await renderApp(config.apps[0]!, files);
  assert.equal(r.kind, 'helm');
  const objects = r.objects.map((o) => o.object as { kind: string; metadata: { name: string; namespace?: string } });
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ['Deployment/web', 'Service/web-cache']);
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  assert.equal(deployment.metadata.namespace, 'web');
  assert.deepEqual((deployment as unknown as { metadata: { labels: unknown } }).metadata.labels, {
    'app.kubernetes.io/instance': 'web',
    chart: 'web',
  });
  assert.deepEqual(r.skipped, []);
});

test('helm.releaseName overrides the app name', async () => {
  const r = await renderApp(config.apps[1]!, chart(''));
  assert.deepEqual(
    r.objects.map((o) => (o.object as { metadata: { name: string } }).metadata.name),
    ['api-release'],
  );
});

test('a dependency that is not vendored is a render error saying so, not a download or a silent gap', async () => {
  const files = chart(
    'dependencies:\n  - name: cache\n    version: 1.2.3\n    repository: https://charts.example.com\n  - name: queue\n    version: 2.0.0\n    repository: oci://registry.example.com/charts\n',
  );
  await assert.rejects(renderApp(config.apps[0]!, { ...files, ...cacheChart }), (err: unknown) => {
    assert.ok(err instanceof TetherError, String(err));
    assert.equal(err.code, 'render');
    assert.match(err.message, /^envs\/dev\/web: chart dependencies not vendored in charts\/: queue\. /);
    assert.match(err.message, /run `helm dependency build` and commit the charts\/ directory$/);
    return true;
  });
});
