import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { TetherError } from '../../../../shared/src/errors.ts';
import { normalizeRepoPath } from '../../../../shared/src/repo-path.ts';
import type { Renderer, RenderOptions, SourceFile } from '../../core/desired-state.ts';
import type { SourcedObject } from '../../core/types.ts';
import { ParseWorker, runParseJob } from './parse-worker.ts';

export type { RenderOptions } from '../../core/desired-state.ts';

/** What rendered the app: plain manifests, kustomize or helm. */
export type RenderKind = 'plain' | 'kustomize' | 'helm';

/** A file in the app's path that looks like a source of manifests but that Tether does not render, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** The objects an app's path renders to, how, and the files left unrendered (so a sync result can show them). */
export interface RenderResult {
  kind: RenderKind;
  objects: SourcedObject[];
  skipped: SkippedFile[];
}

// Files that other GitOps tools turn into manifests and Tether does not: rendering them to nothing and calling the
// app Healthy would post a green status for a source that was never applied. Argo CD reads `.argocd-source*.yaml`
// as parameter overrides and `plugin.yaml` as a config management plugin marker
// (https://argo-cd.readthedocs.io/en/stable/operator-manual/config-management-plugins/); the rest are template or
// configuration languages whose output is YAML.
const UNRENDERED: readonly { test: RegExp; reason: string }[] = [
  { test: /\.(jsonnet|libsonnet)$/i, reason: 'Jsonnet is not supported' },
  { test: /(^|\/)\.argocd-source[^/]*$/, reason: 'Argo CD parameter override; Tether does not read it' },
  { test: /(^|\/)plugin\.ya?ml$/, reason: 'config management plugin marker; plugins are not supported' },
  { test: /\.(cue)$/i, reason: 'CUE is not supported' },
  { test: /\.(dhall)$/i, reason: 'Dhall is not supported' },
  { test: /\.(j2|jinja2?)$/i, reason: 'Jinja templates are not supported' },
  { test: /\.(tpl|tmpl|gotmpl)$/i, reason: 'a template outside a Helm chart; Tether cannot run it' },
];

/**
 * The files under a plain (neither kustomize nor Helm) app path that Tether does not render, with the reason.
 * Files that never hold manifests (README.md, LICENSE, .gitignore) are not listed.
 */
export function unrenderedFiles(files: readonly { path: string }[]): SkippedFile[] {
  const out: SkippedFile[] = [];
  for (const f of files) {
    const rule = UNRENDERED.find((r) => r.test.test(f.path));
    if (rule) out.push({ path: f.path, reason: rule.reason });
  }
  return out;
}

/**
 * Turns a plain path's parse into a render result: when nothing rendered but some files were left unrendered the
 * render fails naming them (a silent 0 objects would read as Synced and Healthy); otherwise the skipped files ride
 * along in the result.
 */
export function checkRenderGaps(path: string, objects: SourcedObject[], skipped: SkippedFile[]): RenderResult {
  if (objects.length === 0 && skipped.length > 0) {
    const shown = skipped.slice(0, 5).map((s) => `${s.path} (${s.reason})`);
    if (skipped.length > 5) shown.push(`and ${skipped.length - 5} more`);
    throw new TetherError(
      'render',
      `${path || '.'}: no manifests Tether can render; not rendered: ${shown.join(', ')}`,
    );
  }
  return { kind: 'plain', objects, skipped };
}

const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Decides the renderer from the files at the root of the app's path. */
export function renderKind(files: readonly SourceFile[], path: string): RenderKind {
  const root = normalizeRepoPath(path);
  const at = (name: string) => files.some((f) => f.path === (root ? `${root}/${name}` : name));
  if (KUSTOMIZATION.some(at)) return 'kustomize';
  if (at('Chart.yaml')) return 'helm';
  return 'plain';
}

function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a renderer without network and with limits; its stdout is the rendered YAML. */
async function runRenderer(cmd: string, args: string[], cwd: string, options: RenderOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    // Renderers get no proxy settings and an unroutable proxy, so a chart or base that reaches out fails fast.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: cwd,
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      NO_PROXY: '',
      HELM_CACHE_HOME: join(cwd, '.helm-cache'),
      HELM_CONFIG_HOME: join(cwd, '.helm-config'),
      HELM_DATA_HOME: join(cwd, '.helm-data'),
    };
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new TetherError('render', `${cmd} ${args[0]}: timed out after ${options.timeoutMs} ms`);
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > options.maxOutputBytes) {
        failure = new TetherError('render', `${cmd} ${args[0]}: output exceeds ${options.maxOutputBytes} bytes`);
        child.kill('SIGKILL');
        return;
      }
      out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4000) err += c.toString('utf8');
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new TetherError('render', `${cmd}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (code !== 0) reject(new TetherError('render', `${cmd} ${args[0]} failed (exit ${code}): ${err.trim()}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
  });
}

/**
 * Turns helm's complaint about a dependency missing from `charts/` into an error that says what to do: Tether never
 * downloads chart dependencies at render time (renderers run without network), so they must be vendored.
 */
export function explainHelmFailure(path: string, err: unknown): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const missing = /missing in charts\/ directory: ([^\n]+)/.exec(message);
  if (!missing) return err;
  const names = missing[1]!.trim();
  return new TetherError(
    'render',
    `${path}: chart dependencies not vendored in charts/: ${names}. Tether renders without network and does not ` +
      'download dependencies: run `helm dependency build` and commit the charts/ directory',
    { cause: err },
  );
}

/**
 * Renders an app: plain manifests are parsed in process; a kustomization runs `kustomize build` (or
 * `kubectl kustomize` when that is what is on PATH); a chart runs `helm template`. Renderers see the whole
 * repository tree of that commit (overlays point at `../base`) written to a temp dir that is removed afterwards.
 */
export async function render(
  files: readonly SourceFile[],
  repoFiles: () => Promise<readonly SourceFile[]>,
  options: RenderOptions,
  parser: Pick<ParseWorker, 'parse'> = inline,
): Promise<RenderResult> {
  const kind = renderKind(files, options.path);
  // One parse job per render: the size and document limits hold for all its files together.
  if (kind === 'plain') {
    return checkRenderGaps(
      options.path,
      await parser.parse({ kind: 'files', files: files.map((f) => ({ path: f.path, text: f.content })) }),
      unrenderedFiles(files),
    );
  }
  let cmd: string;
  let args: string[];
  const appDir = normalizeRepoPath(options.path) || '.';
  if (kind === 'kustomize') {
    if (which('kustomize')) [cmd, args] = ['kustomize', ['build', appDir]];
    else if (which('kubectl')) [cmd, args] = ['kubectl', ['kustomize', appDir]];
    else
      throw new TetherError(
        'render',
        `${options.path}: has a kustomization but neither 'kustomize' nor 'kubectl' is on PATH`,
      );
  } else {
    if (!which('helm')) throw new TetherError('render', `${options.path}: is a Helm chart but 'helm' is not on PATH`);
    if (!options.helm)
      throw new TetherError('render', `${options.path}: is a Helm chart but no release name was given`);
    const h = options.helm;
    cmd = 'helm';
    args = ['template', h.releaseName, appDir, ...(h.namespace ? ['--namespace', h.namespace] : [])];
    for (const v of h.valuesFiles) args.push('--values', join(appDir, v));
  }
  const dir = await mkdtemp(join(tmpdir(), 'tether-render-'));
  try {
    for (const f of await repoFiles()) {
      const target = join(dir, f.path);
      if (relative(dir, target).startsWith('..')) continue;
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content);
    }
    const text = await runRenderer(cmd, args, dir, options).catch((err: unknown) => {
      throw kind === 'helm' ? explainHelmFailure(options.path, err) : err;
    });
    const output = `${appDir} (${cmd} ${args[0]} output)`;
    return {
      kind,
      objects: await parser.parse({ kind: 'output', text, file: output, maxFileBytes: options.maxOutputBytes }),
      skipped: [],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Parsing on the caller's thread (tests of the parse itself, and tools that render once). */
const inline: Pick<ParseWorker, 'parse'> = { parse: async (job) => runParseJob(job) };

/**
 * A renderer whose YAML is parsed by `parser` (a worker thread unless told): plain manifests in the worker, kustomize
 * and helm as sandboxed tools whose output is parsed there too.
 */
export function createToolRenderer(
  parser: Pick<ParseWorker, 'parse'> & Partial<Pick<ParseWorker, 'prepare'>> = new ParseWorker(),
): Renderer {
  return {
    render: (files, repoFiles, options) => render(files, repoFiles, options, parser),
    prepare: () => parser.prepare?.() ?? (() => {}),
  };
}

/** The renderer the agent runs with: YAML parsed in one worker thread, off the event loop (parse-worker.ts). */
export const toolRenderer: Renderer = createToolRenderer();

export { parseDocuments, parseManifests } from './parse.ts';
