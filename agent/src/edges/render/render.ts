import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { TetherError } from '../../../../shared/src/errors.ts';
import { normalizeRepoPath } from '../../../../shared/src/repo-path.ts';
import { parseYamlSafe, type YamlBudget, yamlBudget } from '../../../../shared/src/yaml-safe.ts';
import type { Renderer, RenderOptions, SourceFile } from '../../core/desired-state.ts';
import type { SourcedObject } from '../../core/types.ts';

export type { RenderOptions } from '../../core/desired-state.ts';

/** What rendered the app: plain manifests, kustomize or helm. */
export type RenderKind = 'plain' | 'kustomize' | 'helm';

const MANIFEST = /\.(ya?ml|json)$/i;
const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Decides the renderer from the files at the root of the app's path. */
export function renderKind(files: readonly SourceFile[], path: string): RenderKind {
  const root = normalizeRepoPath(path);
  const at = (name: string) => files.some((f) => f.path === (root ? `${root}/${name}` : name));
  if (KUSTOMIZATION.some(at)) return 'kustomize';
  if (at('Chart.yaml')) return 'helm';
  return 'plain';
}

/**
 * Parses plain YAML/JSON manifests: every `.yaml`/`.yml`/`.json` file, recursively, in path order, every document.
 * Documents that are empty or not Kubernetes objects at all (no apiVersion and no kind) are skipped; a file that
 * does not parse, or breaks a limit (size, documents, alias expansion, all files together), is an error naming it.
 */
export function parseManifests(
  files: readonly { path: string; text: string | Uint8Array }[],
  budget: YamlBudget = yamlBudget(),
): SourcedObject[] {
  return files.filter((f) => MANIFEST.test(f.path)).flatMap((f) => parseDocuments(f.text, f.path, { budget }));
}

/**
 * Every object of a multi-document YAML (or JSON) text, within the limits of `budget`; `file` names it in errors.
 * `kind: List` is unrolled.
 */
export function parseDocuments(
  text: string | Uint8Array,
  file: string,
  options: { budget?: YamlBudget; maxFileBytes?: number } = {},
): SourcedObject[] {
  const out: SourcedObject[] = [];
  const docs = parseYamlSafe(text, file, { ...options, code: 'render' });
  docs.forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    if (typeof doc === 'object' && !Array.isArray(doc)) {
      const o = doc as Record<string, unknown>;
      if (o.kind === 'List' && Array.isArray(o.items)) {
        for (const item of o.items) out.push({ object: item, file, index });
        return;
      }
      if (!('apiVersion' in o) && !('kind' in o)) return;
    }
    out.push({ object: doc, file, index });
  });
  return out;
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
 * Renders an app: plain manifests are parsed in process; a kustomization runs `kustomize build` (or
 * `kubectl kustomize` when that is what is on PATH); a chart runs `helm template`. Renderers see the whole
 * repository tree of that commit (overlays point at `../base`) written to a temp dir that is removed afterwards.
 */
export async function render(
  files: readonly SourceFile[],
  repoFiles: () => Promise<readonly SourceFile[]>,
  options: RenderOptions,
) {
  const kind = renderKind(files, options.path);
  // One budget per render: the size and document limits hold for all its files together.
  const budget = yamlBudget();
  if (kind === 'plain') {
    return {
      kind,
      objects: parseManifests(
        files.map((f) => ({ path: f.path, text: f.content })),
        budget,
      ),
    };
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
    const h = options.helm ?? { valuesFiles: [], releaseName: 'release' };
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
    const text = await runRenderer(cmd, args, dir, options);
    const output = `${appDir} (${cmd} ${args[0]} output)`;
    return { kind, objects: parseDocuments(text, output, { budget, maxFileBytes: options.maxOutputBytes }) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The renderer the agent runs with: plain manifests in process, kustomize and helm as sandboxed tools. */
export const toolRenderer: Renderer = { render };
