import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { statusFor } from '../src/core/commit-status.ts';
import { objectHealth } from '../src/core/health.ts';
import { healthRules } from '../src/core/health-cel.ts';
import { objectKey, refOf } from '../src/core/objects.ts';
import type { AppSpec } from '../src/reconcile/sync.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

// Render gaps and CEL health rules end to end: a real apiserver (CRDs installed, status written through the status
// subresource as a controller would), a real Git server, the sync engine.

const crd = (
  group: string,
  kind: string,
  plural: string,
  version = 'v1alpha1',
  scope = 'Namespaced',
) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: ${scope}
  names: {plural: ${plural}, singular: ${kind.toLowerCase()}, kind: ${kind}}
  versions:
  - name: ${version}
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`;

/** Every built-in CEL rule's kind, as its project serves it: group, kind, plural, version, scope. */
const BUILT_IN_KINDS: [string, string, string, string, string][] = [
  ['argoproj.io', 'Rollout', 'rollouts', 'v1alpha1', 'Namespaced'],
  ['cert-manager.io', 'Certificate', 'certificates', 'v1', 'Namespaced'],
  ['cert-manager.io', 'Issuer', 'issuers', 'v1', 'Namespaced'],
  ['cert-manager.io', 'ClusterIssuer', 'clusterissuers', 'v1', 'Cluster'],
  ['external-secrets.io', 'ExternalSecret', 'externalsecrets', 'v1', 'Namespaced'],
  ['helm.toolkit.fluxcd.io', 'HelmRelease', 'helmreleases', 'v2', 'Namespaced'],
  ['kustomize.toolkit.fluxcd.io', 'Kustomization', 'kustomizations', 'v1', 'Namespaced'],
  ['keda.sh', 'ScaledObject', 'scaledobjects', 'v1alpha1', 'Namespaced'],
  ['s3.aws.upbound.io', 'Bucket', 'buckets', 'v1beta1', 'Cluster'],
];

const builtInFiles = Object.fromEntries(
  BUILT_IN_KINDS.flatMap(([group, kind, plural, version, scope]) => [
    [`envs/dev/builtin/${plural}-crd.yaml`, crd(group, kind, plural, version, scope)],
    [
      `envs/dev/builtin/${plural}.yaml`,
      `apiVersion: ${group}/${version}\nkind: ${kind}\nmetadata: {name: one}\nspec: {replicas: 1}\n`,
    ],
  ]),
);

const files = {
  ...builtInFiles,
  'envs/dev/builtin/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: builtin}\n',
  'envs/dev/plugin/plugin.yaml': '# rendered by the sidecar plugin\n',
  'envs/dev/plugin/.argocd-source-web.yaml': 'plugin: {env: [{name: SIZE, value: "3"}]}\n',
  'envs/dev/jsonnet/main.jsonnet': '{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }\n',
  'envs/dev/jsonnet/lib.libsonnet': '{}\n',
  'envs/dev/mixed/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mixed}\ndata: {a: "1"}\n',
  'envs/dev/mixed/extra.jsonnet': '{}\n',
  'envs/dev/crs/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n',
  'envs/dev/crs/rollouts-crd.yaml': crd('argoproj.io', 'Rollout', 'rollouts'),
  'envs/dev/crs/workflows-crd.yaml': crd('argoproj.io', 'Workflow', 'workflows'),
  'envs/dev/crs/widgets-crd.yaml': crd('example.com', 'Widget', 'widgets'),
  'envs/dev/crs/rollout.yaml':
    'apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec: {replicas: 2, strategy: {canary: {}}}\n',
  'envs/dev/crs/workflow.yaml': 'apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: job}\nspec: {}\n',
  'envs/dev/crs/widget.yaml': 'apiVersion: example.com/v1alpha1\nkind: Widget\nmetadata: {name: gizmo}\nspec: {}\n',
};

describe('render gaps and health rules against a real apiserver', () => {
  let w: AgentWorld;
  before(async () => {
    w = await startAgentWorld({ files });
  });
  after(() => w?.stop());

  const makeSync = (name: string, path: string, extra: Partial<AppSpec> = {}) =>
    w.appSync({ name, path, namespace: 'web', ...extra });

  async function writeStatus(path: string, status: unknown): Promise<void> {
    const live = await w.kube.request('GET', path);
    assert.equal(live.status, 200);
    const r = await w.kube.request('PUT', `${path}/status`, { ...(live.body as object), status });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }

  test('a path of Jsonnet only is a render error naming the files; nothing is applied', async () => {
    const app = await makeSync('jsonnet', 'envs/dev/jsonnet');
    const out = await app.sync();
    assert.equal(out.error?.stage, 'render');
    assert.match(out.error?.message ?? '', /envs\/dev\/jsonnet\/main\.jsonnet \(Jsonnet is not supported\)/);
    assert.match(out.error?.message ?? '', /envs\/dev\/jsonnet\/lib\.libsonnet/);
    const status = statusFor(app.state, { cluster: 'dev' });
    assert.equal(status.state, 'error');
    assert.match(status.description, /^Render failed: envs\/dev\/jsonnet: no manifests Tether can render/);
  });

  test('a config management plugin path is a render error naming its markers', async () => {
    const out = await (await makeSync('plugin', 'envs/dev/plugin')).sync();
    assert.equal(out.error?.stage, 'render');
    assert.match(out.error?.message ?? '', /envs\/dev\/plugin\/plugin\.yaml \(config management plugin marker/);
    assert.match(out.error?.message ?? '', /envs\/dev\/plugin\/\.argocd-source-web\.yaml \(Argo CD parameter override/);
  });

  test('a mixed path applies its manifests and lists the skipped file in the result and the description', async () => {
    const app = await makeSync('mixed', 'envs/dev/mixed', { namespace: 'default' });
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.deepEqual(
      out.entries.map((e) => [e.subject, e.action, e.reason]),
      [
        ['envs/dev/mixed/extra.jsonnet', 'skipped', 'not rendered: Jsonnet is not supported'],
        ['ConfigMap/default/mixed', 'created', undefined],
      ],
    );
    await app.refreshHealth();
    const status = statusFor(app.state, { cluster: 'dev' });
    assert.deepEqual(
      [status.state, status.description],
      ['success', 'Synced 1 resource (1 file not rendered) · Healthy'],
    );
  });

  test('custom resources: a Rollout follows its built-in rule, a status without a rule is Unknown, a config rule decides', async () => {
    const rules = healthRules([
      { group: 'example.com', kind: 'Widget', current: "status.?phase.orValue('') == 'Done'", message: "'widget'" },
    ]);
    const app = await makeSync('crs', 'envs/dev/crs', { healthRules: rules });
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.ok(!out.entries.some((e) => e.action === 'failed'), JSON.stringify(out.entries));
    const byKind = () =>
      Object.fromEntries(
        app.desiredObjects.map((o) => [o.kind, objectHealth(refOf(o), app.live.get(objectKey(o)), { rules }).status]),
      );
    // No controller runs here: the Rollout has no status yet and is not Healthy.
    let health = await app.refreshHealth();
    assert.notEqual(health.status, 'Healthy', health.message);

    const ns = '/apis/argoproj.io/v1alpha1/namespaces/web';
    await writeStatus(`${ns}/rollouts/web`, {
      observedGeneration: '1',
      phase: 'Healthy',
      replicas: 2,
      availableReplicas: 2,
    });
    await writeStatus(`${ns}/workflows/job`, { phase: 'Running', progress: '0/1' });
    await writeStatus('/apis/example.com/v1alpha1/namespaces/web/widgets/gizmo', { phase: 'Done' });
    health = await app.refreshHealth();
    assert.equal(health.status, 'Unknown', health.message);
    assert.equal(
      health.message,
      'Workflow/web/job: no health rule for argoproj.io/Workflow (status has phase, progress)',
    );
    assert.deepEqual(byKind(), {
      Namespace: 'Healthy',
      CustomResourceDefinition: 'Healthy',
      Rollout: 'Healthy',
      Workflow: 'Unknown',
      Widget: 'Healthy',
    });

    await writeStatus(`${ns}/rollouts/web`, {
      observedGeneration: '1',
      phase: 'Degraded',
      message: 'ProgressDeadlineExceeded: ReplicaSet "web-5d8f" has timed out progressing.',
    });
    health = await app.refreshHealth();
    assert.equal(health.status, 'Degraded');
    assert.equal(
      health.message,
      'Rollout/web/web: failed: ProgressDeadlineExceeded: ReplicaSet "web-5d8f" has timed out progressing.',
    );
    assert.equal(statusFor(app.state, { cluster: 'dev' }).state, 'failure');
  });

  test('every built-in CR rule on its real CRD: no status is not Healthy; a ready status is Healthy; a failed one Degraded', async () => {
    const app = await makeSync('builtin', 'envs/dev/builtin', { namespace: 'builtin' });
    const out = await app.sync();
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.ok(!out.entries.some((e) => e.action === 'failed'), JSON.stringify(out.entries));
    const verdicts = () =>
      Object.fromEntries(
        app.desiredObjects
          .filter((o) => BUILT_IN_KINDS.some(([, kind]) => kind === o.kind))
          .map((o) => [o.kind, objectHealth(refOf(o), app.live.get(objectKey(o)), { desired: o }).status]),
      );
    await app.refreshHealth();
    for (const [kind, status] of Object.entries(verdicts())) assert.equal(status, 'Progressing', kind);

    const path = (group: string, version: string, plural: string, scope: string) =>
      `/apis/${group}/${version}/${scope === 'Cluster' ? '' : 'namespaces/builtin/'}${plural}/one`;
    const c = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: `${type} ${reason}`,
      lastTransitionTime: '2026-12-02T07:00:00Z',
    });
    const ready: Record<string, unknown> = {
      Rollout: { observedGeneration: '1', phase: 'Healthy', replicas: 1, availableReplicas: 1 },
      Bucket: { conditions: [c('Synced', 'True', 'ReconcileSuccess'), c('Ready', 'True', 'Available')] },
    };
    const failed: Record<string, unknown> = {
      Rollout: { observedGeneration: '1', phase: 'Degraded', message: 'ProgressDeadlineExceeded' },
      Bucket: { conditions: [c('Synced', 'False', 'ReconcileError'), c('Ready', 'False', 'Creating')] },
      Kustomization: { observedGeneration: 1, conditions: [c('Ready', 'False', 'BuildFailed')] },
      HelmRelease: { observedGeneration: 1, conditions: [c('Ready', 'False', 'InstallFailed')] },
    };
    for (const [states, want] of [
      [ready, 'Healthy'],
      [failed, 'Degraded'],
    ] as const) {
      for (const [group, kind, plural, version, scope] of BUILT_IN_KINDS) {
        const status = states[kind] ?? {
          observedGeneration: 1,
          conditions: [want === 'Healthy' ? c('Ready', 'True', 'Ready') : c('Ready', 'False', 'Failed')],
        };
        await writeStatus(path(group, version, plural, scope), status);
      }
      await app.refreshHealth();
      assert.deepEqual(verdicts(), Object.fromEntries(BUILT_IN_KINDS.map(([, kind]) => [kind, want])));
    }
  });
});
