// Fixture tests: realistic trees (kustomize base and overlays, Helm values in common chart styles, multi-document
// manifests, CronJobs, anchors, JSON) are bumped and must equal hand-edited `after/` trees byte for byte, in every
// line-ending/BOM variant.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EditRequest, planEdits } from '../src/plan-edits.ts';
import { fixturePath, loadTree, variants } from './fixture-tree.ts';

interface Case {
  dir: string;
  request: EditRequest;
  /** `file location old → new`, in plan order. */
  changes: string[];
  skipped?: RegExp[];
}

const D3 = `sha256:${'3'.repeat(64)}`;
const cases: Case[] = [
  {
    dir: 'kustomize',
    request: { images: ['ghcr.io/acme/web:1.5.0', 'nginx:1.27.0'] },
    changes: [
      'base/deployment.yaml spec.template.spec.containers[0].image ghcr.io/acme/web:1.4.2 → ghcr.io/acme/web:1.5.0',
      'base/deployment.yaml spec.template.spec.containers[1].image nginx:1.25.3 → nginx:1.27.0',
      'overlays/dev/kustomization.yaml images[0].newTag 1.4.2 → 1.5.0',
      `overlays/dev/kustomization.yaml images[0].digest sha256:${'1'.repeat(64)} → null`,
      'overlays/dev/kustomization.yaml images[1].newTag 1.25.3 → 1.27.0',
      'overlays/prod/kustomization.yaml images[0].newTag 1.3.0 → 1.5.0',
      'overlays/prod/kustomization.yaml images[1].newTag 1.25.3 → 1.27.0',
    ],
  },
  {
    dir: 'helm',
    request: {
      images: [
        'docker.io/bitnami/redis:7.2.5-debian-12-r0',
        'ghcr.io/acme/web:1.10',
        `ghcr.io/acme/api:2.0.1@sha256:${'2'.repeat(64)}`,
      ],
    },
    changes: [
      'redis/values.yaml image.tag 7.2.4-debian-12-r9 → 7.2.5-debian-12-r0',
      'web/values.yaml image.tag  → 1.10',
      'web/values.yaml frontend.image.tag 1.9 → 1.10',
      `web/values.yaml backend.image ghcr.io/acme/api:2.0.0@sha256:${'a'.repeat(64)} → ghcr.io/acme/api:2.0.1@sha256:${'2'.repeat(64)}`,
      'web/values.yaml backend.settings.apiImageTag v2.0.0 → 2.0.1',
    ],
    // The marker names only a tag field, so the digest cannot be pinned there; the plan says so.
    skipped: [/web\/values\.yaml backend\.settings: ghcr\.io\/acme\/api has no digest field/],
  },
  {
    dir: 'manifests',
    request: { images: ['busybox:1.36.1', 'ghcr.io/acme/worker:3.1.0', `ghcr.io/acme/web@${D3}`] },
    changes: [
      'all.yaml#1 spec.template.spec.initContainers[0].image busybox:1.36.0 → busybox:1.36.1',
      'all.yaml#1 spec.template.spec.containers[0].image ghcr.io/acme/worker:3.0.0 → ghcr.io/acme/worker:3.1.0',
      'all.yaml#2 spec.template.spec.containers[0].image ghcr.io/acme/worker:3.0.0 → ghcr.io/acme/worker:3.1.0',
      'all.yaml#2 spec.template.spec.ephemeralContainers[0].image docker.io/library/busybox:1.36.0 → docker.io/library/busybox:1.36.1',
      `all.yaml#3 spec.containers[0].image ghcr.io/acme/web:2.0.0 → ghcr.io/acme/web@${D3}`,
      'anchors.yaml x-worker-image ghcr.io/acme/worker:3.0.0 → ghcr.io/acme/worker:3.1.0',
      'cronjob.yaml spec.jobTemplate.spec.template.spec.containers[0].image ghcr.io/acme/worker:3.0.0 → ghcr.io/acme/worker:3.1.0',
      'job.json spec.template.spec.containers[0].image ghcr.io/acme/worker:3.0.0 → ghcr.io/acme/worker:3.1.0',
      `rollout.yaml spec.template.spec.containers[0].image ghcr.io/acme/web:2.0.0@sha256:${'4'.repeat(64)} → ghcr.io/acme/web@${D3}`,
      `rollout.yaml#1 spec.template.spec.containers[0].image ghcr.io/acme/web → ghcr.io/acme/web@${D3}`,
    ],
  },
];

for (const c of cases) {
  describe(`fixture ${c.dir}`, () => {
    const before = loadTree(fixturePath(c.dir, 'before'));
    const after = new Map(loadTree(fixturePath(c.dir, 'after')).map((f) => [f.path, f.text]));
    for (const v of variants) {
      test(`${v.name}: equals the hand-edited tree byte for byte`, () => {
        const files = before.map((f) => ({ path: f.path, text: v.apply(f.text) }));
        const plan = planEdits(files, c.request);
        const edited = new Map(plan.edits.map((e) => [e.path, e.newText]));
        for (const f of before) {
          const want = v.apply(after.get(f.path)!);
          const got = edited.get(f.path) ?? v.apply(f.text);
          assert.equal(got, want, `${f.path} (${v.name})`);
          // A file is only in the plan when it changes.
          assert.equal(edited.has(f.path), want !== v.apply(f.text), `${f.path} listed in edits`);
        }
        assert.deepEqual(plan.unmatched, []);
      });
    }
    test('reports every change as data', () => {
      const plan = planEdits(before, c.request);
      const lines = plan.changes.map(
        (x) => `${x.file}${x.document > 0 ? `#${x.document}` : ''} ${x.location} ${x.old} → ${x.new}`,
      );
      assert.deepEqual(lines, c.changes);
      for (const re of c.skipped ?? [])
        assert.ok(
          plan.skipped.some((s) => re.test(`${s.path} ${s.location}: ${s.reason}`)),
          `${re} in ${JSON.stringify(plan.skipped)}`,
        );
      if (!c.skipped) assert.deepEqual(plan.skipped, []);
    });
    test('is idempotent: planning the same request on the result changes nothing', () => {
      const first = planEdits(before, c.request);
      const edited = new Map(first.edits.map((e) => [e.path, e.newText]));
      const again = planEdits(
        before.map((f) => ({ path: f.path, text: edited.get(f.path) ?? f.text })),
        c.request,
      );
      assert.deepEqual(again.changes, []);
      assert.deepEqual(again.edits, []);
    });
  });
}
