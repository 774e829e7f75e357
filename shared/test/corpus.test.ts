// Coverage on a corpus of real-world shapes (shared/test/fixtures/corpus/, written after the public fixtures and
// docs of Renovate's helm-values, kubernetes and kustomize managers, Bitnami's charts, kustomize, Flux, Argo CD and
// argocd-image-updater): every reference a maintained peer finds there must be found, and bumping it must change
// the bytes of exactly those values. References no rule finds yet are listed as unsupported and must stay unfound
// (so that this list, and the README's, is updated when support lands).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Document, parse, parseAllDocuments } from 'yaml';
import { formatImageRef, parseImageRef } from '../src/image-ref.ts';
import type { ImageUse } from '../src/image-uses.ts';
import { planEdits, scanFiles } from '../src/plan-edits.ts';
import { parseYamlPath } from '../src/yaml-path.ts';
import { fixturePath, loadTree, variants } from './fixture-tree.ts';

const D = 'sha256:b0cfe264cb1143c7c660ddfd5c482464997d62d6bc9f97f8fdf3deefce881a8c';

/** Per file: `[#document ]<location> <repository>[:tag][@digest]` of each reference a peer finds. */
const expected: Record<string, string[]> = {
  'argocd/.argocd-source-guestbook.yaml': [
    'kustomize.images[0] ghcr.io/acme/guestbook:0.2@sha256:6f7b3b2a0a3f3e0c1f4f0d9a8c5e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c',
  ],
  'argocd/.argocd-source-helm-guestbook.yaml': [],
  'argocd/application.yaml': [
    'spec.source.kustomize.images[0] ghcr.io/acme/guestbook:0.2',
    'spec.source.kustomize.images[1] docker.io/library/redis:7.2',
  ],
  'flux/helmrelease.yaml': [
    'spec.values.image ghcr.io/stefanprodan/podinfo:6.6.0',
    'spec.values.redis docker.io/library/redis:7.0.7',
  ],
  'flux/kustomization.yaml': ['spec.images[0] ghcr.io/stefanprodan/podinfo:6.6.0'],
  'helm/bitnami-redis-values.yaml': [
    'image docker.io/bitnami/redis:7.2.4-debian-12-r9',
    'sentinel.image docker.io/bitnami/redis-sentinel:7.2.4-debian-12-r7',
    'metrics.image docker.io/bitnami/redis-exporter:1.58.0-debian-12-r4',
    'volumePermissions.image docker.io/bitnami/os-shell:12-debian-12-r16',
    'kubectl.image docker.io/bitnami/kubectl:1.29.2-debian-12-r3',
    'sysctl.image docker.io/bitnami/os-shell:12-debian-12-r16',
  ],
  'helm/default-chart-values.yaml': ['image docker.io/library/nginx:1.16.0'],
  'helm/inline-and-sidecar-values.yaml': [
    'web.sidecarImage docker.io/envoyproxy/envoy:v1.30.2@sha256:1f3a1c8c1a1b2fbbe1b3e8c0a7e0d9b1e3a2f4c5d6e7f8091a2b3c4d5e6f7a8b',
    'web.initImage docker.io/library/busybox:1.36.1',
    'web.migrationsImage ghcr.io/acme/web-migrations:2024.05.1',
    'proxy docker.io/library/nginx:1.25.4',
  ],
  'helm/multi-nested-values.yaml': [
    'inline_image docker.io/library/nginx:1.18-alpine',
    'api.image.image docker.io/bitnami/postgresql:11.6.0-debian-9-r0',
    'api.metrics.image docker.io/bitnami/postgres-exporter:0.7.0-debian-9-r12',
    'someOtherKey[0].image docker.io/bitnami/postgresql:11.5.0-debian-9-r0@sha256:4762726f1471ef048dd807afdc0e19265e95ffdcc7cb4a34891f680290022809',
    'coreImage docker.io/bitnami/harbor-core:2.1.3-debian-10-r38',
  ],
  'kubernetes/argo-workflow.yaml': [
    'spec.templates[1].container.image docker.io/library/golang:1.22.1',
    'spec.templates[2].script.image docker.io/library/python:3.12-slim',
  ],
  'kubernetes/cronjob.yaml': ['spec.jobTemplate.spec.template.spec.containers[0].image ghcr.io/acme/report:1.4.0'],
  'kubernetes/deployment-daemonset.yaml': [
    'spec.template.spec.containers[0].image docker.io/library/nginx:1.7.9',
    'spec.template.spec.containers[1].image docker.io/library/nginx:1.22.1',
    '#1 spec.template.spec.containers[0].image registry.k8s.io/kube-proxy:v1.29.2',
  ],
  'kubernetes/job.json': ['spec.template.spec.containers[0].image ghcr.io/acme/web-migrations:2024.05.1'],
  'kubernetes/knative-service.yaml': [
    'spec.template.spec.containers[0].image gcr.io/knative-samples/helloworld-go@sha256:5ea96ba4b872685ff4ddb5cd8d1a97ec18c18fae79ee8df0d29f446c5efe5f50',
  ],
  'kubernetes/pod-image-volume.yaml': [
    'spec.containers[0].image docker.io/library/debian:bookworm-slim',
    'spec.volumes[0].image.reference quay.io/crio/artifact:v2',
  ],
  'kubernetes/prometheus-cr.yaml': [
    'spec.image quay.io/prometheus/prometheus:v2.51.0',
    'spec.containers[0].image quay.io/prometheus-operator/prometheus-config-reloader:v0.72.0',
  ],
  'kubernetes/statefulset-sidecars.yaml': [
    'spec.template.spec.initContainers[0].image docker.io/library/busybox:1.36.1',
    'spec.template.spec.initContainers[1].image cr.fluentbit.io/fluent/fluent-bit:3.0.4@sha256:0b4e6d2f0b4a2e3c6f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a49382',
    'spec.template.spec.containers[0].image docker.io/library/postgres:16.2-alpine',
  ],
  'kustomize/docs-images/deployment.yaml': [
    'spec.template.spec.containers[0].image docker.io/library/postgres:8',
    'spec.template.spec.containers[1].image docker.io/library/nginx:1.7.9',
    'spec.template.spec.containers[2].image docker.io/library/my-demo-app:latest',
    'spec.template.spec.containers[3].image docker.io/library/alpine:3.7',
  ],
  'kustomize/docs-images/kustomization.yaml': [
    'images[0] docker.io/my-registry/my-postgres:v1',
    'images[1] docker.io/library/nginx:1.8.0',
    // Renamed only: found, with no version of its own (the manifest's tag stays).
    'images[2] docker.io/library/my-app',
    'images[3] docker.io/library/alpine@sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3',
  ],
  'kustomize/overlay/kustomization.yaml': [
    'images[0] ghcr.io/acme/web:1.4.2',
    'images[1] registry.acme.internal/mirror/api:2.0',
    'images[2] ghcr.io/acme/worker:3.1.0',
  ],
  'kustomize/renovate-digest/kustomization.yaml': [
    `images[0] docker.io/library/postgres@${D}`,
    `images[1] docker.io/library/redis@${D}`,
    'images[2] docker.io/library/node:14',
  ],
  'kustomize/renovate-newname/kustomization.yaml': [
    `images[0] docker.io/awesome/postgres:11@${D}`,
    'images[1] docker.io/awesome/redis:7',
    `images[2] docker.io/awesome/mysql@${D}`,
  ],
  'other/.gitlab-ci.yml': [
    'default.image docker.io/library/node:20.11-bookworm',
    'test.image.name registry.gitlab.com/acme/tools/ci:2.3.0',
  ],
  'other/docker-compose.yaml': [
    'services.web.image ghcr.io/acme/web:1.4.2',
    'services.db.image docker.io/library/postgres:16.2',
  ],
};

/** References a peer finds that Tether does not (yet), with the peer and the reason. */
const unsupported: Record<string, string[]> = {
  // argocd-image-updater writes Helm parameters as {name: image.tag, value: …} pairs; no rule reads them.
  'argocd/.argocd-source-helm-guestbook.yaml': ['helm.parameters ghcr.io/acme/helm-guestbook:0.3.1'],
  // Renovate's gitlabci manager reads `services:` strings; Tether reads only keys ending in "image".
  'other/.gitlab-ci.yml': ['test.services[0] docker.io/library/postgres:15.6'],
};

const corpus = loadTree(fixturePath('corpus'));

/** Every use in the files, as `[#document ]<location> <repository><version>`. */
function found(files = corpus): Map<string, { key: string; use: ImageUse }[]> {
  const out = new Map<string, { key: string; use: ImageUse }[]>();
  scanFiles(files, [], [], {}, ({ file, uses }) => {
    out.set(
      file.path,
      uses.map((use) => ({
        key: `${use.document > 0 ? `#${use.document} ` : ''}${use.location} ${formatImageRef({ name: use.repositories[0]!, ...use.version })}`,
        use,
      })),
    );
  });
  return out;
}

describe('corpus of real-world shapes', () => {
  test('every file of the corpus has its expectations written down', () => {
    assert.deepEqual(corpus.map((f) => f.path).sort(), Object.keys(expected).sort());
  });

  test('every reference a peer finds is found, with its version; the unsupported ones are still not found', () => {
    const all = found();
    let refs = 0;
    for (const [path, want] of Object.entries(expected)) {
      const got = (all.get(path) ?? []).map((u) => u.key);
      for (const w of want) assert.ok(got.includes(w), `${path}: ${w} not found in ${JSON.stringify(got)}`);
      refs += want.length;
    }
    for (const [path, refsThere] of Object.entries(unsupported))
      for (const u of refsThere)
        assert.ok(!(all.get(path) ?? []).some((g) => g.key === u), `${path}: ${u} is found now`);
    const missing = Object.values(unsupported).flat().length;
    // The figures the README quotes.
    assert.equal(corpus.length, 24);
    assert.equal(refs, 58);
    assert.equal(missing, 2);
  });

  for (const v of variants.slice(0, 4)) {
    test(`${v.name}: bumping each image changes exactly its values, byte for byte`, () => {
      for (const [path, want] of Object.entries(expected)) {
        const text = v.apply(corpus.find((f) => f.path === path)!.text);
        const byImage = new Map<string, string[]>();
        for (const w of want) {
          const [where, ref] =
            w.split(' ').length === 3 ? [w.split(' ').slice(0, 2).join(' '), w.split(' ')[2]!] : w.split(' ');
          const parsed = parseImageRef(ref!);
          if (parsed.tag === undefined && parsed.digest === undefined) continue;
          byImage.set(parsed.repository, [...(byImage.get(parsed.repository) ?? []), `${where}|${ref}`]);
        }
        for (const [image, places] of byImage) {
          const first = parseImageRef(places[0]!.split('|')[1]!);
          // The same shape as the file holds: a tag stays a tag, a digest a digest.
          const next = `${image}${first.tag !== undefined ? ':9.9.9' : ''}${first.digest !== undefined ? `@sha256:${'e'.repeat(64)}` : ''}`;
          const plan = planEdits([{ path, text }], { images: [next] });
          const newText = plan.edits[0]?.newText ?? text;
          assert.notEqual(newText, text, `${path}: ${next} changed nothing`);
          assertOnlyValuesChanged(path, text, newText, plan.changes);
          // Found again where it was, with the new version.
          const again = (found([{ path, text: newText }]).get(path) ?? []).map((u) => u.key);
          for (const p of places) {
            const where = p.split('|')[0]!;
            assert.ok(
              again.some((k) => k.startsWith(`${where} `) && k.includes(next.slice(image.length))),
              `${path}: ${where} after bumping to ${next}: ${JSON.stringify(again)}`,
            );
          }
        }
      }
    });
  }
});

/**
 * The new text equals the old one with each changed scalar's source replaced, and each replacement reads as the
 * change's new value: nothing outside the values moved.
 */
function assertOnlyValuesChanged(
  path: string,
  oldText: string,
  newText: string,
  changes: readonly { document: number; location: string; new: string | null }[],
): void {
  const docs = parseAllDocuments(oldText) as Document.Parsed[];
  const slots = changes
    .map((c) => {
      const node = docs[c.document]!.getIn(parseYamlPath(c.location), true) as { range?: [number, number] } | undefined;
      assert.ok(node?.range, `${path}: ${c.location} has no source range`);
      return { start: node.range[0], end: node.range[1], value: c.new };
    })
    .sort((a, b) => a.start - b.start);
  const quote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let pattern = '^';
  let at = 0;
  for (const s of slots) {
    pattern += `${quote(oldText.slice(at, s.start))}([^\\n]*?)`;
    at = s.end;
  }
  pattern += `${quote(oldText.slice(at))}$`;
  const m = new RegExp(pattern).exec(newText);
  assert.ok(m, `${path}: bytes outside the edited values changed`);
  slots.forEach((s, i) => {
    assert.equal(parse(m[i + 1]!), s.value, `${path}: replacement ${JSON.stringify(m[i + 1])}`);
  });
}
