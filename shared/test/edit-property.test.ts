// Property: for generated YAML (random data, styles, comments, line endings), bumping the one image in it re-parses
// to the original data with only that value changed, and the bytes that differ lie inside that scalar's source.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Document, isScalar, parseAllDocuments, visit } from 'yaml';
import { planEdits } from '../src/plan-edits.ts';

const RESERVED = new Set(['image', 'repository', 'registry', 'tag', 'digest', 'images', '<<']);
const key = fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !RESERVED.has(k) && !k.includes('tether:'));
const leaf = fc.oneof(
  fc.string({ maxLength: 12 }).filter((s) => !s.includes('tether:')),
  fc.constantFrom('1.10', 'yes', 'null', '~', '0755', '#x', 'a: b', '- x', "it's", 'line\nbreak', ' padded '),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(key, tie('tree'), { maxKeys: 3 }),
  ),
}));
const tag = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}$/),
  fc.constantFrom('1.10', '10', '1e3', 'yes', 'on', '0755', 'true', 'null', '1_000'),
);
const digest = fc.option(
  fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`),
  { nil: undefined },
);

/** Where the image goes: a container, a Helm-style map, or an `image:` key at some depth. */
const shape = fc.constantFrom('container', 'helm', 'nested');

test('edit then re-parse equals the original data with only the edited scalar changed; bytes differ only there', () => {
  fc.assert(
    fc.property(
      tree,
      tree,
      shape,
      tag,
      tag,
      digest,
      fc.record({
        stringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE') as fc.Arbitrary<
          'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE'
        >,
        collectionStyle: fc.constantFrom('any', 'block', 'flow') as fc.Arbitrary<'any' | 'block' | 'flow'>,
        indent: fc.integer({ min: 2, max: 4 }),
        indentSeq: fc.boolean(),
        crlf: fc.boolean(),
        bom: fc.boolean(),
        comments: fc.array(fc.boolean(), { maxLength: 40 }),
        docs: fc.integer({ min: 0, max: 2 }),
      }),
      (before, after, kind, oldTag, newTag, newDigest, style) => {
        const repo = 'ghcr.io/acme/app';
        const data: Record<string, unknown> = { pre: before };
        let path: (string | number)[];
        if (kind === 'container') {
          data.spec = { template: { spec: { containers: [{ name: 'app', image: `${repo}:${oldTag}`, x: after }] } } };
          path = ['spec', 'template', 'spec', 'containers', 0, 'image'];
        } else if (kind === 'helm') {
          data.app = { image: { repository: repo, tag: oldTag, pullPolicy: 'Always' }, other: after };
          path = ['app', 'image', 'tag'];
        } else {
          data.a = { b: [{ image: `${repo}:${oldTag}` }], c: after };
          path = ['a', 'b', 0, 'image'];
        }
        data.post = after;
        const doc = new Document(data);
        let i = 0;
        visit(doc, {
          Scalar(_, node) {
            if (style.comments[i++ % Math.max(style.comments.length, 1)]) node.comment = ' note';
          },
        });
        let text = doc.toString({
          defaultStringType: style.stringType,
          defaultKeyType: 'PLAIN',
          collectionStyle: style.collectionStyle,
          indent: style.indent,
          indentSeq: style.indentSeq,
        });
        // Other documents around it must come through untouched.
        text = `${'---\nother: [1, "x"] # keep\n'.repeat(style.docs)}---\n${text}`;
        // The generator itself (yaml's stringifier) writes unparseable YAML for some inputs, e.g. an empty flow
        // sequence as a block value under collectionStyle 'block'; those are not cases of the property.
        const generated = parseAllDocuments(text);
        fc.pre(Array.isArray(generated) && generated.every((d) => d.errors.length === 0));
        if (style.crlf) text = text.replace(/\n/g, '\r\n');
        if (style.bom) text = `\uFEFF${text}`;

        const ref = `${repo}:${newTag}${newDigest ? `@${newDigest}` : ''}`;
        const plan = planEdits([{ path: 'f.yaml', text }], { images: [ref] });
        const newText = plan.edits[0]?.newText ?? text;

        const oldDocs = parseAllDocuments(text);
        const newDocs = parseAllDocuments(newText);
        assert.ok(Array.isArray(oldDocs) && Array.isArray(newDocs));
        const last = oldDocs.length - 1;
        for (let d = 0; d < last; d++) assert.deepEqual(newDocs[d]!.toJS(), oldDocs[d]!.toJS());
        const want = oldDocs[last]!.toJS() as Record<string, unknown>;
        const wantValue = kind === 'helm' ? newTag : `${repo}:${newTag}${newDigest ? `@${newDigest}` : ''}`;
        setIn(want, path, wantValue);
        if (kind === 'helm' && newDigest) {
          // A Helm map without a digest key cannot be pinned; the plan says so instead of inventing a key.
          assert.ok(plan.skipped.some((s) => /no digest field/.test(s.reason)));
        }
        assert.deepEqual(newDocs[last]!.toJS(), want);

        // The bytes that differ lie within the old scalar's source range.
        const scalar = oldDocs[last]!.getIn(path, true);
        assert.ok(isScalar(scalar) && scalar.range);
        let p = 0;
        while (p < text.length && text[p] === newText[p]) p++;
        let s = 0;
        while (s < text.length - p && text[text.length - 1 - s] === newText[newText.length - 1 - s]) s++;
        if (newText !== text) {
          assert.ok(p >= scalar.range[0], `diff starts at ${p}, before the scalar at ${scalar.range[0]}`);
          assert.ok(text.length - s <= scalar.range[1], `diff ends at ${text.length - s}, after ${scalar.range[1]}`);
          assert.equal(plan.changes.length, 1);
        }
      },
    ),
    { numRuns: 150 },
  );
});

function setIn(obj: unknown, path: (string | number)[], value: unknown): void {
  let o = obj as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1]!] = value;
}

/** Who reads the anchored value `&v` (a tag, or a full reference) in the generated file. */
const reader = fc.constantFrom('own', 'alias');
/** Parsed test data, indexed freely. */
type Tree = { readonly [key: string]: Tree };

test('anchors shared between images: a plan edits only requested images, or refuses and writes nothing', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('helm', 'kustomize', 'container') as fc.Arbitrary<'helm' | 'kustomize' | 'container'>,
      fc.record({ web: reader, api: reader, label: reader }),
      fc.subarray(['web', 'api'] as const, { minLength: 1 }),
      fc.record({ web: fc.constantFrom('2.0', '3.0'), api: fc.constantFrom('2.0', '3.0') }),
      fc.boolean(),
      (kind, readers, asked, versions, crlf) => {
        const repo = (name: string) => `ghcr.io/acme/${name}`;
        const full = kind === 'container';
        // A full reference names its repository, so only images of one repository can share it: the "api"
        // container then runs web's image under another name, and still must not change unless requested.
        const shared = full ? `${repo('web')}:1.0` : '"1.0"';
        const use = (who: 'web' | 'api' | 'label', own: string) => (readers[who] === 'alias' ? '*v' : own);
        let text = `x-shared: &v ${shared}\n`;
        if (kind === 'helm') {
          for (const name of ['web', 'api'] as const)
            text += `${name}:\n  image:\n    repository: ${repo(name)}\n    tag: ${use(name, '"1.0"')}\n`;
        } else if (kind === 'kustomize') {
          text += 'images:\n';
          for (const name of ['web', 'api'] as const)
            text += `  - name: ${repo(name)}\n    newTag: ${use(name, '"1.0"')}\n`;
        } else {
          text += 'spec:\n  containers:\n';
          text += `    - name: web\n      image: ${use('web', `${repo('web')}:1.0`)}\n`;
          text += `    - name: api\n      image: ${use('api', `${repo('api')}:1.0`)}\n`;
        }
        text += `labels:\n  version: ${use('label', '"1.0"')}\n`;
        if (crlf) text = text.replace(/\n/g, '\r\n');
        const path = kind === 'kustomize' ? 'kustomization.yaml' : 'values.yaml';
        // In the container shape the aliased "api" container reads web's reference: it is web's image there.
        const readerImage = (who: 'web' | 'api') => (full && readers[who] === 'alias' ? 'web' : who);
        const images = asked.map((n) => `${repo(n)}:${versions[n]}`);

        const readersOfV = (['web', 'api', 'label'] as const).filter((w) => readers[w] === 'alias');
        const imageOf = (w: 'web' | 'api' | 'label') => (w === 'label' ? undefined : readerImage(w));
        const touched = readersOfV.some((w) => {
          const img = imageOf(w);
          return img !== undefined && (asked as readonly string[]).includes(img);
        });
        const requestedVersions = new Set(
          readersOfV
            .map((w) => imageOf(w))
            .map((img) =>
              img && (asked as readonly string[]).includes(img) ? versions[img as 'web' | 'api'] : undefined,
            ),
        );
        const mustRefuse = touched && (requestedVersions.has(undefined) || requestedVersions.size > 1);

        let plan: ReturnType<typeof planEdits>;
        try {
          plan = planEdits([{ path, text }], { images });
        } catch (err) {
          assert.ok(mustRefuse, `refused unexpectedly: ${(err as Error).message}`);
          assert.ok(
            err instanceof Error && /Split the anchor|shared by images/.test(err.message),
            (err as Error).message,
          );
          return;
        }
        assert.ok(!mustRefuse, `edited although ${readersOfV.join(', ')} read the shared value`);
        const after = parseAllDocuments(plan.edits[0]?.newText ?? text);
        assert.ok(Array.isArray(after));
        const data = after[0]!.toJS() as Tree;
        const before = (parseAllDocuments(text) as Document.Parsed[])[0]!.toJS() as Tree;
        // What each image reads now: requested ones their version, everything else what it read before.
        const read = (d: Tree, who: 'web' | 'api') =>
          kind === 'helm'
            ? String(d[who]!.image!.tag)
            : kind === 'kustomize'
              ? String(d.images![who === 'web' ? 0 : 1]!.newTag)
              : String(d.spec!.containers![who === 'web' ? 0 : 1]!.image);
        for (const who of ['web', 'api'] as const) {
          const img = readerImage(who) as 'web' | 'api';
          const want = (asked as readonly string[]).includes(img)
            ? full
              ? `${repo(img)}:${versions[img]}`
              : versions[img]
            : read(before, who);
          assert.equal(read(data, who), want, `${who} (${kind})`);
        }
        assert.equal(String(data.labels!.version), String(before.labels!.version));
      },
    ),
    { numRuns: 300 },
  );
});
