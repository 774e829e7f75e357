// However many sites of one image sit under one parent map (user-named fields, marker comments, containers), every
// one of them is edited and reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseFieldSpec } from '../src/field-spec.ts';
import { planEdits } from '../src/plan-edits.ts';

const REPO = 'ghcr.io/acme/web';

test('N tag fields under one parent: all N are edited', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.constantFrom('field', 'marker'), (n, how) => {
      const keys = Array.from({ length: n }, (_, i) => `tag${i}`);
      const text = `web:\n${keys.map((k) => `  ${k}: "1.0"${how === 'marker' ? ` # tether:image=${REPO}:tag` : ''}\n`).join('')}`;
      const fields = how === 'field' ? keys.map((k) => parseFieldSpec(`web.${k}=${REPO}:tag`)) : [];
      const plan = planEdits([{ path: 'values.yaml', text }], { images: [`${REPO}:2.0`], fields });
      assert.deepEqual(
        plan.changes.map((c) => `${c.location} ${c.old} → ${c.new}`),
        keys.map((k) => `web.${k} 1.0 → 2.0`),
      );
      assert.equal(plan.edits[0]?.newText, text.replaceAll('"1.0"', '"2.0"'));
    }),
    { numRuns: 40 },
  );
});

test('N tag sites and M digest sites under one parent: every one is set', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 6 }), (n, m) => {
      const d1 = `sha256:${'1'.repeat(64)}`;
      const d2 = `sha256:${'2'.repeat(64)}`;
      const lines = [
        ...Array.from({ length: n }, (_, i) => `  t${i}: v1 # tether:image=${REPO}:tag`),
        ...Array.from({ length: m }, (_, i) => `  d${i}: "${d1}" # tether:image=${REPO}:digest`),
      ];
      const text = `web:\n${lines.join('\n')}\n`;
      const plan = planEdits([{ path: 'values.yaml', text }], { images: [`${REPO}:v2@${d2}`] });
      assert.equal(plan.changes.length, n + m);
      assert.equal(plan.edits[0]?.newText, text.replaceAll(': v1 ', ': v2 ').replaceAll(d1, d2));
    }),
    { numRuns: 30 },
  );
});

test('N containers of one image in one pod, and N full-reference fields of one map', () => {
  for (const n of [1, 2, 5, 9]) {
    const containers = Array.from({ length: n }, (_, i) => `    - name: c${i}\n      image: ${REPO}:1\n`).join('');
    const pod = `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n${containers}`;
    const plan = planEdits([{ path: 'pod.yaml', text: pod }], { images: [`${REPO}:2`] });
    assert.equal(plan.changes.length, n);
    assert.equal(plan.edits[0]?.newText, pod.replaceAll(`${REPO}:1`, `${REPO}:2`));

    const refs = Array.from({ length: n }, (_, i) => `  r${i}: ${REPO}:1\n`).join('');
    const values = `mirror:\n${refs}`;
    const fields = Array.from({ length: n }, (_, i) => parseFieldSpec(`mirror.r${i}=${REPO}`));
    const p2 = planEdits([{ path: 'v.yaml', text: values }], { images: [`${REPO}:2`], fields });
    assert.equal(p2.changes.length, n);
    assert.equal(p2.edits[0]?.newText, values.replaceAll(`${REPO}:1`, `${REPO}:2`));
  }
});
