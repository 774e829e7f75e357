// Files in scope that do not parse are skipped with a warning naming them, unless their raw text names a requested
// image: then the plan is refused naming the file and the line, since an edit there might be missing. A file whose
// raw text cannot name any requested image (none of the requested repositories' last path segments as a name, no backslash
// escape, no marker) is not parsed at all, so it is not reported either: it cannot hold an edit, and parsing every
// file was most of the time a bump of a large repository took.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../src/errors.ts';
import { planEdits } from '../src/plan-edits.ts';
import { planPromotion } from '../src/promote.ts';

const GITLAB_CI = [
  '.defaults: &defaults',
  '  image: node:20',
  '.cache: &cache',
  '  cache: {paths: [node_modules]}',
  'build:',
  '  <<: *defaults',
  '  <<: *cache',
  '  script: [npm ci]',
  '  script: [npm test]',
  '',
].join('\n');
const TEMPLATED =
  'apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: {{ .Values.replicas }}\n  {{- if .Values.x }}\n';
const VALUES = 'image:\n  repository: ghcr.io/acme/web\n  tag: "1.0"\n';

test('unparseable files that could but do not name the image are skipped with a warning; the edit goes ahead', () => {
  const files = [
    { path: '.gitlab-ci.yml', text: `# deploys web\n${GITLAB_CI}` },
    { path: 'deploy/templated.yaml', text: TEMPLATED.replace('Deployment', 'Deployment\nmetadata: {name: web}') },
    { path: 'envs/dev/values.yaml', text: VALUES },
  ];
  const plan = planEdits(files, { images: ['ghcr.io/acme/web:1.1'] });
  assert.deepEqual(
    plan.edits.map((e) => e.path),
    ['envs/dev/values.yaml'],
  );
  assert.deepEqual(
    plan.skipped.map((s) => [
      s.path,
      s.warning,
      /^does not parse, so it was not searched: \S+:\d+:\d+: /.test(s.reason),
    ]),
    [
      ['.gitlab-ci.yml', true, true],
      ['deploy/templated.yaml', true, true],
    ],
  );
});

test('unparseable files whose text cannot name the image are not parsed, so not reported', () => {
  const files = [
    { path: '.gitlab-ci.yml', text: GITLAB_CI },
    { path: 'deploy/templated.yaml', text: TEMPLATED },
    { path: 'envs/dev/values.yaml', text: VALUES },
  ];
  const plan = planEdits(files, { images: ['ghcr.io/acme/web:1.1'] });
  assert.deepEqual(
    plan.edits.map((e) => e.path),
    ['envs/dev/values.yaml'],
  );
  assert.deepEqual(plan.skipped, []);
  // Parsed anyway (and so reported) when it holds a backslash escape, which could spell the name.
  const escaped = planEdits([...files, { path: 'esc.yaml', text: `${TEMPLATED}x: "\\u0041"\n` }], {
    images: ['ghcr.io/acme/web:1.1'],
  });
  assert.deepEqual(
    escaped.skipped.map((s) => s.path),
    ['esc.yaml'],
  );
});

test('an unparseable file whose text names the requested repository is refused, naming the file and line', () => {
  const templated = `${TEMPLATED}      containers:\n        - image: "ghcr.io/acme/web:{{ .Values.tag }}"\n`;
  const files = [
    { path: 'deploy/templated.yaml', text: templated },
    { path: 'envs/dev/values.yaml', text: VALUES },
  ];
  assert.throws(
    () => planEdits(files, { images: ['ghcr.io/acme/web:1.1'] }),
    (e: unknown) =>
      e instanceof TetherError &&
      e.code === 'parse' &&
      /deploy\/templated\.yaml:7 names ghcr\.io\/acme\/web: an edit there may be missing/.test(e.message),
  );
  // A split spelling (`repository: acme/web` beside a registry) is recognised too; another image is not.
  const split = 'image:\n  registry: ghcr.io\n  repository: acme/web\n  tag: [\n';
  assert.throws(
    () => planEdits([{ path: 'v.yaml', text: split }], { images: ['ghcr.io/acme/web:2'] }),
    /v\.yaml:3 names/,
  );
  // A file that says `webapp` is parsed, but it does not name ghcr.io/acme/webapp: a warning.
  assert.equal(
    planEdits([{ path: 'v.yaml', text: `# webapp values\n${split}` }], { images: ['ghcr.io/acme/webapp:2'] }).skipped[0]
      ?.warning,
    true,
  );
  // One that does not say `webapp` as a name (`acme/web` is another name) is not parsed at all.
  assert.deepEqual(planEdits([{ path: 'v.yaml', text: split }], { images: ['ghcr.io/acme/webapp:2'] }).skipped, []);
});

test('promotion: an unparseable source file is skipped with a warning in the plan', () => {
  const source = [
    { path: 'envs/dev/values.yaml', text: VALUES.replace('1.0', '1.1') },
    { path: 'envs/dev/broken.yaml', text: TEMPLATED },
  ];
  const target = [{ path: 'envs/prod/values.yaml', text: VALUES }];
  const plan = planPromotion(source, target, { sourcePaths: ['envs/dev/**'], targetPaths: ['envs/prod/**'] });
  assert.equal(plan.changes.length, 1);
  assert.ok(plan.skipped.some((s) => s.path === 'envs/dev/broken.yaml' && s.warning));
});
