import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AppDocumentsContext,
  describeDocumentError,
  isAppDocument,
  readAppFiles,
} from '../src/core/app-documents.ts';

/** Asserts that one of `messages` starts with `start` (and matches `also`); the failure lists them all. */
function assertMessage(messages: readonly string[], start: string, also?: RegExp): void {
  assert.ok(
    messages.some((m) => m.startsWith(start) && (also?.test(m) ?? true)),
    messages.join('\n'),
  );
}

const ctx: AppDocumentsContext = {
  cluster: 'dev',
  clusterServers: ['https://dev.k8s.example.com:6443'],
  repo: 'https://github.com/acme/env.git',
  ref: 'main',
};
const file = (path: string, content: string) => ({ path, content });

test('a Tether App takes the config schema: defaults, source fields under spec.source, repo and ref from where it lives', () => {
  const r = readAppFiles(
    [
      file(
        'apps/web.yaml',
        `apiVersion: tether.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  project: team-a
  source: {path: envs/dev/web}
  namespace: web
  deletionPolicy: cascade
  interval: 30s
---
apiVersion: tether.dev/v1alpha1
kind: App
metadata: {name: api}
spec: {repo: "https://github.com/acme/api-env.git", ref: release, path: deploy, syncPolicy: manual}
`,
      ),
    ],
    ctx,
  );
  assert.deepEqual(r.errors, []);
  assert.equal(r.apps.length, 2);
  const web = r.apps[0]!;
  assert.equal(web.file, 'apps/web.yaml');
  assert.equal(web.kind, 'App');
  assert.equal(web.app.name, 'web');
  assert.equal(web.app.repo, ctx.repo);
  assert.equal(web.app.ref, 'main');
  assert.equal(web.app.path, 'envs/dev/web');
  assert.equal(web.app.project, 'team-a');
  assert.equal(web.app.deletionPolicy, 'cascade');
  assert.equal(web.app.interval, 30_000);
  assert.equal(web.app.prune, true);
  const api = r.apps[1]!;
  assert.equal(api.app.repo, 'https://github.com/acme/api-env.git');
  assert.equal(api.app.ref, 'release');
  assert.equal(api.app.syncPolicy, 'manual');
  assert.equal(api.app.deletionPolicy, 'orphan');
});

test('a bad document is an error naming the file, the document and the field; the others still count', () => {
  const r = readAppFiles(
    [
      file(
        'apps/a.yaml',
        `apiVersion: tether.dev/v1alpha1
kind: App
metadata: {name: bad}
spec: {path: x, interval: soon, prunee: true}
---
apiVersion: tether.dev/v1alpha1
kind: App
metadata: {name: good}
spec: {path: y}
`,
      ),
      file('apps/broken.yaml', 'kind: App\nmetadata: {name: [\n'),
      file('apps/noname.yaml', 'apiVersion: tether.dev/v1alpha1\nkind: App\nspec: {path: z}\n'),
      file(
        'apps/ssh.yaml',
        'apiVersion: tether.dev/v1alpha1\nkind: App\nmetadata: {name: s}\nspec: {repo: "git@github.com:a/b.git"}\n',
      ),
    ],
    ctx,
  );
  assert.deepEqual(
    r.apps.map((a) => a.app.name),
    ['good'],
  );
  const messages = r.errors.map(describeDocumentError);
  assertMessage(messages, 'apps/broken.yaml: (document): ');
  assert.ok(
    messages.includes('apps/a.yaml: App/bad: spec.interval: "soon" is not a duration like 30s, 5m or 1h'),
    messages.join('\n'),
  );
  assertMessage(messages, 'apps/a.yaml: App/bad: spec.prunee: unknown field');
  assertMessage(messages, 'apps/noname.yaml: App/(no name): metadata.name: required');
  assertMessage(messages, 'apps/ssh.yaml: App/s: spec.repo: ', /SSH/);
});

test('a Project takes the schema names and the short ones; other kinds are noted, not applied', () => {
  const r = readAppFiles(
    [
      file(
        'apps/p.yaml',
        `apiVersion: tether.dev/v1alpha1
kind: Project
metadata: {name: team-a}
spec:
  sourceRepos: ["https://github.com/acme/*"]
  destinations: ["team-a-*"]
  clusterResources: []
  windows: [{kind: deny, schedule: "0 22 * * *", duration: 8h, manualSync: true}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stray}
`,
      ),
    ],
    ctx,
  );
  assert.deepEqual(r.errors, []);
  const p = r.projects[0]!.project;
  assert.equal(p.name, 'team-a');
  assert.deepEqual(p.destinationNamespaces, ['team-a-*']);
  assert.deepEqual(p.syncWindows, [
    { kind: 'deny', schedule: '0 22 * * *', duration: 8 * 3_600_000, manualSync: true },
  ]);
  assert.equal(r.notes.length, 1);
  assert.equal(r.notes[0]!.subject, 'ConfigMap/stray');
  assert.match(r.notes[0]!.message, /^ignored: v1 ConfigMap is not an App or Project/);
});

const argoApp = (name: string, extra = '') => `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ${name}
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: https://github.com/acme/env.git
    targetRevision: HEAD
    path: apps/${name}
    helm:
      releaseName: ${name}-rel
      valueFiles: [values-dev.yaml]
      parameters: [{name: image.tag, value: "1"}]
  destination:
    server: https://kubernetes.default.svc
    namespace: ${name}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, PruneLast=true]
    retry: {limit: 3, backoff: {duration: "10", factor: 3, maxDuration: 2m}, refresh: true}
${extra}`;

test('an Argo CD Application maps onto an App: source, helm, destination, automation, options, finalizer', () => {
  const r = readAppFiles([file('apps/web.yaml', argoApp('web', '  revisionHistoryLimit: 3\n'))], ctx);
  assert.deepEqual(r.errors, []);
  const d = r.apps[0]!;
  assert.equal(d.kind, 'Application');
  assert.equal(d.app.repo, 'https://github.com/acme/env.git');
  assert.equal(d.app.ref, 'main', 'HEAD of the same repository is the branch the document lives on');
  assert.equal(d.app.path, 'apps/web');
  assert.deepEqual(d.app.helm, { valuesFiles: ['values-dev.yaml'], releaseName: 'web-rel' });
  assert.equal(d.app.namespace, 'web');
  assert.equal(d.app.project, 'default');
  assert.equal(d.app.syncPolicy, 'automated');
  assert.equal(d.app.prune, true);
  assert.equal(d.app.selfHeal, true);
  assert.equal(d.app.createNamespace, true);
  assert.equal(d.app.deletionPolicy, 'cascade');
  // Nothing unsupported is dropped in silence.
  const notes = d.notes.join('\n');
  assert.match(notes, /targetRevision HEAD read as branch main/);
  assert.match(notes, /spec\.source\.helm\.parameters is not supported/);
  assert.match(notes, /syncOptions "PruneLast=true" is not supported/);
  assert.deepEqual(d.app.retry, { limit: 3, backoff: { duration: 10_000, factor: 3, maxDuration: 120_000 } });
  assert.match(notes, /spec\.syncPolicy\.retry\.refresh is not supported/);
  assert.match(notes, /spec\.revisionHistoryLimit is not supported/);
});

test('an Application without automated sync is manual, neither pruning nor healing; no finalizer orphans', () => {
  const r = readAppFiles(
    [
      file(
        'a.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: tools}
spec:
  source: {repoURL: "https://github.com/acme/tools.git", targetRevision: v2, path: .}
  destination: {name: dev, namespace: tools}
`,
      ),
    ],
    ctx,
  );
  assert.deepEqual(r.errors, []);
  const a = r.apps[0]!.app;
  assert.equal(a.syncPolicy, 'manual');
  assert.equal(a.prune, false);
  assert.equal(a.selfHeal, false);
  assert.equal(a.deletionPolicy, 'orphan');
  assert.equal(a.ref, 'v2');
  assert.equal(a.project, 'default');
  assert.deepEqual(
    a.retry,
    { limit: 5, backoff: { duration: 5000, factor: 2, maxDuration: 180_000 } },
    "Tether's default",
  );
});

test('Applications for another cluster are skipped with a note; this cluster by name, in-cluster or a configured server', () => {
  const dest = (d: string) => `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: x${Math.abs(hash(d))}}
spec:
  source: {repoURL: "https://github.com/acme/env.git", path: p}
  destination: {${d}}
`;
  const files = [
    file('1.yaml', dest('name: prod')),
    file('2.yaml', dest('server: "https://prod.example.com"')),
    file('3.yaml', dest('name: in-cluster')),
    file('4.yaml', dest('server: "https://dev.k8s.example.com:6443/"')),
    file('5.yaml', dest('name: dev')),
  ];
  const r = readAppFiles(files, ctx);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.apps.map((a) => a.file),
    ['3.yaml', '4.yaml', '5.yaml'],
  );
  assert.deepEqual(
    r.notes.map((n) => n.file),
    ['1.yaml', '2.yaml'],
  );
  assert.match(r.notes[0]!.message, /^skipped: destination\.name "prod" is not this cluster \("dev"\)/);
  assert.match(r.notes[1]!.message, /^skipped: destination\.server https:\/\/prod\.example\.com is not this cluster/);
});

test('an Application Tether cannot run as Argo CD would is an error naming the field', () => {
  const r = readAppFiles(
    [
      file(
        'chart.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: redis}
spec:
  source: {repoURL: "https://charts.example.com", chart: redis, targetRevision: 1.0.0}
  destination: {server: "https://kubernetes.default.svc", namespace: redis}
`,
      ),
      file(
        'multi.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: multi}
spec:
  sources: [{repoURL: "https://github.com/acme/env.git", path: a}]
  destination: {namespace: m}
`,
      ),
      file(
        'badns.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: badns}
spec:
  source: {repoURL: "https://github.com/acme/env.git", path: a}
  destination: {namespace: Not_A_Label}
  syncPolicy: {automated: {prune: "yes"}}
`,
      ),
    ],
    ctx,
  );
  assert.equal(r.apps.length, 0);
  const messages = r.errors.map(describeDocumentError);
  assertMessage(messages, 'chart.yaml: Application/redis: spec.source.chart: ');
  assertMessage(messages, 'multi.yaml: Application/multi: spec.sources: ');
  assertMessage(messages, 'badns.yaml: Application/badns: spec.destination.namespace: ');
  assertMessage(messages, 'badns.yaml: Application/badns: spec.syncPolicy.automated.prune: ');
});

test('an Argo CD AppProject reads as a Project: destinations for this cluster, kinds as group/Kind', () => {
  const r = readAppFiles(
    [
      file(
        'proj.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team-a}
spec:
  sourceRepos: ["https://github.com/acme/*"]
  destinations:
    - {server: "https://kubernetes.default.svc", namespace: "team-a-*"}
    - {name: prod, namespace: "prod-only"}
  clusterResourceWhitelist: [{group: "", kind: Namespace}]
  namespaceResourceBlacklist: [{group: rbac.authorization.k8s.io, kind: RoleBinding}]
  roles: []
`,
      ),
    ],
    ctx,
  );
  assert.deepEqual(r.errors, []);
  const p = r.projects[0]!;
  assert.equal(p.kind, 'AppProject');
  assert.deepEqual(p.project.destinationNamespaces, ['team-a-*']);
  assert.deepEqual(p.project.clusterResourceAllowlist, ['Namespace']);
  assert.deepEqual(p.project.namespaceResourceDenylist, ['rbac.authorization.k8s.io/RoleBinding']);
  assert.match(p.notes.join('\n'), /spec\.roles is not supported/);
});

test('isAppDocument recognizes Apps and Applications only', () => {
  assert.ok(isAppDocument({ apiVersion: 'tether.dev/v1alpha1', kind: 'App' }));
  assert.ok(isAppDocument({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application' }));
  assert.ok(!isAppDocument({ apiVersion: 'tether.dev/v1alpha1', kind: 'Project' }));
  assert.ok(!isAppDocument({ apiVersion: 'v1', kind: 'ConfigMap' }));
  assert.ok(!isAppDocument('App'));
});

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h % 100000;
}

test('with a token configured, an app whose repo is plain HTTP to another machine is refused; loopback is fine', () => {
  const doc = (name: string, repo: string) =>
    `apiVersion: tether.dev/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec: {repo: "${repo}", path: p}\n`;
  const argo = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: argo-http}
spec:
  source: {repoURL: "http://git.example.com/acme/env.git", path: p, targetRevision: main}
  destination: {name: dev}
`;
  const files = [
    file('a.yaml', doc('remote', 'http://git.example.com/acme/env.git')),
    file('b.yaml', doc('local', 'http://127.0.0.1:8080/acme/env.git')),
    file('c.yaml', argo),
  ];
  const r = readAppFiles(files, { ...ctx, withToken: true });
  assert.deepEqual(
    r.apps.map((a) => a.app.name),
    ['local'],
  );
  const messages = r.errors.map(describeDocumentError);
  assertMessage(messages, 'a.yaml: App/remote: spec.repo: ', /clear text/);
  assertMessage(messages, 'c.yaml: Application/argo-http: spec.source.repoURL: ');
  // Without a token nothing secret crosses the wire: plain HTTP is the operator's choice.
  assert.equal(readAppFiles(files, ctx).apps.length, 3);
});
