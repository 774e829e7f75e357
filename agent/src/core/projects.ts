// Projects: the fence around a team's apps, in Argo CD's AppProject terms
// (https://argo-cd.readthedocs.io/en/stable/user-guide/projects/). Pure: each check takes a project and the thing
// checked, and a refusal is the rule that refused, in words, so the app's status and the sync entry can name it.
// The agent's RBAC stays the outer fence: a project only narrows what the agent may do for one app.
import { globMatcher } from '../../../shared/src/glob.ts';
import type { ProjectConfig } from '../config.ts';
import { groupOf } from './objects.ts';
import type { K8sObject, SyncEntry } from './types.ts';

/** The name of the built-in project every app is in unless it names another. */
export const DEFAULT_PROJECT = 'default';

/** The built-in `default` project: any repo, any namespace, every kind, prune and self-heal allowed. */
export function defaultProject(): ProjectConfig {
  return {
    name: DEFAULT_PROJECT,
    description: 'built in: allows everything the agent’s RBAC allows',
    sourceRepos: ['*'],
    destinationNamespaces: ['*'],
    clusterResourceAllowlist: ['*'],
    namespaceResourceDenylist: [],
    prune: true,
    selfHeal: true,
    syncWindows: [],
  };
}

/**
 * A matcher for a list of globs where `*` alone means anything at all. Repository URLs and `group/Kind` names hold
 * slashes, which a glob's `*` never crosses; a project that says `*` means every repo or kind, as in Argo CD.
 */
function anyOrGlobs(patterns: readonly string[]): (text: string) => boolean {
  const positive = patterns.filter((p) => !p.startsWith('!'));
  const negative = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const excluded = negative.length > 0 ? anyOrGlobs(negative) : () => false;
  if (positive.includes('*')) return (t) => !excluded(t);
  const match = globMatcher(positive);
  return (t) => match(t) && !excluded(t);
}

/** How a group/kind is written in a project and named in its refusals: `Kind` (core group) or `group/Kind`. */
export function kindName(group: string, kind: string): string {
  return group ? `${group}/${kind}` : kind;
}

/**
 * Whether a kind list entry matches a group and kind. `Kind` is the core group's kind, `group/Kind` names the group;
 * either part may be a glob (`*.crossplane.io/*`), and `*` alone is every kind of every group.
 */
function kindMatcher(patterns: readonly string[]): (group: string, kind: string) => boolean {
  const one = (pattern: string): ((group: string, kind: string) => boolean) => {
    if (pattern === '*') return () => true;
    const slash = pattern.lastIndexOf('/');
    const groupGlob = slash < 0 ? '' : pattern.slice(0, slash);
    const kindGlob = slash < 0 ? pattern : pattern.slice(slash + 1);
    const kindOk = globMatcher([kindGlob]);
    const groupOk = groupGlob === '' ? (g: string) => g === '' : globMatcher([groupGlob]);
    return (group, kind) => groupOk(group) && kindOk(kind);
  };
  const matchers = patterns.map(one);
  return (group, kind) => matchers.some((m) => m(group, kind));
}

/** The same URL with and without a trailing `.git`, so `https://github.com/acme/env` allows both spellings. */
function repoSpellings(repo: string): string[] {
  const bare = repo.replace(/\/+$/, '').replace(/\.git$/, '');
  return [bare, `${bare}.git`];
}

/** Why the project refuses to let an app fetch `repo` (not in its `sourceRepos`), or undefined when it allows it. */
export function repoRefusal(project: ProjectConfig, repo: string): string | undefined {
  const allowed = anyOrGlobs(project.sourceRepos);
  if (repoSpellings(repo).some(allowed)) return undefined;
  return `project ${project.name}: repo ${repo} is not in sourceRepos (${listText(project.sourceRepos)})`;
}

/** Why the project refuses namespace `ns` as a destination (not in `destinationNamespaces`), or undefined. */
export function namespaceRefusal(project: ProjectConfig, ns: string): string | undefined {
  if (anyOrGlobs(project.destinationNamespaces)(ns)) return undefined;
  return `project ${project.name}: namespace ${ns} is not in destinationNamespaces (${listText(project.destinationNamespaces)})`;
}

/**
 * Why the project refuses one rendered object, or undefined when it may be applied: a cluster-scoped kind must be in
 * `clusterResourceAllowlist` (none is by default); a namespaced kind must not be in `namespaceResourceDenylist` and
 * its namespace must be in `destinationNamespaces`. The object's scope comes from discovery (validated objects carry
 * a namespace exactly when they are namespaced).
 */
export function objectRefusal(project: ProjectConfig, obj: K8sObject): string | undefined {
  const group = groupOf(obj);
  const kind = kindName(group, obj.kind);
  const ns = obj.metadata.namespace;
  if (!ns) {
    if (kindMatcher(project.clusterResourceAllowlist)(group, obj.kind)) return undefined;
    return `project ${project.name}: ${kind} is cluster-scoped and not in clusterResourceAllowlist`;
  }
  if (kindMatcher(project.namespaceResourceDenylist)(group, obj.kind)) {
    return `project ${project.name}: ${kind} is in namespaceResourceDenylist`;
  }
  return namespaceRefusal(project, ns);
}

/** One `refused` entry per object outside the project, naming the rule; empty when every object is allowed. */
export function refuseObjects(project: ProjectConfig, objects: readonly K8sObject[], name: (o: K8sObject) => string) {
  const entries: SyncEntry[] = [];
  for (const o of objects) {
    const reason = objectRefusal(project, o);
    if (reason) entries.push({ subject: name(o), action: 'refused', reason });
  }
  return entries;
}

/** What an app may do once its project has had its say: prune and self-heal only when both allow them. */
export function narrowedPolicy(
  project: ProjectConfig,
  app: { prune: boolean; selfHeal: boolean },
): { prune: boolean; selfHeal: boolean } {
  return { prune: app.prune && project.prune, selfHeal: app.selfHeal && project.selfHeal };
}

/**
 * Why an app may not sync at all under its project, checked before anything is fetched: the project is not defined,
 * its repo is not allowed, or its own namespace is not an allowed destination. Undefined when it may.
 */
export function appRefusal(
  project: ProjectConfig | undefined,
  app: { project: string; repo: string; namespace: string },
): string | undefined {
  if (!project) return `project ${app.project} is not defined; the app is not synced until it is`;
  return repoRefusal(project, app.repo) ?? namespaceRefusal(project, app.namespace);
}

function listText(patterns: readonly string[]): string {
  return patterns.length === 0 ? 'empty' : patterns.join(', ');
}
