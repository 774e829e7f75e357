import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../src/errors.ts';
import { planEdits } from '../src/plan-edits.ts';
import { collectSourceVersions, planPromotion } from '../src/promote.ts';
import { fixturePath, loadTree, variants } from './fixture-tree.ts';

const before = loadTree(fixturePath('promote', 'before'));
const after = new Map(loadTree(fixturePath('promote', 'after')).map((f) => [f.path, f.text]));
const D5 = `sha256:${'5'.repeat(64)}`;
const D6 = `sha256:${'6'.repeat(64)}`;

test('promote copies the versions found under the source onto the same images under the target, nothing else', () => {
  for (const v of variants) {
    const files = before.map((f) => ({ path: f.path, text: v.apply(f.text) }));
    const plan = planPromotion(files, files, { sourcePaths: ['envs/dev'], targetPaths: ['envs/staging'] });
    const edited = new Map(plan.edits.map((e) => [e.path, e.newText]));
    for (const f of before)
      assert.equal(edited.get(f.path) ?? v.apply(f.text), v.apply(after.get(f.path)!), `${f.path} (${v.name})`);
    assert.deepEqual(
      plan.edits.map((e) => e.path),
      ['envs/staging/api/values.yaml', 'envs/staging/web/kustomization.yaml'],
    );
  }
});

test('the versions read and the changes made are data', () => {
  const plan = planPromotion(before, before, { sourcePaths: ['envs/dev'], targetPaths: ['envs/staging'] });
  assert.deepEqual(
    plan.versions.map((v) => [v.image, v.ref]),
    [
      ['docker.io/library/nginx', 'docker.io/library/nginx:1.27.0'],
      ['ghcr.io/acme/api', 'ghcr.io/acme/api:2.1.0'],
      ['ghcr.io/acme/web', `ghcr.io/acme/web:1.5.0@${D5}`],
    ],
  );
  assert.deepEqual(
    plan.changes.map((c) => `${c.file} ${c.location} ${c.old} → ${c.new}`),
    [
      'envs/staging/api/values.yaml image.tag 2.0.0 → 2.1.0',
      `envs/staging/api/values.yaml image.digest ${D6} → `,
      'envs/staging/web/kustomization.yaml images[0].newTag 1.4.0 → 1.5.0',
      `envs/staging/web/kustomization.yaml images[0].digest null → ${D5}`,
      'envs/staging/web/kustomization.yaml images[1].newTag 1.25.3 → 1.27.0',
    ],
  );
});

test('the promotion is a semantic request: re-planned on a newer target base it lands on the new bytes', () => {
  const plan = planPromotion(before, before, { sourcePaths: ['envs/dev'], targetPaths: ['envs/staging'] });
  // Someone else changed staging meanwhile (replicas, a comment); the same request still applies cleanly.
  const newer = before.map((f) =>
    f.path === 'envs/staging/api/values.yaml'
      ? { ...f, text: `# scaled up for the launch\n${f.text.replace('replicaCount: 4', 'replicaCount: 8')}` }
      : f,
  );
  const again = planEdits(newer, plan.request);
  const api = again.edits.find((e) => e.path === 'envs/staging/api/values.yaml')!.newText;
  assert.equal(
    api,
    `# scaled up for the launch\n${after.get('envs/staging/api/values.yaml')!.replace('replicaCount: 4', 'replicaCount: 8')}`,
  );
  assert.deepEqual(again.changes.length, plan.changes.length);
});

test('a kustomize images entry overrides the manifests it applies to', () => {
  const files = [
    { path: 'dev/deploy.yaml', text: 'spec:\n  containers:\n    - image: web:0.0.0\n' },
    { path: 'dev/kustomization.yaml', text: 'images:\n  - name: web\n    newTag: "1.2"\n' },
  ];
  assert.deepEqual(
    collectSourceVersions(files).map((v) => v.ref),
    ['docker.io/library/web:1.2'],
  );
});

test('two versions of one image in the source are an input error naming every place', () => {
  const files = [
    { path: 'dev/a.yaml', text: 'image: web:1\n' },
    { path: 'dev/b.yaml', text: 'x:\n  image: web:2\n' },
  ];
  assert.throws(
    () => planPromotion(files, files, { sourcePaths: ['dev'], targetPaths: ['prod'] }),
    (e: unknown) =>
      e instanceof TetherError &&
      e.code === 'input' &&
      /docker\.io\/library\/web has 2 different versions/.test(e.message) &&
      e.message.includes('dev/a.yaml image = 1') &&
      e.message.includes('dev/b.yaml x.image = 2'),
  );
});

test('images in the target that the source does not use are left alone', () => {
  const files = [
    { path: 'dev/a.yaml', text: 'image: web:2\n' },
    { path: 'prod/a.yaml', text: 'image: web:1\nsidecar:\n  image: envoy:1\n' },
  ];
  const plan = planPromotion(files, files, { sourcePaths: ['dev'], targetPaths: ['prod'] });
  assert.deepEqual(plan.edits, [{ path: 'prod/a.yaml', newText: 'image: web:2\nsidecar:\n  image: envoy:1\n' }]);
});
