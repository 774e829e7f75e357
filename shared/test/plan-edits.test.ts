// Engine behaviour beyond the fixture trees: bad input, limits, split values, markers, user-named paths, anchors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMap, type Scalar, type YAMLMap } from 'yaml';
import { TetherError } from '../src/errors.ts';
import { parseFieldSpec } from '../src/field-spec.ts';
import type { FileText } from '../src/file-text.ts';
import { type EditRequest, planEdits } from '../src/plan-edits.ts';
import { emptyIntent, verifyEdit } from '../src/verify-edits.ts';
import { parseYamlFile } from '../src/yaml-file.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

/** Plans on one file and returns its new text (or the old one) and the changes. */
function bump(path: string, text: string, request: EditRequest | string[]) {
  const req = Array.isArray(request) ? { images: request } : request;
  const plan = planEdits([{ path, text }], req);
  return { text: plan.edits[0]?.newText ?? text, plan };
}

function isTether(code: string, re: RegExp) {
  return (e: unknown) => e instanceof TetherError && e.code === code && re.test(e.message);
}

test('a file that does not parse and names a requested image fails the whole plan with file:line:col, naming every such file', () => {
  const files: FileText[] = [
    { path: 'ok.yaml', text: 'image: web:1\n' },
    { path: 'a/bad.yaml', text: 'image: web:1\n  x: [\n' },
    { path: 'b/bad.json', text: '{"image": "web:1",,}' },
  ];
  assert.throws(
    () => planEdits(files, { images: ['web:2'] }),
    isTether(
      'parse',
      /^2 file\(s\) do not parse and cannot be skipped; nothing was changed:\na\/bad\.yaml:1:8: Nested mappings[\s\S]*\n {2}a\/bad\.yaml:1 names docker\.io\/library\/web[\s\S]*\nb\/bad\.json:1:19: Unexpected , in flow map\n {2}b\/bad\.json:1 names docker\.io\/library\/web: an edit there may be missing$/,
    ),
  );
  // Outside the selected paths, a broken file does not matter.
  assert.equal(planEdits(files, { images: ['web:2'], paths: ['ok.yaml'] }).edits.length, 1);
});

test('an alias bomb is refused without being expanded; so is an alias inside its own anchor', () => {
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 12; i++)
    bomb += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  bomb += 'image: web:1\n';
  const t0 = performance.now();
  assert.throws(() => bump('bomb.yaml', bomb, ['web:2']), isTether('parse', /^.*bomb\.yaml:\d+:\d+: aliases expand/m));
  assert.ok(performance.now() - t0 < 2000, 'refused quickly, not expanded');
  assert.throws(
    () => bump('self.yaml', 'a: &x [1, *x]\nimage: web:1\n', ['web:2']),
    isTether('parse', /refers to a node that contains/),
  );
  // A file whose text cannot name the requested image is never parsed, so neither refusal blocks an unrelated bump.
  assert.equal(bump('bomb.yaml', bomb.replace('web:1', 'api:1'), ['web:2']).plan.unmatched.length, 1);
  assert.deepEqual(bump('self.yaml', 'a: &x [1, *x]\n', ['web:2']).plan.skipped, []);
  // Ordinary reuse of anchors is fine.
  assert.equal(bump('ok.yaml', 'd: &d {a: 1}\nx: [*d, *d, *d]\nimage: web:1\n', ['web:2']).plan.changes.length, 1);
});

test('Helm chart templates, binary and oversized files are skipped with a reason; other files are ignored', () => {
  const files: FileText[] = [
    { path: 'charts/web/Chart.yaml', text: 'name: web\nversion: 1.0.0\n' },
    { path: 'charts/web/templates/deployment.yaml', text: 'image: {{ .Values.image }}\n  {{- if x }}\n' },
    { path: 'charts/web/values.yaml', text: 'image: web:1\n' },
    { path: 'blob.yaml', text: 'image: web:1\u0000\u0001' },
    { path: 'big.yaml', text: `image: web:1\n#${'x'.repeat(2000)}\n` },
    { path: 'README.md', text: 'image: web:1\n' },
    { path: 'Kustomization', text: 'images:\n- name: web\n  newTag: "1"\n' },
  ];
  const plan = planEdits(files, { images: ['web:2'] }, { maxFileBytes: 1000 });
  assert.deepEqual(
    plan.skipped.map((s) => `${s.path}: ${s.reason}`),
    [
      'charts/web/templates/deployment.yaml: Helm chart template (not YAML until rendered)',
      'blob.yaml: binary (contains NUL bytes)',
      'big.yaml: larger than 1000 bytes',
    ],
  );
  assert.deepEqual(
    plan.edits.map((e) => e.path),
    ['charts/web/values.yaml', 'Kustomization'],
  );
});

test('kustomize: a missing newTag is inserted; a digest-only bump adds the digest and drops newTag, as `kustomize edit set image` does', () => {
  const text = 'images:\n  - name: web # app\n    newName: ghcr.io/acme/web\n  - name: api\n    newTag: v1\n';
  const r = bump('kustomization.yml', text, ['ghcr.io/acme/web:1.2', `api@${D1}`]);
  assert.equal(
    r.text,
    `images:\n  - name: web # app\n    newName: ghcr.io/acme/web\n    newTag: "1.2"\n  - name: api\n    digest: ${D1}\n`,
  );
  assert.deepEqual(
    r.plan.changes.map((c) => [c.location, c.old, c.new]),
    [
      ['images[0].newTag', null, '1.2'],
      ['images[1].digest', null, D1],
      ['images[1].newTag', 'v1', null],
    ],
  );
});

test('kustomize: a stale digest is removed from a flow map, or emptied where removing would touch other bytes', () => {
  const flow = `images: [{name: web, newTag: "1", digest: "${D1}"}]\n`;
  assert.equal(bump('kustomization.yaml', flow, ['web:2']).text, 'images: [{name: web, newTag: "2"}]\n');
  const first = `images:\n- digest: ${D1}\n  name: web\n  newTag: "1"\n`;
  const r = bump('kustomization.yaml', first, ['web:2']);
  assert.equal(r.text, 'images:\n- digest: ""\n  name: web\n  newTag: "2"\n');
  assert.deepEqual(
    r.plan.changes.map((c) => c.new),
    ['', '2'],
  );
  // Tag and digest together replace both.
  const both = `images:\n- name: web\n  newTag: "1"\n  digest: ${D1}\n`;
  assert.equal(
    bump('kustomization.yaml', both, [`web:3@${D2}`]).text,
    `images:\n- name: web\n  newTag: "3"\n  digest: ${D2}\n`,
  );
});

test('Flux Kustomization spec.images are kustomize images too', () => {
  const text =
    'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  images:\n    - name: web\n      newTag: "1"\n';
  const r = bump('flux/web.yaml', text, ['web:2']);
  assert.deepEqual(
    r.plan.changes.map((c) => c.location),
    ['spec.images[0].newTag'],
  );
});

test('Helm values: a stale digest is emptied (the key stays), a missing tag is added', () => {
  const text = `image:\n  repository: web\n  tag: "1"\n  digest: ${D1} # pinned\nother:\n  image:\n    repository: web\n`;
  const r = bump('values.yaml', text, ['web:2']);
  assert.equal(
    r.text,
    'image:\n  repository: web\n  tag: "2"\n  digest: "" # pinned\nother:\n  image:\n    repository: web\n    tag: "2"\n',
  );
  assert.deepEqual(
    r.plan.changes.map((c) => [c.location, c.old, c.new]),
    [
      ['image.tag', '1', '2'],
      ['image.digest', D1, ''],
      ['other.image.tag', null, '2'],
    ],
  );
});

test('an aliased value is edited once, at its anchor; merged (<<) fields are edited where they are defined', () => {
  const text = 'base: &img\n  repository: web\n  tag: "1"\na:\n  <<: *img\n  pullPolicy: Always\nb:\n  image: *img\n';
  const r = bump('values.yaml', text, ['web:2']);
  assert.equal(r.text, text.replace('tag: "1"', 'tag: "2"'));
  assert.deepEqual(
    r.plan.changes.map((c) => c.location),
    ['base.tag'],
  );
});

test('one scalar shared by two images that need different values is an error, not a guess', () => {
  const text = 'v: &v "1"\nweb: {repository: web, tag: *v}\napi: {repository: api, tag: *v}\n';
  assert.throws(() => bump('values.yaml', text, ['web:2', 'api:3']), isTether('edit', /values\.yaml: v is shared/));
  assert.equal(bump('values.yaml', text, ['web:2', 'api:2']).text, text.replace('"1"', '"2"'));
});

test('markers: a full reference, and split name/tag/digest values, on the line of the value', () => {
  const text = [
    'mirror: reg.local/web:1 # tether:image=ghcr.io/acme/web',
    'deploy:',
    '  repo: ghcr.io/acme/web   # tether:image=ghcr.io/acme/web:name',
    '  version: "1"             # tether:image=ghcr.io/acme/web:tag',
    "  pin: ''                  # tether:image=ghcr.io/acme/web:digest",
    'note: "# tether:image=nginx is inside a string"',
    'bad: x # tether:image=Not_A_Repo',
    '',
  ].join('\n');
  const r = bump('config.yaml', text, [`ghcr.io/acme/web:2@${D1}`]);
  assert.equal(
    r.text,
    text
      .replace('reg.local/web:1', `reg.local/web:2@${D1}`)
      .replace('version: "1"', 'version: "2"')
      .replace("pin: ''", `pin: '${D1}'`),
  );
  assert.deepEqual(
    r.plan.changes.map((c) => c.location),
    ['mirror', 'deploy.version', 'deploy.pin'],
  );
  assert.match(JSON.stringify(r.plan.skipped), /Not_A_Repo/);
});

test('user-named paths (--field) find values no rule recognises', () => {
  const text = 'web:\n  imageName: ghcr.io/acme/web\n  imageTag: v1\nworker: {img: "ghcr.io/acme/worker:1"}\n';
  const fields = [
    parseFieldSpec('web.imageTag=ghcr.io/acme/web:tag'),
    parseFieldSpec('**/values.yaml#worker.img=ghcr.io/acme/worker'),
  ];
  const r = bump('envs/dev/values.yaml', text, { images: ['ghcr.io/acme/web:v2', 'ghcr.io/acme/worker:2'], fields });
  assert.equal(r.text, text.replace('imageTag: v1', 'imageTag: v2').replace('worker:1"', 'worker:2"'));
  // The file glob limits where a field applies.
  const other = bump('other.yaml', text, { images: ['ghcr.io/acme/worker:2'], fields });
  assert.deepEqual(other.plan.changes, []);
  assert.throws(() => parseFieldSpec('no-equals'), isTether('input', /field "no-equals"/));
  assert.throws(() => parseFieldSpec('a=Bad:tag'), isTether('input', /lower-case/));
});

test('requests are validated first: invalid, versionless and conflicting images name the input', () => {
  const files = [{ path: 'x.yaml', text: 'image: web:1\n' }];
  assert.throws(
    () => planEdits(files, { images: ['web:'] }),
    isTether('invalid-reference', /^image 1: "web:" is not an image reference: the tag is empty$/),
  );
  assert.throws(() => planEdits(files, { images: ['web'] }), isTether('invalid-reference', /names no tag or digest/));
  assert.throws(
    () => planEdits(files, { images: ['web:1', 'docker.io/library/web:2'] }),
    isTether('input', /conflicts with "web:1"/),
  );
});

test('paths select files; images found nowhere are reported as unmatched; nothing changes when all is current', () => {
  const files = [
    { path: 'envs/dev/a.yaml', text: 'image: web:1\n' },
    { path: 'envs/prod/a.yaml', text: 'image: web:1\n' },
  ];
  const plan = planEdits(files, { images: ['web:2', 'api:1'], paths: ['envs/dev'] });
  assert.deepEqual(
    plan.edits.map((e) => e.path),
    ['envs/dev/a.yaml'],
  );
  assert.deepEqual(plan.unmatched, ['api:1']);
  const same = planEdits(files, { images: ['docker.io/library/web:1'] });
  assert.deepEqual([same.edits, same.changes, same.unmatched], [[], [], []]);
});

test('empty files, comment-only files and empty documents are fine', () => {
  const files = [
    { path: 'empty.yaml', text: '' },
    { path: 'comments.yaml', text: '# nothing here\n' },
    { path: 'docs.yaml', text: '---\n---\nimage: web:1\n---\n' },
  ];
  const plan = planEdits(files, { images: ['web:2'] });
  assert.deepEqual(
    plan.changes.map((c) => [c.file, c.document]),
    [['docs.yaml', 1]],
  );
});

test('verification rejects an edited text that changed anything but the intended values', () => {
  const file = parseYamlFile('v.yaml', 'a: 1\nb: x # c\nc: [1, 2]\n');
  const root = file.docs[0]!.contents as YAMLMap;
  assert.ok(isMap(root));
  const b = root.get('b', true) as Scalar;
  const intent = emptyIntent();
  intent.scalars.set(b, 'y');
  verifyEdit(file, 'a: 1\nb: y # c\nc: [1, 2]\n', intent);
  const bad: [string, RegExp][] = [
    ['a: 1\nb: z\nc: [1, 2]\n', /b: reads z, not y/],
    ['a: 2\nb: y\nc: [1, 2]\n', /a: the value changed/],
    ['a: 1\nb: y\nc: [1]\n', /c: the list length changed/],
    ['a: 1\nb: y\n', /a key vanished/],
    ['a: 1\nb: "y\nc: [1, 2]\n', /does not hold the intended values/],
    ['a: 1\nb: y\nc: [1, 2]\n---\n', /1 documents became 2/],
  ];
  for (const [text, re] of bad) assert.throws(() => verifyEdit(file, text, intent), isTether('edit', re), text);
});
