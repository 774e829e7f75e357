// The desired-state ports: where an app's files come from (a Git source) and what turns them into objects (a
// renderer). The sync is given both; edges/git and edges/render implement them. Types only: no I/O here.
import type { SourcedObject } from './types.ts';

/** One file of the desired state: its path relative to the repository root, and its bytes. */
export interface SourceFile {
  path: string;
  content: Uint8Array;
}

/** Where the sync reads the desired state: a fetched Git source, or a stand-in over other storage. */
export interface DesiredStateSource {
  /**
   * Fetches the ref; returns the commit it points at. A call while a fetch runs shares it: a sync's fetch joins the
   * one a prefetch started. `signal` gives up the caller's share: the fetch stops once every caller gave up.
   */
  fetch(options?: { signal?: AbortSignal }): Promise<string>;
  /** The tree id of `path` at `commit` (undefined when the path does not exist): unchanged id, unchanged app. */
  treeHash(commit: string, path: string): Promise<string | undefined>;
  /** Every file under `path` at `commit`, recursively (`''` is the whole repository). */
  readFiles(commit: string, path: string): Promise<SourceFile[]>;
  /**
   * The commit the ref points at now, read without fetching any objects (a ref listing), without credentials when
   * `credentials` is false; optional.
   */
  head?(options: { credentials: boolean }): Promise<string>;
  /** Makes an older commit of the ref readable (fetching deeper history when the store lacks it); optional. */
  ensureCommit?(commit: string): Promise<void>;
}

/** How an app's path is rendered. */
export interface RenderOptions {
  /** The app's path inside the repository. */
  path: string;
  /** Helm: values files relative to the chart, and the release name and namespace. */
  helm?: { valuesFiles: string[]; releaseName: string; namespace?: string };
  /** Renderer limits: a renderer that runs longer, or prints more, fails the render. */
  timeoutMs: number;
  maxOutputBytes: number;
}

/** Defaults: 60 s and 64 MiB per renderer run. */
export function defaultRenderOptions(path: string): RenderOptions {
  return { path, timeoutMs: 60_000, maxOutputBytes: 64 * 1024 * 1024 };
}

/** Turns an app's files into objects (plain manifests, kustomize, helm); `repoFiles` gives the whole tree. */
export interface Renderer {
  render(
    files: readonly SourceFile[],
    repoFiles: () => Promise<readonly SourceFile[]>,
    options: RenderOptions,
  ): Promise<{ objects: SourcedObject[]; skipped?: { path: string; reason: string }[] }>;
  /**
   * Starts what a render needs (a parser thread) ahead of it, while the sync still fetches; optional. The returned
   * function says that render is done or will not come, so that what was started can stop.
   */
  prepare?(): () => void;
}

/**
 * The error of a render that produced no objects: it names the path and the files found there that Tether does not
 * render, because an empty render most often means the manifests were deleted or moved, not that the app should be
 * emptied (an app that means it sets `allowEmpty`).
 */
export function emptyRenderMessage(path: string, files: readonly { path: string }[]): string {
  const root = path.replace(/^\.?\/+|\/+$/g, '');
  const names = files.map((f) => (root && f.path.startsWith(`${root}/`) ? f.path.slice(root.length + 1) : f.path));
  const shown = names.slice(0, 10).join(', ');
  const more = names.length > 10 ? ` and ${names.length - 10} more` : '';
  const found = names.length === 0 ? 'no files' : `only files Tether does not render: ${shown}${more}`;
  return `no manifests at ${root || '.'} (${found}); set allowEmpty to sync an empty app`;
}
