// Hostile YAML where the agent reads it — an app's manifests, its configuration, a kubeconfig — is refused with an
// error naming the file, before it can exhaust memory.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { describeError } from '../../shared/src/errors.ts';
import { aliasBomb } from '../../shared/test/hostile-yaml.ts';
import { loadConfig } from '../src/config.ts';
import { defaultRenderOptions } from '../src/core/desired-state.ts';
import { loadKubeconfig } from '../src/edges/kube/kubeconfig.ts';
import { ParseWorker, workerEntry } from '../src/edges/render/parse-worker.ts';
import { createToolRenderer, render } from '../src/edges/render/render.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const cm = (name: string) => enc(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\n`);
const noRepo = async () => {
  throw new Error('plain manifests need no repository tree');
};

describe('render limits', () => {
  const path = 'envs/dev/web';
  const renderFiles = (extra: { path: string; content: Uint8Array }) =>
    render([{ path: `${path}/a.yaml`, content: cm('a') }, extra], noRepo, defaultRenderOptions(path));

  test('a plain app renders its objects', async () => {
    const r = await render([{ path: `${path}/a.yaml`, content: cm('a') }], noRepo, defaultRenderOptions(`./${path}/`));
    assert.equal(r.kind, 'plain');
    assert.deepEqual(
      r.objects.map((o) => (o.object as { metadata: { name: string } }).metadata.name),
      ['a'],
    );
  });

  test('an alias bomb in the app path is a render error naming the file', async () => {
    await assert.rejects(
      renderFiles({ path: `${path}/bomb.yaml`, content: enc(aliasBomb()) }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'render');
        assert.match(err.message, /^envs\/dev\/web\/bomb\.yaml: document 1: aliases expand to more than/);
        return true;
      },
    );
  });

  test('a 50 MB file is a render error naming the file', async () => {
    const huge = new Uint8Array(50 * 1024 * 1024).fill(0x20);
    await assert.rejects(
      renderFiles({ path: `${path}/huge.yaml`, content: huge }),
      /^TetherError: envs\/dev\/web\/huge\.yaml: 52428800 bytes/,
    );
  });

  test('200,000 documents are a render error naming the file', async () => {
    const many = enc('a: 1\n---\n'.repeat(200_000));
    await assert.rejects(
      renderFiles({ path: `${path}/many.yaml`, content: many }),
      /envs\/dev\/web\/many\.yaml: more than 10000 documents/,
    );
  });

  test('the limits hold for the render as a whole: many files, each small', async () => {
    const files = Array.from({ length: 12 }, (_, i) => ({
      path: `${path}/part-${String(i).padStart(2, '0')}.yaml`,
      content: enc('kind: ConfigMap\n---\n'.repeat(999)),
    }));
    await assert.rejects(
      render(files, noRepo, defaultRenderOptions(path)),
      /part-10\.yaml: more than 10000 documents in all/,
    );
  });
});

describe('configuration and kubeconfig limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-yaml-limits-'));

  test('an alias bomb in the agent configuration is a config error naming the file', () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `cluster: dev\napps: []\nx:\n${aliasBomb().replace(/^/gm, '  ')}`);
    assert.throws(
      () => loadConfig(file),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'config');
        assert.ok(err.message.startsWith(`${file}: document 1: aliases expand`), err.message);
        return true;
      },
    );
  });

  test('app paths are read in one canonical form, and a path out of the repository is refused', () => {
    const file = join(dir, 'paths.yaml');
    writeFileSync(
      file,
      'cluster: dev\napps:\n  - {name: web, repo: "https://g.example/e.git", path: ./envs//dev/web/}\n',
    );
    assert.equal(loadConfig(file).apps[0]!.path, 'envs/dev/web');
    writeFileSync(
      file,
      'cluster: dev\napps:\n  - {name: web, repo: "https://g.example/e.git", path: envs/../../etc}\n',
    );
    assert.throws(
      () => loadConfig(file),
      /paths\.yaml: apps\[0\]\.path: "envs\/\.\.\/\.\.\/etc": '\.\.' is not allowed/,
    );
  });

  test('an alias bomb in a kubeconfig is refused naming it', () => {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, `apiVersion: v1\nkind: Config\npreferences:\n${aliasBomb().replace(/^/gm, '  ')}`);
    assert.throws(
      () => loadKubeconfig(file),
      new RegExp(`^TetherError: kubeconfig ${file.replace(/[/.]/g, '\\$&')}: document 1: aliases expand`),
    );
    writeFileSync(file, '- not a map\n');
    assert.throws(() => loadKubeconfig(file), /not a YAML map/);
  });

  test('a kubeconfig with a syntax error is refused naming the line, and its credentials stay out of the message', () => {
    const file = join(dir, 'kubeconfig-typo');
    const token = 'kube-token-0123456789abcdef';
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Config\nusers:\n- name: agent\n  user:\n    token: ${token}\n     client-key-data: QUJD\n`,
    );
    let message = '';
    try {
      loadKubeconfig(file);
    } catch (err) {
      // What the CLI prints, and so what the agent's log holds when it cannot start.
      message = describeError(err);
    }
    assert.match(message, /kubeconfig .*kubeconfig-typo: bad indentation of a mapping entry .*\(7:/);
    assert.doesNotMatch(message, new RegExp(token));
    assert.doesNotMatch(message, /QUJD/);
  });
});

describe('parsing off the event loop (the agent parses in a worker thread)', () => {
  const path = 'envs/dev/web';
  const parser = new ParseWorker();
  const renderer = createToolRenderer(parser);
  after(() => parser.close());
  const renderOne = (name: string, content: Uint8Array) =>
    renderer.render([{ path: `${path}/${name}`, content }], noRepo, defaultRenderOptions(path));
  const configMaps = (n: number) =>
    enc(
      Array.from(
        { length: n },
        (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\ndata: {k: "${'v'.repeat(600)}"}\n---\n`,
      ).join(''),
    );

  /** The longest the event loop went without turning while `work` ran (perf_hooks' delay histogram). */
  async function longestBlockMs(work: () => Promise<unknown>): Promise<number> {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    // The histogram records a delay only between two of its ticks: let it tick before the work starts.
    await new Promise((r) => setTimeout(r, 50));
    await work().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    h.disable();
    return h.max / 1e6;
  }

  test('hostile inputs are refused with the same errors, naming the file', async () => {
    await assert.rejects(
      renderOne('bomb.yaml', enc(aliasBomb())),
      /^TetherError: envs\/dev\/web\/bomb\.yaml: document 1/,
    );
    await assert.rejects(
      renderOne('huge.yaml', new Uint8Array(50 * 1024 * 1024).fill(0x20)),
      /^TetherError: envs\/dev\/web\/huge\.yaml: 52428800 bytes/,
    );
    await assert.rejects(
      renderOne('many.yaml', enc('a: 1\n---\n'.repeat(200_000))),
      /envs\/dev\/web\/many\.yaml: more than 10000 documents/,
    );
    const ok = await renderOne('a.yaml', cm('a'));
    assert.equal(ok.objects.length, 1);
  });

  test('a 6 MB render within every limit does not hold the event loop for a second', async () => {
    const big = configMaps(9000);
    let objects = 0;
    const blocked = await longestBlockMs(async () => {
      objects = (await renderOne('big.yaml', big)).objects.length;
    });
    assert.equal(objects, 9000);
    assert.ok(blocked < 1000, `the event loop was blocked ${Math.round(blocked)} ms`);
  });

  test('an input that needs more memory than the worker has kills the worker, not the agent; the next parse works', async () => {
    const small = new ParseWorker({ maxHeapMb: 16, entry: workerEntry() });
    try {
      // The file parsed when the worker died is the one named, not the first of the job.
      const files = [
        { path: `${path}/a.yaml`, text: cm('a') },
        { path: `${path}/big.yaml`, text: configMaps(9000) },
        { path: `${path}/c.yaml`, text: cm('c') },
      ];
      await assert.rejects(small.parse({ kind: 'files', files }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'render');
        assert.match(err.message, /^envs\/dev\/web\/big\.yaml: parsing it needed more than the parser's 16 MB/);
        return true;
      });
      const again = await small.parse({ kind: 'files', files: [{ path: `${path}/a.yaml`, text: cm('a') }] });
      assert.equal(again.length, 1);
    } finally {
      await small.close();
    }
  });

  test('the worker lives only while a parse is queued or announced: stopped once idle, started again by the next parse', async () => {
    const quick = new ParseWorker();
    const job = { kind: 'files' as const, files: [{ path: `${path}/a.yaml`, text: cm('a') }] };
    try {
      assert.equal(quick.running, false, 'no worker before the first parse');
      assert.equal((await quick.parse(job)).length, 1);
      assert.equal(quick.running, false, 'stopped (its heap given back) once its only parse is answered');
      // Two syncs announce their parses: the worker starts with the first announcement and serves both.
      const first = quick.prepare();
      const second = quick.prepare();
      assert.equal(quick.running, true, 'started ahead of the announced parse');
      assert.equal((await quick.parse(job)).length, 1);
      first();
      first();
      assert.equal(
        quick.running,
        true,
        'kept for the parse still announced (a second call of the same one counts once)',
      );
      assert.equal((await quick.parse(job)).length, 1);
      assert.equal(quick.running, true, 'kept until the announcing caller says its parse is done');
      second();
      assert.equal(quick.running, false, 'stopped once nothing is queued or announced');
      // An announced parse that never comes (a failed fetch) does not keep the worker either.
      quick.prepare()();
      assert.equal(quick.running, false);
    } finally {
      await quick.close();
    }
  });
});
