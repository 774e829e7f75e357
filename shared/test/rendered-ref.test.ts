// After planning, every edited use is rendered the way its consumer joins the parts (kustomize's images
// transformer, a chart's image helper) and must be a valid reference with the requested version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../src/errors.ts';
import { planEdits } from '../src/plan-edits.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function bump(text: string, images: string[], path = 'kustomization.yaml') {
  const plan = planEdits([{ path, text }], { images });
  return { text: plan.edits[0]?.newText ?? text, plan };
}

test('kustomize newName carrying a tag or digest: the version is edited inside newName, no newTag is added', () => {
  const text = [
    'images:',
    '  - name: postgres',
    '    newName: awesome/postgres:11',
    '  - name: redis',
    `    newName: awesome/redis@${D1}`,
    '  - name: mysql',
    `    newName: awesome/mysql:8@${D1}`,
    '',
  ].join('\n');
  const r = bump(text, ['awesome/postgres:12', `awesome/redis@${D2}`, `awesome/mysql:9@${D2}`]);
  assert.equal(
    r.text,
    text
      .replace('postgres:11', 'postgres:12')
      .replace(`redis@${D1}`, `redis@${D2}`)
      .replace(`mysql:8@${D1}`, `mysql:9@${D2}`),
  );
  assert.deepEqual(
    r.plan.changes.map((c) => c.location),
    ['images[0].newName', 'images[1].newName', 'images[2].newName'],
  );
});

test('an edit that would render an invalid reference is refused, naming the file and the path', () => {
  // newName with a tag and a newTag: kustomize renders awesome/postgres:11:<newTag>.
  const text = 'images:\n  - name: postgres\n    newName: awesome/postgres:11\n    newTag: "10"\n';
  assert.throws(
    () => bump(text, ['awesome/postgres:12'], 'envs/dev/kustomization.yaml'),
    (e: unknown) =>
      e instanceof TetherError &&
      e.code === 'edit' &&
      /^envs\/dev\/kustomization\.yaml: images\[0\] would render as "awesome\/postgres:12:10", which is not a valid image reference/.test(
        e.message,
      ),
  );
});

test('kustomize: tag and digest follow kustomize edit set image (a digest replaces the tag, a tag the digest)', () => {
  const tagged = 'images:\n  - name: web\n    newTag: "1"\n';
  assert.equal(bump(tagged, [`web@${D1}`]).text, `images:\n  - name: web\n    digest: ${D1}\n`);
  const pinned = `images:\n  - name: web\n    digest: ${D1}\n`;
  assert.equal(bump(pinned, ['web:2']).text, 'images:\n  - name: web\n    newTag: "2"\n');
  // A name carrying a tag only matches (kustomize ignores it); the entry is still found by its repository.
  const named = `images:\n  - name: postgres:11\n    digest: ${D1}\n`;
  assert.equal(bump(named, [`postgres@${D2}`]).text, named.replace(D1, D2));
});

test('Helm maps render as [registry/]repository[:tag][@digest]', () => {
  const text = `image:\n  registry: ghcr.io\n  repository: acme/web\n  tag: "1"\n  digest: ""\n`;
  const r = bump(text, [`ghcr.io/acme/web:2@${D1}`], 'values.yaml');
  assert.equal(r.text, text.replace('"1"', '"2"').replace('digest: ""', `digest: "${D1}"`));
});
