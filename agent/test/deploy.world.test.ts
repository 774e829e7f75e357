// deploy/ against a real kube-apiserver: the kustomize base renders, every object is accepted by server-side
// apply (schema, RBAC and Pod Security admission included), the config in the ConfigMap is one the agent accepts,
// and the service account can do what the agent does and no more. The Dockerfile is not built here (no Docker).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { type LocalKube, startKube } from '../../testenv/src/kube.ts';
import { parseConfig } from '../src/config.ts';
import type { K8sObject } from '../src/core/types.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SA = 'system:serviceaccount:tether-system:tether';

function kubectl(args: string[], input?: string): { stdout: string; stderr: string } {
  const r = spawnSync('kubectl', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function render(dir: string): { text: string; objects: K8sObject[] } {
  const text = kubectl(['kustomize', dir]).stdout;
  const objects = parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  return { text, objects };
}

describe('deploy/ on a real apiserver', () => {
  let kube: LocalKube;
  let base: { text: string; objects: K8sObject[] };
  let work: string;

  before(async () => {
    base = render(join(root, 'deploy'));
    kube = await startKube({ mode: 'api' });
    work = mkdtempSync(join(tmpdir(), 'tether-deploy-'));
  });

  after(async () => {
    await kube?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const canI = (verb: string, resource: string, namespace?: string, subresource?: string) => {
    const args = ['--kubeconfig', kube.kubeconfig, 'auth', 'can-i', verb, resource, '--as', SA];
    args.push(...(namespace ? ['-n', namespace] : ['--all-namespaces']));
    if (subresource) args.push(`--subresource=${subresource}`);
    const r = spawnSync('kubectl', args, { encoding: 'utf8', timeout: 30_000 });
    return r.stdout.trim() === 'yes';
  };

  test('the base renders the expected objects', () => {
    const kinds = base.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ClusterRole/tether',
      'ClusterRoleBinding/tether',
      'ConfigMap/tether-config',
      'Deployment/tether',
      'Namespace/tether-system',
      'PodDisruptionBudget/tether',
      'Role/tether',
      'RoleBinding/tether',
      'Service/tether',
      'ServiceAccount/tether',
    ]);
    for (const o of base.objects) {
      if (o.kind !== 'Namespace' && o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding') {
        assert.equal(o.metadata.namespace, 'tether-system', `${o.kind}/${o.metadata.name}`);
      }
    }
  });

  test('the ConfigMap holds a configuration the agent accepts', () => {
    const cm = base.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'tether-config');
    const text = (cm?.['data'] as Record<string, string> | undefined)?.['config.yaml'];
    assert.ok(text, 'config.yaml in tether-config');
    const config = parseConfig(parseYaml(text), 'deploy/config.yaml');
    assert.equal(config.github?.tokenFile, '/var/run/tether/token');
    assert.equal(config.server.port, 8080);
    assert.equal(config.leaderElection.enabled, true);
    assert.equal(config.cacheDir, '/var/cache/tether');
  });

  test('every object is accepted by server-side apply, without Pod Security warnings', async () => {
    const { stdout, stderr } = kubectl(
      ['--kubeconfig', kube.kubeconfig, 'apply', '--server-side', '--field-manager=tether-deploy-test', '-f', '-'],
      base.text,
    );
    assert.equal(stdout.trim().split('\n').length, base.objects.length, stdout);
    // The namespace enforces the restricted Pod Security Standard; the apiserver warns on a Deployment whose pods
    // it would refuse.
    assert.doesNotMatch(stderr, /PodSecurity|Warning/i);

    const deployment = await kube.request('GET', '/apis/apps/v1/namespaces/tether-system/deployments/tether');
    assert.equal(deployment.status, 200);
    const spec = (deployment.body as { spec: { replicas: number; template: { spec: Record<string, unknown> } } }).spec;
    assert.equal(spec.replicas, 2);
    const container = (spec.template.spec['containers'] as Record<string, unknown>[])[0]!;
    assert.deepEqual(container['args'], ['agent', '--config', '/etc/tether/config.yaml']);
    assert.equal(container['image'], 'ghcr.io/tether-dev/tether:0.1.0');
    assert.deepEqual(container['securityContext'], {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });

    const role = await kube.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/tether');
    assert.equal(role.status, 200);
    const service = await kube.request('GET', '/api/v1/namespaces/tether-system/services/tether');
    assert.equal(service.status, 200);
    const port = (service.body as { spec: { ports: { port: number; targetPort: unknown }[] } }).spec.ports[0]!;
    assert.deepEqual([port.port, port.targetPort], [80, 'http']);
  });

  test('the service account may do what the agent does, and not more', () => {
    // What a sync, prune, heal and health check need, in any namespace.
    for (const [verb, resource] of [
      ['patch', 'deployments.apps'],
      ['create', 'deployments.apps'],
      ['delete', 'configmaps'],
      ['watch', 'services'],
      ['list', 'secrets'],
      ['patch', 'namespaces'],
      ['patch', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
      ['bind', 'clusterroles.rbac.authorization.k8s.io'],
      ['delete', 'cronjobs.batch'],
      ['create', 'ingresses.networking.k8s.io'],
    ] as const) {
      assert.ok(canI(verb, resource), `${SA} can ${verb} ${resource}`);
    }
    // Leader election and Events only in its own namespace.
    assert.ok(canI('update', 'leases.coordination.k8s.io', 'tether-system'), 'update leases in tether-system');
    assert.ok(canI('create', 'events', 'tether-system'), 'create events in tether-system');
    // Sharded: a dead replica's membership Lease deleted, the push-signal ConfigMap patched and watched.
    assert.ok(canI('delete', 'leases.coordination.k8s.io', 'tether-system'), 'delete leases in tether-system');
    assert.ok(canI('patch', 'configmaps', 'tether-system'), 'patch configmaps in tether-system');
    assert.ok(canI('watch', 'configmaps', 'tether-system'), 'watch configmaps in tether-system');
    assert.ok(!canI('update', 'leases.coordination.k8s.io', 'kube-system'), 'no leases in kube-system');
    assert.ok(!canI('create', 'events', 'default'), 'no events in default');
    // Nothing outside the common kinds.
    assert.ok(!canI('get', 'nodes'), 'no nodes');
    assert.ok(!canI('create', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'), 'no webhooks');
    assert.ok(!canI('create', 'pods', 'default', 'exec'), 'no exec');
    assert.ok(!canI('impersonate', 'users'), 'no impersonation');
  });

  test('the wide component adds cluster-admin on top of the base', () => {
    // Components are used from an overlay; build one the way a user would, beside a copy of deploy/.
    cpSync(join(root, 'deploy'), join(work, 'deploy'), { recursive: true });
    mkdirSync(join(work, 'cluster'));
    writeFileSync(
      join(work, 'cluster', 'kustomization.yaml'),
      'resources: [../deploy]\ncomponents: [../deploy/wide]\n',
    );
    const wide = render(join(work, 'cluster'));
    assert.equal(wide.objects.length, base.objects.length + 1);
    const binding = wide.objects.find(
      (o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'tether-cluster-admin',
    );
    assert.deepEqual(binding?.['roleRef'], {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'cluster-admin',
    });
    assert.ok(!canI('get', 'nodes'), 'the base alone does not grant it');
    kubectl(
      ['--kubeconfig', kube.kubeconfig, 'apply', '--server-side', '--field-manager=tether-deploy-test', '-f', '-'],
      wide.text,
    );
    assert.ok(canI('get', 'nodes'));
  });
});
