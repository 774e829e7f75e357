// The set of apps an agent runs when some are defined in Git: the config file's apps plus every app source's
// definitions, names defined twice refused for both, and the changes that take the running set there (start,
// reconfigure, stop with the app's deletion policy, or keep). Pure data in and out; reconcile/app-set.ts acts on it.
import type { AppConfig } from '../config.ts';
import { statusContext } from './commit-status.ts';

/** Where an app is defined: the config file, or a file in Git (`repo@ref:path/file`). */
export const CONFIG_ORIGIN = 'config';

/** `https://host/acme/env.git@main:apps/web.yaml`: where a Git-defined app lives, as the page, API and CLI show it. */
export function gitOrigin(repo: string, ref: string, file: string): string {
  return `${repo}@${ref}:${file}`;
}

/** One definition of an app, from the config or from an app source. */
export interface DefinedApp {
  app: AppConfig;
  /** `config`, or `repo@ref:file`. */
  origin: string;
  /** The app source that defined it (`config` for the config file). */
  source: string;
}

/** An app that is running now, as the set last started it. */
export interface RunningApp {
  app: AppConfig;
  origin: string;
  source: string;
}

/**
 * A name defined more than once, or taken by an app source's commit status: refused everywhere, with every place it
 * was defined.
 */
export interface DuplicateApp {
  name: string;
  origins: string[];
  /** The app source whose status context the app would share (see `sourceClash`), when that is why it is refused. */
  clash?: string;
}

/**
 * The names app sources post their commit status under (`tether/<cluster>/<label>`), in `appsFrom` order: `apps` for
 * the unnamed source, `apps-<name>` for a named one, `apps-<n>` (its position, from 1) when several are unnamed.
 */
export function sourceLabels(appsFrom: readonly { name?: string | undefined }[]): string[] {
  const unnamed = appsFrom.filter((a) => !a.name).length;
  return appsFrom.map((a, i) => (a.name ? `apps-${a.name}` : unnamed > 1 ? `apps-${i + 1}` : 'apps'));
}

/**
 * Why an app named `label` cannot run beside the app source with that label: an app's status context is
 * `tether/<cluster>/<app>`, so both would post the same one and each would overwrite the other's state.
 */
export function sourceClash(
  cluster: string,
  label: string,
  index: number,
  source: { repo: string; ref: string; path: string },
): string {
  const where = gitOrigin(source.repo, source.ref, source.path);
  return (
    `would post the same commit status context ${statusContext(cluster, label)} as app source ` +
    `appsFrom[${index}] (${where}): rename the app, or name the source (appsFrom[].name)`
  );
}

/** What to do to the running apps. */
export interface AppSetChanges {
  /** Not running: start. */
  add: DefinedApp[];
  /** Running with another definition: stop and start with the new one (objects stay; the next sync reconciles). */
  change: DefinedApp[];
  /** Definition gone: stop, then orphan or cascade as its last definition says. */
  remove: RunningApp[];
  /** Refused (a duplicate name): stop, touching nothing in the cluster (a mistake in Git is not a deletion). */
  refuse: RunningApp[];
}

/**
 * The definitions that stand (each name defined once) and the names refused: defined more than once, or a key of
 * `taken` (an app source's status label, mapped to its `sourceClash`).
 */
export function resolveApps(
  defined: readonly DefinedApp[],
  taken: ReadonlyMap<string, string> = new Map(),
): {
  apps: Map<string, DefinedApp>;
  duplicates: DuplicateApp[];
} {
  const byName = new Map<string, DefinedApp[]>();
  for (const d of defined) byName.set(d.app.name, [...(byName.get(d.app.name) ?? []), d]);
  const apps = new Map<string, DefinedApp>();
  const duplicates: DuplicateApp[] = [];
  for (const [name, defs] of byName) {
    const clash = taken.get(name);
    if (clash !== undefined) duplicates.push({ name, origins: defs.map((d) => d.origin), clash });
    else if (defs.length === 1) apps.set(name, defs[0]!);
    else duplicates.push({ name, origins: defs.map((d) => d.origin) });
  }
  return { apps, duplicates };
}

/** The message of a refused duplicate, naming every place (and the app source, for a name a source's status has). */
export function duplicateMessage(d: DuplicateApp): string {
  if (d.clash !== undefined) return `app ${d.name} (${d.origins.join(' and ')}) ${d.clash}: refused`;
  return `app ${d.name} is defined ${d.origins.length} times (${d.origins.join(' and ')}): refused in every place`;
}

/** Whether two definitions would run the same way (same settings and origin). */
export function sameDefinition(a: { app: AppConfig; origin: string }, b: { app: AppConfig; origin: string }): boolean {
  return a.origin === b.origin && JSON.stringify(a.app) === JSON.stringify(b.app);
}

/**
 * The changes from `running` to `desired`. A running app no longer desired is refused when its name is a duplicate,
 * kept when `held` says its definition could not be read this time (an unreadable file must not delete an app),
 * and removed otherwise.
 */
export function planAppChanges(
  running: ReadonlyMap<string, RunningApp>,
  desired: ReadonlyMap<string, DefinedApp>,
  duplicates: readonly DuplicateApp[],
  held: (app: RunningApp) => boolean = () => false,
): AppSetChanges {
  const changes: AppSetChanges = { add: [], change: [], remove: [], refuse: [] };
  const duplicated = new Set(duplicates.map((d) => d.name));
  for (const [name, d] of desired) {
    const r = running.get(name);
    if (!r) changes.add.push(d);
    else if (!sameDefinition(r, d)) changes.change.push(d);
  }
  for (const [name, r] of running) {
    if (desired.has(name)) continue;
    if (duplicated.has(name)) changes.refuse.push(r);
    else if (!held(r)) changes.remove.push(r);
  }
  return changes;
}

/** One app source as the API shows it. */
export interface AppSourceView {
  /** `apps`, or `apps-<name>`: the last part of its commit status context. */
  name: string;
  repo: string;
  ref: string;
  path: string;
  /** The commit last read. */
  revision?: string;
  /** When it was last read, and the verdict. */
  at?: string;
  state: 'pending' | 'success' | 'failure' | 'error';
  description: string;
  /** Apps it defines (running or held), parents (apps of apps, expanded, not run themselves), projects. */
  apps: string[];
  parents: string[];
  projects: string[];
  errors: string[];
  notes: string[];
}
