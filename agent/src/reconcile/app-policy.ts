// What an app's project and sync settings say, bound to the agent's current projects: the sync engine and the loop
// ask at every turn, so a project changed at runtime (a Project document merged) takes effect at the next sync.
import type { AppConfig } from '../config.ts';
import type { PolicyView, ProjectView } from '../core/agent-view.ts';
import { subject } from '../core/objects.ts';
import type { ProjectSet } from '../core/project-set.ts';
import { appRefusal, refuseObjects, repoRefusal } from '../core/projects.ts';
import type { PolicyInput } from '../core/sync-policy.ts';
import { windowsAt, windowText } from '../core/sync-windows.ts';
import type { AppPolicy } from './sync.ts';

/** The project fence of one app, read from `projects` each time it is asked. */
export function projectPolicy(projects: ProjectSet, app: () => AppConfig): AppPolicy {
  const resolved = () => projects.resolve(app().project);
  return {
    refusal() {
      const r = resolved();
      return r.problem ?? appRefusal(r.project, app());
    },
    refuse(objects) {
      const { project } = resolved();
      return project ? refuseObjects(project, objects, subject) : [];
    },
    mayPrune() {
      return resolved().project?.prune ?? false;
    },
    vouchesForRepo() {
      const { project } = resolved();
      return !!project && !repoRefusal(project, app().repo);
    },
  };
}

/** The settings that decide whether a turn applies: the app's policy and its project's windows. */
export function policyInput(projects: ProjectSet, app: AppConfig): PolicyInput {
  const { project } = projects.resolve(app.project);
  return { syncPolicy: app.syncPolicy, suspended: app.suspended, windows: project?.syncWindows ?? [] };
}

/** Whether self-heal may write for `app` under its project (both must allow it). */
export function projectAllowsSelfHeal(projects: ProjectSet, app: AppConfig): boolean {
  return app.selfHeal && (projects.resolve(app.project).project?.selfHeal ?? false);
}

/** An app's project and policy as the API, page and CLI show them, at time `now`. */
export function policyView(projects: ProjectSet, app: AppConfig, now: Date): PolicyView {
  const r = projects.resolve(app.project);
  const problem = r.problem ?? appRefusal(r.project, app);
  const windows = r.project?.syncWindows ?? [];
  const verdict = windowsAt(windows, now);
  return {
    project: app.project,
    ...(problem ? { projectProblem: problem } : {}),
    syncPolicy: app.syncPolicy,
    suspended: app.suspended,
    prune: app.prune && (r.project?.prune ?? false),
    selfHeal: projectAllowsSelfHeal(projects, app),
    windows: windows.map(windowText),
    ...(verdict.reason ? { windowNow: verdict.reason } : {}),
  };
}

/** Every project with the apps in it (an app naming an undefined project lists it too, with the problem). */
export function projectViews(projects: ProjectSet, apps: readonly AppConfig[], now: Date): ProjectView[] {
  const listed = projects.list();
  const names = new Set(listed.map((p) => p.name));
  const views: ProjectView[] = listed.map((l) => {
    const verdict = windowsAt(l.project.syncWindows, now);
    return {
      name: l.name,
      origin: l.origin,
      ...(l.problem ? { problem: l.problem } : {}),
      sourceRepos: l.project.sourceRepos,
      destinationNamespaces: l.project.destinationNamespaces,
      clusterResourceAllowlist: l.project.clusterResourceAllowlist,
      namespaceResourceDenylist: l.project.namespaceResourceDenylist,
      prune: l.project.prune,
      selfHeal: l.project.selfHeal,
      windows: l.project.syncWindows.map(windowText),
      ...(verdict.reason ? { windowNow: verdict.reason } : {}),
      apps: apps.filter((a) => a.project === l.name).map((a) => a.name),
    };
  });
  for (const a of apps) {
    if (names.has(a.project)) continue;
    names.add(a.project);
    views.push({
      name: a.project,
      origin: 'undefined',
      problem: `project ${a.project} is not defined; its apps are not synced`,
      sourceRepos: [],
      destinationNamespaces: [],
      clusterResourceAllowlist: [],
      namespaceResourceDenylist: [],
      prune: false,
      selfHeal: false,
      windows: [],
      apps: apps.filter((x) => x.project === a.project).map((x) => x.name),
    });
  }
  return views;
}
