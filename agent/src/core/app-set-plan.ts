// The set of apps an agent runs when some are defined in Git: the config file's apps plus every app source's
// definitions, names defined twice refused for both, and the changes that take the running set there (start,
// reconfigure, stop with the app's deletion policy, or keep). Pure data in and out; reconcile/app-set.ts acts on it.
import type { AppConfig } from '../config.ts';

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

/** A name defined more than once: refused everywhere, with every place it was defined. */
export interface DuplicateApp {
  name: string;
  origins: string[];
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

/** The definitions that stand (each name defined once) and the names refused for being defined more than once. */
export function resolveApps(defined: readonly DefinedApp[]): {
  apps: Map<string, DefinedApp>;
  duplicates: DuplicateApp[];
} {
  const byName = new Map<string, DefinedApp[]>();
  for (const d of defined) byName.set(d.app.name, [...(byName.get(d.app.name) ?? []), d]);
  const apps = new Map<string, DefinedApp>();
  const duplicates: DuplicateApp[] = [];
  for (const [name, defs] of byName) {
    if (defs.length === 1) apps.set(name, defs[0]!);
    else duplicates.push({ name, origins: defs.map((d) => d.origin) });
  }
  return { apps, duplicates };
}

/** The message of a refused duplicate, naming every place. */
export function duplicateMessage(d: DuplicateApp): string {
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
