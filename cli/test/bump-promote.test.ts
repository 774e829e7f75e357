// `tether bump` and `tether promote` end to end: the real bin on temp copies of the fixture trees (spawned in
// parallel to keep the file fast), plus in-process runs of main() for the usage and input edges.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fixturePath, loadTree } from '../../shared/test/fixture-tree.ts';
import { main } from '../main.ts';

const bin = new URL('../../bin/tether.js', import.meta.url).pathname;
const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A temp copy of a fixture's before/ tree. */
function copyOf(fixture: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
  temps.push(dir);
  cpSync(fixturePath(fixture, 'before'), dir, { recursive: true });
  return dir;
}

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function inProcess(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

function assertTreeEquals(dir: string, fixture: string, side: 'before' | 'after') {
  for (const f of loadTree(fixturePath(fixture, side)))
    assert.equal(readFileSync(join(dir, f.path), 'utf8'), f.text, `${f.path} as in ${fixture}/${side}`);
}

test('bump and promote edit in place, --json prints the changes, bad input exits 2 writing nothing', async () => {
  const bumpDir = copyOf('kustomize');
  const promoteDir = copyOf('promote');
  const badRefDir = copyOf('kustomize');
  const brokenDir = copyOf('kustomize');
  writeFileSync(join(brokenDir, 'overlays/broken.yaml'), 'image: ghcr.io/acme/web:1\n  bad: [\n');
  const [bump, promote, badRef, broken] = await Promise.all([
    run(['bump', '--dir', bumpDir, '--image', 'ghcr.io/acme/web:1.5.0', '--image', 'nginx:1.27.0', '--json']),
    // The bin costs a process start each; two runs prove the wiring, the rest run main() in process.
    inProcess(['promote', '--dir', promoteDir, '--from', 'envs/dev', '--to', 'envs/staging/']),
    inProcess(['bump', '--dir', badRefDir, '--image', 'ghcr.io/acme/web:1.5.0', '--image', 'web:']),
    run(['bump', '--dir', brokenDir, '--image', 'ghcr.io/acme/web:1.5.0']),
  ]);

  assert.equal(bump.status, 0, bump.stderr);
  assertTreeEquals(bumpDir, 'kustomize', 'after');
  const changes = JSON.parse(bump.stdout) as Record<string, unknown>[];
  assert.equal(changes.length, 7);
  assert.deepEqual(changes[0], {
    file: 'base/deployment.yaml',
    document: 0,
    location: 'spec.template.spec.containers[0].image',
    image: 'ghcr.io/acme/web',
    old: 'ghcr.io/acme/web:1.4.2',
    new: 'ghcr.io/acme/web:1.5.0',
  });
  assert.equal(changes[3]!.new, null, 'the stale digest removal is reported');

  assert.equal(promote.status, 0, promote.stderr);
  assertTreeEquals(promoteDir, 'promote', 'after');
  assert.match(promote.stdout, /envs\/staging\/web\/kustomization\.yaml images\[0\]\.newTag: 1\.4\.0 → 1\.5\.0/);
  assert.match(promote.stdout, /changed 5 value\(s\) in 2 file\(s\)/);

  assert.equal(badRef.status, 2);
  assert.match(badRef.stderr, /--image "web:": "web:" is not an image reference: the tag is empty/);
  assertTreeEquals(badRefDir, 'kustomize', 'before');

  assert.equal(broken.status, 2);
  assert.match(broken.stderr, /overlays\/broken\.yaml:1:8: Nested mappings/);
  assertTreeEquals(brokenDir, 'kustomize', 'before');
});

test('--dry-run writes nothing; a second run finds nothing to change; --path limits the files', async () => {
  const dir = copyOf('kustomize');
  const dry = await inProcess(['bump', '--dir', dir, '--image', 'ghcr.io/acme/web:1.5.0', '--dry-run']);
  assert.equal(dry.status, 0);
  assert.match(dry.stdout, /would change 4 value\(s\) in 3 file\(s\) \(dry run: nothing written\)/);
  assertTreeEquals(dir, 'kustomize', 'before');

  const some = await inProcess(['bump', '--dir', dir, '--image', 'ghcr.io/acme/web:1.5.0', '--path', 'overlays/prod']);
  assert.equal(some.status, 0);
  assert.match(some.stdout, /changed 1 value\(s\) in 1 file\(s\)/);
  assert.match(readFileSync(join(dir, 'overlays/prod/kustomization.yaml'), 'utf8'), /newTag: "1\.5\.0"/);
  assert.match(readFileSync(join(dir, 'base/deployment.yaml'), 'utf8'), /web:1\.4\.2/);

  await inProcess(['bump', '--dir', dir, '--image', 'ghcr.io/acme/web:1.5.0', '--image', 'nginx:1.27.0']);
  const again = await inProcess(['bump', '--dir', dir, '--image', 'ghcr.io/acme/web:1.5.0', '--json']);
  assert.equal(again.status, 0);
  assert.equal(again.stdout, '[]');
  const unmatched = await inProcess(['bump', '--dir', dir, '--image', 'quay.io/x/y:1']);
  assert.equal(unmatched.status, 0);
  assert.match(unmatched.stderr, /warning: no file uses quay\.io\/x\/y:1/);
});

test('symlinks are not followed (least of all out of the checkout); binary files are skipped with a reason', async () => {
  const dir = copyOf('kustomize');
  const outside = mkdtempSync(join(tmpdir(), 'tether-outside-'));
  temps.push(outside);
  writeFileSync(join(outside, 'secret.yaml'), 'image: ghcr.io/acme/web:0.1\n');
  symlinkSync(join(outside, 'secret.yaml'), join(dir, 'escape.yaml'));
  symlinkSync(outside, join(dir, 'escape-dir'));
  symlinkSync('base/deployment.yaml', join(dir, 'alias.yaml'));
  writeFileSync(join(dir, 'blob.yaml'), Buffer.from([0x69, 0x6d, 0x00, 0xff]));
  writeFileSync(join(dir, 'latin1.yaml'), Buffer.from('image: caf\xe9\n', 'latin1'));
  const r = await inProcess(['bump', '--dir', dir, '--image', 'ghcr.io/acme/web:1.5.0']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(outside, 'secret.yaml'), 'utf8'), 'image: ghcr.io/acme/web:0.1\n');
  assert.match(r.stderr, /skipped escape\.yaml: symlink leaves the checkout; not followed/);
  assert.match(r.stderr, /skipped escape-dir: symlink leaves the checkout/);
  assert.match(r.stderr, /skipped alias\.yaml: symlink to base\/deployment\.yaml; edited there/);
  assert.match(r.stderr, /skipped blob\.yaml: binary \(contains NUL bytes\)/);
  assert.match(r.stderr, /skipped latin1\.yaml: binary \(not valid UTF-8\)/);
  // The real file was edited once, under its own name.
  assert.match(r.stdout, /changed 4 value\(s\) in 3 file\(s\)/);
});

test('usage errors exit 2 and name the problem', async () => {
  const dir = copyOf('kustomize');
  const cases: [string[], RegExp][] = [
    [['bump', '--image', 'web:1'], /--dir <checkout> is required/],
    [['bump', '--dir', dir], /--image <ref> is required/],
    [['bump', '--dir', join(dir, 'nope'), '--image', 'web:1'], /does not exist/],
    [['bump', '--dir', dir, '--image', 'web'], /names no tag or digest/],
    [['bump', '--dir', dir, '--image', 'web:1', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['bump', '--dir', dir, '--image', 'web:1', '--field', 'x'], /field "x"/],
    [['promote', '--dir', dir, '--from', 'overlays/dev'], /--to <env path> is required/],
    [['promote', '--dir', dir, '--from', 'overlays/dev', '--to', 'overlays/qa'], /--to "overlays\/qa" does not exist/],
    [['promote', '--dir', dir, '--from', '../x', '--to', 'overlays/prod'], /inside the checkout/],
  ];
  for (const [args, re] of cases) {
    const r = await inProcess(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
  }
  assertTreeEquals(dir, 'kustomize', 'before');
});

test('promote between kustomize overlays copies versions only', async () => {
  const dir = copyOf('kustomize');
  const r = await inProcess(['promote', '--dir', dir, '--from', 'overlays/dev', '--to', 'overlays/prod', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    (JSON.parse(r.stdout) as { location: string; new: string }[]).map((c) => [c.location, c.new]),
    [
      ['images[0].newTag', '1.4.2'],
      ['images[0].digest', `sha256:${'1'.repeat(64)}`],
    ],
  );
  assert.equal(
    readFileSync(join(dir, 'overlays/prod/kustomization.yaml'), 'utf8'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: web-prod\nresources: [../../base]\nimages:\n- {name: ghcr.io/acme/web, newTag: "1.4.2", digest: sha256:${'1'.repeat(64)}}\n- name: nginx\n  newTag: 1.25.3\n`,
  );
});

test('writeEdits replaces files atomically keeping their mode, and refuses what is no longer a regular file', async () => {
  const { writeEdits } = await import('../checkout-files.ts');
  const { statSync, chmodSync, mkdirSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'tether-write-'));
  temps.push(dir);
  writeFileSync(join(dir, 'a.yaml'), 'image: web:1\n');
  chmodSync(join(dir, 'a.yaml'), 0o640);
  writeEdits(dir, [{ path: 'a.yaml', newText: 'image: web:2\n' }]);
  assert.equal(readFileSync(join(dir, 'a.yaml'), 'utf8'), 'image: web:2\n');
  assert.equal(statSync(join(dir, 'a.yaml')).mode & 0o777, 0o640);
  mkdirSync(join(dir, 'd.yaml'));
  assert.throws(
    () => writeEdits(dir, [{ path: 'd.yaml', newText: 'x' }]),
    (e: unknown) =>
      e instanceof Error && (e as { code?: string }).code === 'io' && /d\.yaml: is no longer/.test(e.message),
  );
});

test('bump: a file that does not parse is a warning naming it, and the edit still happens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
  temps.push(dir);
  writeFileSync(join(dir, 'values.yaml'), 'image:\n  repository: ghcr.io/acme/web\n  tag: "1"\n');
  // `web` could be part of a reference to the image, so the file is parsed and its failure reported.
  writeFileSync(
    join(dir, 'templated.yaml'),
    'metadata: {name: web}\nspec:\n  replicas: {{ .Values.n }}\n  {{- if x }}\n',
  );
  // A file whose text cannot name the image is not parsed at all, so its syntax is not reported.
  writeFileSync(join(dir, 'other.yaml'), 'spec:\n  replicas: {{ .Values.n }}\n  {{- if x }}\n');
  const r = await inProcess(['bump', '--dir', dir, '--image', 'ghcr.io/acme/web:2']);
  assert.equal(r.status, 0);
  assert.match(
    r.stderr,
    /^warning: templated\.yaml: does not parse, so it was not searched: templated\.yaml:\d+:\d+: /m,
  );
  assert.doesNotMatch(r.stderr, /other\.yaml/);
  assert.equal(readFileSync(join(dir, 'values.yaml'), 'utf8'), 'image:\n  repository: ghcr.io/acme/web\n  tag: "2"\n');
});
