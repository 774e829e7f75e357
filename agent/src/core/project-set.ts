// The projects an agent knows, by where they came from: the config file (`config`) and each Git source of Project
// documents. Pure data; the agent asks it, at every sync, which project an app is in.
import type { ProjectConfig } from '../config.ts';
import { DEFAULT_PROJECT, defaultProject } from './projects.ts';

/** Where the config file's projects are recorded. */
export const CONFIG_ORIGIN = 'config';

/** What a project name resolves to: the project and its origin, or why it cannot be used. */
export interface ResolvedProject {
  project?: ProjectConfig;
  /** `config`, a Git source's name, or `built-in` for the default project no origin defines. */
  origin?: string;
  /** Why no project can be used (not defined, defined twice); names the project. */
  problem?: string;
}

/** One project as the API, the page and the CLI list it. */
export interface ProjectListing {
  name: string;
  origin: string;
  project: ProjectConfig;
  /** Set when the name is defined by more than one document: apps in it are refused until one remains. */
  problem?: string;
}

/**
 * Projects by origin. `set(origin, …)` replaces what that origin defined; a name defined twice (in one origin or in
 * two) is refused for its apps rather than one definition winning silently. The built-in `default` project stands
 * until some origin defines `default` itself.
 */
export class ProjectSet {
  private readonly byOrigin = new Map<string, ProjectConfig[]>();

  constructor(configProjects: readonly ProjectConfig[] = []) {
    if (configProjects.length > 0) this.byOrigin.set(CONFIG_ORIGIN, [...configProjects]);
  }

  /** Replaces the projects of `origin`; returns the names whose definition may have changed. */
  set(origin: string, projects: readonly ProjectConfig[]): Set<string> {
    const before = this.byOrigin.get(origin) ?? [];
    if (projects.length > 0) this.byOrigin.set(origin, [...projects]);
    else this.byOrigin.delete(origin);
    return new Set([...before, ...projects].map((p) => p.name));
  }

  /** The project an app names, or why it cannot be used. */
  resolve(name: string): ResolvedProject {
    const found = this.definitions(name);
    if (found.length === 1) return { project: found[0]!.project, origin: found[0]!.origin };
    if (found.length > 1) {
      return { problem: `project ${name} is defined ${found.length} times (${found.map((f) => f.origin).join(', ')})` };
    }
    if (name === DEFAULT_PROJECT) return { project: defaultProject(), origin: 'built-in' };
    return { problem: `project ${name} is not defined; the app is not synced until it is` };
  }

  /** Every project known, with its origin, in name order; the built-in default when no origin defines one. */
  list(): ProjectListing[] {
    const names = new Set([DEFAULT_PROJECT, ...[...this.byOrigin.values()].flat().map((p) => p.name)]);
    const out: ProjectListing[] = [];
    for (const name of [...names].sort()) {
      const r = this.resolve(name);
      if (r.project) out.push({ name, origin: r.origin!, project: r.project });
      else for (const d of this.definitions(name)) out.push({ ...d, name, problem: r.problem! });
    }
    return out;
  }

  private definitions(name: string): { project: ProjectConfig; origin: string }[] {
    const out: { project: ProjectConfig; origin: string }[] = [];
    for (const [origin, projects] of this.byOrigin) {
      for (const project of projects) if (project.name === name) out.push({ project, origin });
    }
    return out;
  }
}
