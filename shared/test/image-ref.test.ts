import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../src/errors.ts';
import {
  formatImageRef,
  normalizeRepository,
  parseImageRef,
  tryNormalizeRepository,
  tryParseImageRef,
} from '../src/image-ref.ts';

const D = `sha256:${'0123456789abcdef'.repeat(4)}`;

test('Docker Hub names normalize to docker.io/library/…, so every spelling is one image', () => {
  for (const name of ['nginx', 'docker.io/nginx', 'docker.io/library/nginx', 'index.docker.io/library/nginx'])
    assert.equal(normalizeRepository(name), 'docker.io/library/nginx', name);
  assert.equal(normalizeRepository('bitnami/redis'), 'docker.io/bitnami/redis');
  assert.equal(normalizeRepository('ghcr.io/acme/web'), 'ghcr.io/acme/web');
});

test('parses registry with port, nested paths, tag, digest, and both', () => {
  assert.deepEqual(parseImageRef('localhost:5000/app:1.2'), {
    name: 'localhost:5000/app',
    domain: 'localhost:5000',
    path: 'app',
    repository: 'localhost:5000/app',
    tag: '1.2',
  });
  const r = parseImageRef(`registry.example.com:443/team/sub/app:v1.2.3-rc.1@${D}`);
  assert.equal(r.domain, 'registry.example.com:443');
  assert.equal(r.path, 'team/sub/app');
  assert.equal(r.tag, 'v1.2.3-rc.1');
  assert.equal(r.digest, D);
  assert.deepEqual(parseImageRef(`nginx@${D}`), {
    name: 'nginx',
    domain: 'docker.io',
    path: 'library/nginx',
    repository: 'docker.io/library/nginx',
    digest: D,
  });
  assert.equal(parseImageRef('localhost/app').domain, 'localhost');
  assert.equal(parseImageRef('[::1]:5000/app:1').domain, '[::1]:5000');
  assert.equal(parseImageRef('a__b/c-d/e.f_g:1').repository, 'docker.io/a__b/c-d/e.f_g');
  // A first component with upper case is a registry host (docker's splitDockerDomain).
  assert.equal(parseImageRef('Registry/app').domain, 'Registry');
});

test('tags follow [\\w][\\w.-]{0,127}; digests accept other algorithms by the grammar', () => {
  assert.equal(parseImageRef(`app:${'a'.repeat(128)}`).tag?.length, 128);
  assert.throws(() => parseImageRef(`app:${'a'.repeat(129)}`), /tag/);
  assert.equal(parseImageRef(`app@sha512:${'ab'.repeat(64)}`).digest?.length, 7 + 128);
  assert.equal(parseImageRef(`app@blake3:${'c'.repeat(64)}`).digest, `blake3:${'c'.repeat(64)}`);
  assert.equal(parseImageRef(`app@multihash+base58:${'d'.repeat(32)}`).digest?.startsWith('multihash+base58:'), true);
});

test('invalid references fail with TetherError invalid-reference saying why', () => {
  const cases: [string, RegExp][] = [
    ['', /is empty/],
    ['web:', /the tag is empty/],
    ['web:-x', /tag "-x" must match/],
    ['Web', /must be lower-case/],
    ['ghcr.io/Acme/web', /must be lower-case/],
    ['web app', /whitespace/],
    ['web@sha256:abc', /at least 32/],
    [`web@sha256:${'a'.repeat(63)}`, /64 lower-case hex digits/],
    [`web@sha256:${'A'.repeat(64)}`, /64 lower-case hex digits/],
    ['ghcr.io//web', /empty component/],
    ['ghcr.io/we--b_/x', /path component "we--b_"/],
    ['host:port/app', /port "port" is not a number/],
    ['-bad.io/app', /not a valid host name/],
    [`${'a'.repeat(256)}`, /longer than 255/],
  ];
  for (const [input, why] of cases) {
    assert.throws(
      () => parseImageRef(input),
      (e: unknown) =>
        e instanceof TetherError &&
        e.code === 'invalid-reference' &&
        e.message.startsWith(`"${input}" is not an image reference: `) &&
        why.test(e.message),
      input,
    );
    assert.equal(tryParseImageRef(input), undefined, input);
  }
});

test('a repository name has no tag or digest', () => {
  assert.throws(() => normalizeRepository('nginx:1.2'), /no tag or digest/);
  assert.equal(tryNormalizeRepository('nginx:1.2'), undefined);
  assert.equal(tryNormalizeRepository('https://charts.example.com'), undefined);
});

test('formatting keeps the name as written', () => {
  assert.equal(formatImageRef({ name: 'nginx', tag: '1.27' }), 'nginx:1.27');
  assert.equal(formatImageRef({ name: 'localhost:5000/app', digest: D }), `localhost:5000/app@${D}`);
  assert.equal(formatImageRef({ name: 'a', tag: 't', digest: D }), `a:t@${D}`);
  const r = parseImageRef(`localhost:5000/app:1@${D}`);
  assert.equal(formatImageRef(r), `localhost:5000/app:1@${D}`);
});
