// The planner skips parsing files whose raw text cannot name a requested image. That must change no edit: for every
// image the fixture repositories use (each alone, all at once, and images they do not use), planning with and
// without the prefilter gives the same edits, changes, unmatched images, or the same error; and the same skipped
// files, except the one deliberate difference: a file that does not parse and cannot name a requested image is no
// longer reported (it was never searched, and could hold no edit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFieldSpec } from '../src/field-spec.ts';
import type { FileText } from '../src/file-text.ts';
import { parseImageRef } from '../src/image-ref.ts';
import type { FieldSpec } from '../src/image-uses.ts';
import { type EditRequest, mayNameRequested, planEdits, scanFiles } from '../src/plan-edits.ts';
import { fixturePath, loadTree } from './fixture-tree.ts';

/** The plan as comparable data, or the error's code and message. */
function outcome(files: readonly FileText[], request: EditRequest, prefilter: boolean): unknown {
  try {
    const p = planEdits(files, request, { prefilter });
    return { edits: p.edits, changes: p.changes, skipped: p.skipped, unmatched: p.unmatched };
  } catch (err) {
    return { error: `${(err as { code?: string }).code}: ${(err as Error).message}` };
  }
}

/** Every repository the files use (scanned without the prefilter, since none is requested). */
function repositories(files: readonly FileText[], fields: readonly FieldSpec[] = []): string[] {
  const out = new Set<string>();
  try {
    scanFiles(files, [], fields, {}, ({ uses }) => {
      for (const u of uses) for (const r of u.repositories) out.add(r);
    });
  } catch {
    // A tree with a file that cannot be skipped still has its other files' images compared below.
  }
  return [...out].sort();
}

/** Requests for each repository alone (tag, digest, both), all together, and images nothing uses. */
function requests(repos: readonly string[]): string[][] {
  const digest = `sha256:${'c'.repeat(64)}`;
  const out: string[][] = [];
  for (const r of repos) out.push([`${r}:9.9.9`], [`${r}@${digest}`], [`${r}:9.9.9@${digest}`]);
  out.push(repos.map((r) => `${r}:9.9.9`));
  out.push(['ghcr.io/nobody/absent:1'], ['absent:1'], ['docker.io/library/nginx:1.27']);
  return out.filter((r) => r.length > 0);
}

function assertSame(files: readonly FileText[], request: EditRequest, label: string): void {
  const without = outcome(files, request, false) as { skipped?: { path: string; reason: string }[] };
  if (without.skipped) {
    const images = Array.isArray(request.images) ? (request.images as string[]) : [];
    const needles = images.map(
      (i) => new RegExp(`(?<![\\w.-])${parseImageRef(i).path.replace(/^.*\//, '')}(?![\\w.-])`),
    );
    const text = new Map(files.map((f) => [f.path, f.text]));
    without.skipped = without.skipped.filter(
      (s) => !s.reason.startsWith('does not parse') || mayNameRequested(text.get(s.path)!, needles),
    );
  }
  assert.deepEqual(outcome(files, request, true), without, label);
}

for (const tree of ['corpus', 'helm/before', 'kustomize/before', 'manifests/before', 'promote/before']) {
  test(`fixture tree ${tree}: the same plan with and without the prefilter, for every image it uses`, () => {
    const files = loadTree(fixturePath(tree));
    const repos = repositories(files);
    assert.ok(repos.length > 0, `${tree} uses images`);
    for (const images of requests(repos)) assertSame(files, { images }, `${tree}: ${images.join(' ')}`);
  });
}

/** A deterministic repository of many shapes and spellings, unrelated files among them. */
function generatedRepo(): FileText[] {
  const files: FileText[] = [];
  const apps = ['web', 'api', 'worker', 'web-admin', 'nginx', 'redis', 'payments'];
  const registries = ['ghcr.io/acme', 'registry.acme.internal/acme', 'docker.io/library', ''];
  for (let i = 0; i < 240; i++) {
    const app = apps[i % apps.length]!;
    const reg = registries[Math.floor(i / apps.length) % registries.length]!;
    const name = reg ? `${reg}/${app}` : app;
    const dir = `envs/e${i % 5}/${app}-${i}`;
    switch (i % 12) {
      case 0:
        files.push({ path: `${dir}/deployment.yaml`, text: `spec:\n  containers:\n    - image: ${name}:1.${i}\n` });
        break;
      case 1: {
        const [registry, ...rest] = name.includes('/') ? name.split('/') : ['', name];
        const repo = rest.length ? rest.join('/') : name;
        files.push({
          path: `${dir}/values.yaml`,
          text: `image:\n  ${registry ? `registry: ${registry}\n  ` : ''}repository: ${repo}\n  tag: "1.${i}"\n`,
        });
        break;
      }
      case 2:
        files.push({
          path: `${dir}/kustomization.yaml`,
          text: `images:\n  - name: ${app}\n    newName: ${name}\n    newTag: "1.${i}"\n`,
        });
        break;
      case 3:
        files.push({ path: `${dir}/values.yaml`, text: `appTag: 1.${i} # tether:image=${name}:tag\n` });
        break;
      case 4:
        // JSON with escapes (`\/`, `\u0077` for `w`): only a parse reads the name.
        files.push({
          path: `${dir}/job.json`,
          text: `{"spec": {"containers": [{"image": "${name.replace(/\//g, '\\/').replace(app, `\\u00${app.charCodeAt(0).toString(16)}${app.slice(1)}`)}:1.${i}"}]}}\n`,
        });
        break;
      case 5:
        files.push({
          path: `${dir}/app.yaml`,
          text: `spec:\n  source:\n    kustomize:\n      images: ["${app}=${name}:1.${i}"]\n`,
        });
        break;
      case 6:
        files.push({
          path: `${dir}/anchors.yaml`,
          text: `x: &v ${name}:1.${i}\nspec:\n  containers:\n    - image: *v\n    - {name: side, image: busybox:1}\n`,
        });
        break;
      case 7:
        // Broken YAML, naming an app or not.
        files.push({
          path: `${dir}/broken.yaml`,
          text:
            i % 24 === 7 ? `replicas: {{ .Values.n }}\n  {{- if x }}\n` : `image: ${name}:{{ .T }}\n  {{- if x }}\n`,
        });
        break;
      case 8:
        files.push({ path: `${dir}/values.yaml`, text: `frontend:\n  imageTag: "1.${i}"\n` });
        break;
      case 9:
        files.push({ path: `${dir}/invalid.yaml`, text: `image: ${name}:{GENERATED_TAG}\n` });
        break;
      default:
        files.push({ path: `${dir}/configmap.yaml`, text: `kind: ConfigMap\ndata:\n  LOG: info\n  N: "${i}"\n` });
    }
  }
  return files;
}

test('a generated repository: the same plan with and without the prefilter', () => {
  const files = generatedRepo();
  const repos = repositories(files);
  assert.ok(repos.length >= 10, `uses ${repos.length} repositories`);
  const broken = files.filter((f) => f.path.endsWith('broken.yaml'));
  for (const images of requests(repos)) {
    // Broken files that name an image refuse the plan; compare the rest too, where the other rules decide.
    assertSame(files, { images }, images.join(' '));
    const rest = files.filter((f) => !broken.includes(f) || !f.text.includes('image:'));
    assertSame(rest, { images }, `without broken files naming images: ${images.join(' ')}`);
  }
  // Fields name their image outside the file: files they apply to are parsed whatever they contain.
  const fields = [parseFieldSpec('envs/**/values.yaml#frontend.imageTag=ghcr.io/acme/frontend:tag')];
  for (const images of [['ghcr.io/acme/frontend:2.0'], ['ghcr.io/acme/web:2.0']]) {
    const plan = planEdits(files, { images, fields });
    assertSame(files, { images, fields }, `with a field: ${images.join(' ')}`);
    if (images[0]!.includes('frontend')) assert.ok(plan.changes.length > 0, 'the field was edited');
  }
});

test('mayNameRequested: a needle, a backslash or a marker makes a file worth parsing', () => {
  const web = [/(?<![\w.-])web(?![\w.-])/];
  assert.equal(mayNameRequested('image: ghcr.io/acme/api:1\n', web), false);
  assert.equal(mayNameRequested('repository: acme/web\n', web), true);
  assert.equal(mayNameRequested('image: "ghcr.io\\/acme\\/api:1"\n', web), true);
  assert.equal(mayNameRequested('tag: 1 # tether:image=reg.local/x:tag\n', web), true);
});
