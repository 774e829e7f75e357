// Image shapes found in real repositories beyond container `image:` fields: the map shapes of widely used charts,
// keys ending in "image" (Renovate's heuristic), Pod image volumes, kustomize entries with versions in names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EditRequest, planEdits } from '../src/plan-edits.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function bump(text: string, request: EditRequest | string[], path = 'values.yaml') {
  const plan = planEdits([{ path, text }], Array.isArray(request) ? { images: request } : request);
  return { text: plan.edits[0]?.newText ?? text, plan };
}

const changes = (r: ReturnType<typeof bump>) => r.plan.changes.map((c) => `${c.location} ${c.old} → ${c.new}`);

test('image: {name, tag} and {repository, version} maps', () => {
  const text =
    'app:\n  image:\n    name: ghcr.io/acme/web\n    tag: "1.0"\nproxy:\n  image:\n    repository: envoyproxy/envoy\n    version: v1.30.0\n';
  const r = bump(text, ['ghcr.io/acme/web:1.1', 'envoyproxy/envoy:v1.31.0']);
  assert.deepEqual(changes(r), ['app.image.tag 1.0 → 1.1', 'proxy.image.version v1.30.0 → v1.31.0']);
  assert.equal(r.text, text.replace('"1.0"', '"1.1"').replace('v1.30.0', 'v1.31.0'));
});

test('Bitnami {registry, repository, tag, digest}: a digest is set, the tag is set, an old digest emptied', () => {
  const text = `image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.2.4-debian-12-r9\n  digest: ""\n`;
  const pinned = bump(text, [`bitnami/redis:7.2.5-debian-12-r0@${D1}`]);
  assert.equal(pinned.text, text.replace('7.2.4-debian-12-r9', '7.2.5-debian-12-r0').replace('""', `"${D1}"`));
  const back = bump(pinned.text, ['docker.io/bitnami/redis:7.2.6-debian-12-r0']);
  assert.deepEqual(changes(back), ['image.tag 7.2.5-debian-12-r0 → 7.2.6-debian-12-r0', `image.digest ${D1} → `]);
});

test('keys ending in "image", any case, holding full references', () => {
  const text = [
    'sidecarImage: ghcr.io/acme/sidecar:1.0',
    'inline_image: "ghcr.io/acme/sidecar:1.0"',
    'initIMAGE: ghcr.io/acme/sidecar:1.0 # init',
    'imagePullPolicy: IfNotPresent',
    'notAnImage: true',
    '',
  ].join('\n');
  const r = bump(text, ['ghcr.io/acme/sidecar:2.0']);
  assert.deepEqual(changes(r), [
    'sidecarImage ghcr.io/acme/sidecar:1.0 → ghcr.io/acme/sidecar:2.0',
    'inline_image ghcr.io/acme/sidecar:1.0 → ghcr.io/acme/sidecar:2.0',
    'initIMAGE ghcr.io/acme/sidecar:1.0 → ghcr.io/acme/sidecar:2.0',
  ]);
  assert.equal(r.text, text.replaceAll('sidecar:1.0', 'sidecar:2.0'));
});

test('Pod image volumes: volumes[].image.reference', () => {
  const text = [
    'apiVersion: v1',
    'kind: Pod',
    'spec:',
    '  containers:',
    '    - name: app',
    '      image: ghcr.io/acme/web:1',
    '  volumes:',
    '    - name: models',
    '      image:',
    '        reference: quay.io/acme/models:v1',
    '        pullPolicy: IfNotPresent',
    '',
  ].join('\n');
  const r = bump(text, [`quay.io/acme/models:v2@${D2}`], 'pod.yaml');
  assert.deepEqual(changes(r), [
    `spec.volumes[0].image.reference quay.io/acme/models:v1 → quay.io/acme/models:v2@${D2}`,
  ]);
});

test('kustomize: a name with a tag matches its repository; newName with a tag or digest is edited in place', () => {
  const text = `images:\n  - name: postgres:11\n    newTag: "11.1"\n  - name: nginx\n    newName: mirror.local/nginx:1.25\n`;
  const r = bump(text, ['postgres:11.2', 'mirror.local/nginx:1.27'], 'kustomization.yaml');
  assert.deepEqual(changes(r), [
    'images[0].newTag 11.1 → 11.2',
    'images[1].newName mirror.local/nginx:1.25 → mirror.local/nginx:1.27',
  ]);
});

test('invalid current values of a requested image are reported as warnings, and not edited', () => {
  const text = [
    'a:',
    `  image: ghcr.io/acme/web@sha256:${'a'.repeat(18)}`,
    'b:',
    '  image: ghcr.io/acme/web:{GENERATED_TAG}',
    'c:',
    '  image:',
    '    repository: ghcr.io/acme/web',
    '    tag: "{GENERATED_TAG}"',
    'd:',
    '  image: ghcr.io/acme/other:{GENERATED_TAG}',
    'e:',
    '  image: ghcr.io/acme/web:1',
    '',
  ].join('\n');
  const r = bump(text, ['ghcr.io/acme/web:2']);
  assert.deepEqual(changes(r), ['e.image ghcr.io/acme/web:1 → ghcr.io/acme/web:2']);
  assert.deepEqual(
    r.plan.skipped.map((s) => `${s.warning ? 'warning ' : ''}${s.location}: ${s.reason}`),
    [
      `warning a.image: "ghcr.io/acme/web@sha256:${'a'.repeat(18)}" is not a valid image reference (digest "sha256:${'a'.repeat(18)}" must be <algorithm>:<hex, at least 32 digits>); not edited`,
      'warning b.image: "ghcr.io/acme/web:{GENERATED_TAG}" is not a valid image reference (tag "{GENERATED_TAG}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}); not edited',
      'warning c.image.tag: "ghcr.io/acme/web:{GENERATED_TAG}" is not a valid image reference (tag "{GENERATED_TAG}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}); not edited',
    ],
  );
});

test('a tag field holding tag@digest, and {image: <repository>, tag} maps', () => {
  const text = `db:\n  image:\n    repository: bitnami/postgresql\n    tag: 11.5.0-debian-9-r0@${D1}\nproxy:\n  image: nginx\n  tag: "1.25"\n`;
  const r = bump(text, [`bitnami/postgresql:11.6.0@${D2}`, 'nginx:1.27']);
  assert.deepEqual(changes(r), [`db.image.tag 11.5.0-debian-9-r0@${D1} → 11.6.0@${D2}`, 'proxy.tag 1.25 → 1.27']);
  // A digest-only bump keeps the tag; a tag-only bump drops the stale digest.
  assert.deepEqual(changes(bump(text, [`bitnami/postgresql@${D2}`])), [
    `db.image.tag 11.5.0-debian-9-r0@${D1} → 11.5.0-debian-9-r0@${D2}`,
  ]);
  assert.deepEqual(changes(bump(text, ['bitnami/postgresql:12'])), [`db.image.tag 11.5.0-debian-9-r0@${D1} → 12`]);
});

test("Argo CD kustomize.images strings ([name=]reference), as in an Application or argocd-image-updater's file", () => {
  const text = [
    'apiVersion: argoproj.io/v1alpha1',
    'kind: Application',
    'spec:',
    '  source:',
    '    kustomize:',
    '      images:',
    '        - ghcr.io/acme/web:1.0',
    "        - 'api=ghcr.io/acme/api:1.0'",
    '',
  ].join('\n');
  const r = bump(text, ['ghcr.io/acme/web:1.1', 'ghcr.io/acme/api:1.1'], 'apps/web.yaml');
  assert.equal(r.text, text.replace('web:1.0', 'web:1.1').replace('api:1.0', 'api:1.1'));
  const updater = 'kustomize:\n  images:\n  - ghcr.io/acme/web:1.0\n';
  assert.equal(
    bump(updater, ['ghcr.io/acme/web:1.1'], 'envs/dev/.argocd-source-web.yaml').text,
    updater.replace('1.0', '1.1'),
  );
});
