import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProjectConfig, parseConfig, projectSchema } from '../src/config.ts';
import { subject } from '../src/core/objects.ts';
import {
  appRefusal,
  defaultProject,
  narrowedPolicy,
  objectRefusal,
  refuseObjects,
  repoRefusal,
} from '../src/core/projects.ts';
import type { K8sObject } from '../src/core/types.ts';

const teamA: ProjectConfig = projectSchema.parse({
  name: 'team-a',
  sourceRepos: ['https://github.com/acme/*'],
  destinationNamespaces: ['team-a-*'],
  clusterResourceAllowlist: ['Namespace', '*.crossplane.io/*'],
  namespaceResourceDenylist: ['ResourceQuota', 'networking.k8s.io/NetworkPolicy'],
  prune: false,
});

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): K8sObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

test('a repo outside sourceRepos is refused naming the rule; .git or not is the same repo', () => {
  assert.equal(repoRefusal(teamA, 'https://github.com/acme/env.git'), undefined);
  assert.equal(repoRefusal(teamA, 'https://github.com/acme/env'), undefined);
  assert.equal(
    repoRefusal(teamA, 'https://github.com/evil/env.git'),
    'project team-a: repo https://github.com/evil/env.git is not in sourceRepos (https://github.com/acme/*)',
  );
  // `*` does not cross a slash in a glob: acme/* does not allow a nested path.
  assert.ok(repoRefusal(teamA, 'https://github.com/acme/group/env.git'));
});

test('`*` alone allows every repo, and an exclusion takes one back', () => {
  const p = projectSchema.parse({ name: 'p', sourceRepos: ['*', '!https://github.com/acme/secrets*'] });
  assert.equal(repoRefusal(p, 'https://git.example.com/x/y.git'), undefined);
  assert.ok(repoRefusal(p, 'https://github.com/acme/secrets.git'));
});

test('a cluster-scoped kind not in clusterResourceAllowlist is refused (none is allowed by default)', () => {
  const crb = obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'admin');
  assert.equal(
    objectRefusal(teamA, crb),
    'project team-a: rbac.authorization.k8s.io/ClusterRoleBinding is cluster-scoped and not in clusterResourceAllowlist',
  );
  assert.equal(objectRefusal(teamA, obj('v1', 'Namespace', 'team-a-web')), undefined);
  assert.equal(
    objectRefusal(teamA, obj('s3.aws.upbound.io/v1', 'Bucket', 'b')),
    'project team-a: s3.aws.upbound.io/Bucket is cluster-scoped and not in clusterResourceAllowlist',
  );
  assert.equal(objectRefusal(teamA, obj('pkg.crossplane.io/v1', 'Provider', 'p')), undefined);
  // `Kind` names the core group only: a CRD kind of the same name in another group is not allowed by it.
  assert.ok(objectRefusal(teamA, obj('evil.example.com/v1', 'Namespace', 'x')));
  const bare = projectSchema.parse({ name: 'bare' });
  assert.ok(objectRefusal(bare, obj('v1', 'Namespace', 'x')), 'default allowlist is empty');
});

test('a namespaced kind in namespaceResourceDenylist is refused', () => {
  assert.equal(
    objectRefusal(teamA, obj('v1', 'ResourceQuota', 'q', 'team-a-web')),
    'project team-a: ResourceQuota is in namespaceResourceDenylist',
  );
  assert.equal(
    objectRefusal(teamA, obj('networking.k8s.io/v1', 'NetworkPolicy', 'n', 'team-a-web')),
    'project team-a: networking.k8s.io/NetworkPolicy is in namespaceResourceDenylist',
  );
  assert.equal(objectRefusal(teamA, obj('apps/v1', 'Deployment', 'web', 'team-a-web')), undefined);
});

test('a namespaced object outside destinationNamespaces is refused', () => {
  assert.equal(
    objectRefusal(teamA, obj('v1', 'ConfigMap', 'x', 'kube-system')),
    'project team-a: namespace kube-system is not in destinationNamespaces (team-a-*)',
  );
  const none = projectSchema.parse({ name: 'none', destinationNamespaces: [] });
  assert.equal(
    objectRefusal(none, obj('v1', 'ConfigMap', 'x', 'a')),
    'project none: namespace a is not in destinationNamespaces (empty)',
  );
});

test('refuseObjects lists every object outside the project, each with its rule', () => {
  const entries = refuseObjects(
    teamA,
    [
      obj('apps/v1', 'Deployment', 'web', 'team-a-web'),
      obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'admin'),
      obj('v1', 'ConfigMap', 'x', 'kube-system'),
    ],
    subject,
  );
  assert.deepEqual(
    entries.map((e) => [e.subject, e.action]),
    [
      ['ClusterRoleBinding/admin', 'refused'],
      ['ConfigMap/kube-system/x', 'refused'],
    ],
  );
});

test('the built-in default project allows everything', () => {
  const d = defaultProject();
  assert.equal(repoRefusal(d, 'https://anything.example/x/y/z.git'), undefined);
  assert.equal(objectRefusal(d, obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'admin')), undefined);
  assert.equal(objectRefusal(d, obj('v1', 'ConfigMap', 'x', 'kube-system')), undefined);
  assert.deepEqual(narrowedPolicy(d, { prune: true, selfHeal: false }), { prune: true, selfHeal: false });
});

test('prune and self-heal are narrowed by the project, never widened', () => {
  assert.deepEqual(narrowedPolicy(teamA, { prune: true, selfHeal: true }), { prune: false, selfHeal: true });
  assert.deepEqual(narrowedPolicy(teamA, { prune: false, selfHeal: false }), { prune: false, selfHeal: false });
});

test('an app is refused before any fetch: project not defined, repo or namespace not allowed', () => {
  const app = { project: 'team-a', repo: 'https://github.com/acme/env.git', namespace: 'team-a-web' };
  assert.equal(appRefusal(teamA, app), undefined);
  assert.equal(appRefusal(undefined, app), 'project team-a is not defined; the app is not synced until it is');
  assert.match(appRefusal(teamA, { ...app, repo: 'https://github.com/evil/x.git' }) ?? '', /not in sourceRepos/);
  assert.match(appRefusal(teamA, { ...app, namespace: 'default' }) ?? '', /namespace default is not in/);
});

test('a project in the config: bad schedules are refused naming the field', () => {
  const base = { cluster: 'dev', apps: [{ name: 'web', repo: 'https://github.com/acme/env.git' }] };
  assert.throws(
    () =>
      parseConfig({
        ...base,
        projects: [{ name: 'p', syncWindows: [{ kind: 'deny', schedule: '0 22 * *', duration: '1h' }] }],
      }),
    /projects\[0\]\.syncWindows\[0\]\.schedule: "0 22 \* \*" has 4 fields/,
  );
  assert.throws(
    () =>
      parseConfig({
        ...base,
        projects: [{ name: 'p', syncWindows: [{ kind: 'deny', schedule: '0 25 * * *', duration: '1h' }] }],
      }),
    /projects\[0\]\.syncWindows\[0\]\.schedule: "0 25 \* \* \*" is not a cron schedule/,
  );
});
