// Apps defined in Git: each `appsFrom` source is polled at its interval (a push webhook wakes it at once), its
// documents are read (App, Project, Argo CD Application and AppProject), an App whose path holds more App
// documents is expanded (app of apps, up to maxDepth, cycles refused), and the agent's running apps are taken to the
// union of the config's apps and every source's: started, reconfigured, or stopped with their deletion policy. Each
// source posts its own commit status on the commit it read.
import { createHash } from 'node:crypto';
import { describeError } from '../../../shared/src/errors.ts';
import type { Logger } from '../../../shared/src/log.ts';
import { repoFromUrl } from '../../../shared/src/repo-url.ts';
import { type AgentConfig, type AppConfig, fetchesWithToken, helmOptions, type ProjectConfig } from '../config.ts';
import {
  type AppDefinition,
  type AppDocuments,
  type AppDocumentsContext,
  describeDocumentError,
  readAppDocuments,
  readAppFiles,
} from '../core/app-documents.ts';
import {
  type AppSourceView,
  CONFIG_ORIGIN,
  type DefinedApp,
  type DuplicateApp,
  duplicateMessage,
  gitOrigin,
  planAppChanges,
  type RunningApp,
  resolveApps,
  sourceClash,
  sourceLabels,
} from '../core/app-set-plan.ts';
import { type CommitStatus, clampDescription, statusContext } from '../core/commit-status.ts';
import { type DesiredStateSource, defaultRenderOptions, type Renderer } from '../core/desired-state.ts';
import { type ApplySetParentRef, defaultParentRef } from '../core/inventory.ts';
import { renderKind } from '../edges/render/render.ts';
import { AppLoop } from './app-loop.ts';
import { readParentState } from './applyset-parent.ts';
import type { ClusterDeps } from './cluster.ts';
import {
  type Recovery,
  type Refusal,
  recordAppSpec,
  recoverDeleteHooks,
  refusalDecision,
  refusalKey,
} from './recover-hooks.ts';
import {
  type CascadeHooks,
  cascadeApp,
  definitionMarks,
  markDefinition,
  orphanApp,
  type RemovalOutcome,
} from './remove-app.ts';
import type { StatusReporter } from './status-reporter.ts';
import { pruneOptions } from './sync.ts';

/** One `appsFrom` entry of the configuration. */
export type AppsFromConfig = AgentConfig['appsFrom'][number];

export type { AppSourceView } from '../core/app-set-plan.ts';

/** What the app set asks of the agent that runs the apps. */
export interface AppSetHost {
  /** Every app running now, with where it was defined. */
  runningApps(): ReadonlyMap<string, RunningApp>;
  /** Starts running an app (its loop starts at once when the agent is running). */
  addApp(app: AppConfig, source: DesiredStateSource, origin: string, definedBy: string): void;
  /** Stops an app's loop and heal watches and forgets it; false when there was none. */
  removeApp(name: string): Promise<boolean>;
  /**
   * A running app's deletion hooks as last rendered (run by a cascade removal); undefined when it is not running or
   * has not rendered yet (the cascade then renders them from Git, see recover-hooks.ts).
   */
  deleteHooksOf(name: string): CascadeHooks | undefined;
  /** Replaces the projects that came from `origin`. */
  setProjects(origin: string, projects: ProjectConfig[]): void;
}

/** What the app set is built from. */
export interface AppSetDeps extends ClusterDeps {
  config: AgentConfig;
  renderer: Renderer;
  /** A Git source for `repo`@`ref`, cached under `key` (one per app, one per apps location). */
  openSource(key: string, repo: string, ref: string): Promise<DesiredStateSource>;
  reporter?: StatusReporter;
  log: Logger;
  host: AppSetHost;
  /**
   * Sharding: whether this replica holds the shard of `name` (an app, or a source's label). Every replica reads
   * every source (it must know the apps to run those of its shards); a source's status is posted by the holder of
   * the source's shard, and a removed app is orphaned or cascaded by the holder of the app's. Absent: all.
   */
  owns?: (name: string) => boolean;
}

/** A directory of App documents: a repository, a ref and a path. */
interface Location {
  repo: string;
  ref: string;
  path: string;
}

const locationKey = (l: Location) => `${l.repo}@${l.ref}:${l.path || '.'}`;

interface SourceDefinition extends DefinedApp {
  /** The file of the document, relative to its repository. */
  file: string;
  /** The directories read to reach it, root first (an unreadable one holds everything under it). */
  chain: string[];
}

/** One appsFrom source: its loop and what it defined last. */
class AppSource {
  readonly loop: AppLoop;
  definitions: SourceDefinition[] = [];
  projects: { project: ProjectConfig; file: string }[] = [];
  view: AppSourceView;
  attempted = false;
  /** Every repository@ref read in the last expansion (a push to any of them wakes this source). */
  reposRead = new Set<string>();

  constructor(
    readonly spec: AppsFromConfig,
    readonly label: string,
    refresh: (s: AppSource, reason: string) => Promise<void>,
    onError: (err: unknown) => void,
  ) {
    this.loop = new AppLoop(spec.interval, (reason) => refresh(this, reason), onError);
    this.view = {
      name: label,
      repo: spec.repo,
      ref: spec.ref,
      path: spec.path,
      state: 'pending',
      description: 'not read yet',
      apps: [],
      parents: [],
      projects: [],
      errors: [],
      notes: [],
    };
  }
}

/** What one expansion of a source found. */
interface Expansion {
  definitions: SourceDefinition[];
  projects: { project: ProjectConfig; file: string }[];
  parents: string[];
  errors: string[];
  notes: string[];
  /** Files with a bad document, and directories that could not be read: the apps defined there are held. */
  erroredFiles: Set<string>;
  failedDirs: Set<string>;
  skipped: number;
}

/** Fetches each repository@ref once per refresh. */
class RepoCache {
  private readonly fetched = new Map<string, Promise<{ source: DesiredStateSource; commit: string }>>();
  constructor(private readonly open: (repo: string, ref: string) => Promise<DesiredStateSource>) {}
  get(repo: string, ref: string): Promise<{ source: DesiredStateSource; commit: string }> {
    const key = `${repo}@${ref}`;
    let p = this.fetched.get(key);
    if (!p) {
      p = (async () => {
        const source = await this.open(repo, ref);
        return { source, commit: await source.fetch() };
      })();
      this.fetched.set(key, p);
    }
    return p;
  }
  keys(): string[] {
    return [...this.fetched.keys()];
  }
}

/**
 * The apps defined in Git. `start()` polls every source; each refresh re-reads that source and takes the running
 * set to the union of all sources and the config file. Refreshes run one at a time, so two sources never start
 * the same app twice.
 */
export class AppSet {
  private readonly sources: AppSource[];
  private queue: Promise<void> = Promise.resolve();
  /** Parsed directories by location and tree id: an unchanged tree is not parsed (or rendered) again. */
  private readonly parsed = new Map<string, AppDocuments>();
  /** Git sources for reading apps locations, by repository@ref. */
  private readonly readers = new Map<string, Promise<DesiredStateSource>>();
  private duplicates: DuplicateApp[] = [];
  /** Removals, newest last (bounded), for the API and tests. */
  readonly removals: ({ app: string; at: string } & RemovalOutcome)[] = [];
  /**
   * The deletion hooks of removed apps whose cascade has not finished, by app name: as the app last rendered them in
   * this process, or as rendered again from Git at the revision its inventory records (see recover-hooks.ts).
   */
  private readonly deleteHooks = new Map<string, CascadeHooks>();
  /** The apps removal was attempted for during the current read. */
  private readonly removedThisRead = new Set<string>();
  /**
   * Removals that failed (retried at each read of their source; a refused cascade only as refusalDecision says),
   * shown in their source's notes until one works.
   */
  private readonly failedRemovals = new Map<string, { source: string; message: string }>();
  /** Refused cascades by app name: not tried again until what they depend on changes (see refusalDecision). */
  private readonly refusals = new Map<string, Refusal>();

  constructor(private readonly deps: AppSetDeps) {
    const labels = sourceLabels(deps.config.appsFrom);
    this.sources = deps.config.appsFrom.map((spec, i) => {
      const label = labels[i]!;
      return new AppSource(
        spec,
        label,
        (s, reason) => this.enqueue(() => this.refresh(s, reason)),
        (err) => deps.log.error('app source refresh crashed; retrying', { source: label, error: describeError(err) }),
      );
    });
  }

  /** Starts polling every source (the first read at once). */
  start(): void {
    for (const s of this.sources) s.loop.start();
  }

  /** Stops polling, after the refresh in progress. */
  async stop(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.loop.stop()));
  }

  /**
   * Reads every source once and applies the result (the CLI's one-shot commands; tests). `readOnly` starts and
   * refuses apps in this process only: no commit status, no orphan mark lifted, nothing removed from the cluster.
   */
  async refreshAll(reason = 'once', options: { readOnly?: boolean } = {}): Promise<void> {
    for (const s of this.sources) await this.enqueue(() => this.refresh(s, reason, options.readOnly ?? false));
  }

  /** Wakes the sources that read `owner/name` at `refs/heads/<ref>`; returns their names. */
  requestForPush(repoFullName: string, ref: string, reason: string): string[] {
    const branch = ref.replace(/^refs\/heads\//, '');
    const woken: string[] = [];
    for (const s of this.sources) {
      const repos = new Set([`${s.spec.repo}@${s.spec.ref}`, ...s.reposRead]);
      const hit = [...repos].some((key) => {
        const at = key.lastIndexOf('@');
        const gh = repoFromUrl(key.slice(0, at));
        return (
          key.slice(at + 1) === branch && !!gh && `${gh.owner}/${gh.repo}`.toLowerCase() === repoFullName.toLowerCase()
        );
      });
      if (hit) {
        s.loop.request(reason);
        woken.push(s.label);
      }
    }
    return woken;
  }

  /** Wakes one source by name; false when there is none. */
  request(name: string, reason: string): boolean {
    const s = this.sources.find((x) => x.label === name);
    s?.loop.request(reason);
    return !!s;
  }

  /** The sources whose first read has not been attempted (readiness). */
  waiting(): string[] {
    return this.sources.filter((s) => !s.attempted).map((s) => s.label);
  }

  /** Every source as the API shows it. */
  views(): AppSourceView[] {
    return this.sources.map((s) => {
      const failed = [...this.failedRemovals]
        .filter(([, f]) => f.source === s.label)
        .map(([app, f]) => `removal of app ${app} failed (retried at the next read): ${f.message}`);
      return { ...s.view, notes: [...s.view.notes, ...failed] };
    });
  }

  private owns(name: string): boolean {
    return this.deps.owns?.(name) ?? true;
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private reader(repo: string, ref: string): Promise<DesiredStateSource> {
    const key = `${repo}@${ref}`;
    let r = this.readers.get(key);
    if (!r) {
      // App names are DNS labels, so a key starting with a dot never shares an app's cache directory.
      const id = createHash('sha256').update(key).digest('hex').slice(0, 16);
      r = this.deps.openSource(`.apps-from-${id}`, repo, ref);
      // A failed open is not remembered: the next refresh tries again.
      r.catch(() => this.readers.delete(key));
      this.readers.set(key, r);
    }
    return r;
  }

  /** One refresh of one source: read, expand, apply the union, post the source's status. */
  private async refresh(s: AppSource, reason: string, readOnly = false): Promise<void> {
    const log = this.deps.log.with({ source: s.label });
    const repos = new RepoCache((repo, ref) => this.reader(repo, ref));
    const root: Location = { repo: s.spec.repo, ref: s.spec.ref, path: s.spec.path };
    let commit: string;
    try {
      commit = (await repos.get(root.repo, root.ref)).commit;
    } catch (err) {
      // A failed fetch says nothing about any commit: no status, nothing changes.
      s.attempted = true;
      s.view = { ...s.view, state: 'error', description: `fetch failed: ${describeError(err)}`, at: now() };
      log.warn('app source fetch failed', { reason, error: describeError(err) });
      return;
    }
    const found = await this.expand(s, root, repos);
    s.reposRead = new Set(repos.keys());
    s.attempted = true;
    if (found.failedDirs.has(locationKey(root))) {
      // The root could not be read or rendered: keep every app as it was, say so on the commit.
      s.view = {
        ...s.view,
        revision: commit,
        at: now(),
        state: 'error',
        description: found.errors[0] ?? 'read failed',
      };
      s.view.errors = found.errors;
      if (!readOnly && this.owns(s.label)) this.post(s, commit, 'error', found.errors[0] ?? 'read failed');
      log.warn('app source unreadable', { revision: commit, errors: found.errors });
      return;
    }
    // A definition in a file that now has an error, or under a directory that could not be read, stays as it was:
    // a typo must not stop (let alone cascade-delete) an app.
    const fresh = new Set(found.definitions.map((d) => d.app.name));
    const held = s.definitions.filter(
      (d) =>
        !fresh.has(d.app.name) &&
        (found.erroredFiles.has(d.origin) || d.chain.some((dir) => found.failedDirs.has(dir))),
    );
    s.definitions = [...found.definitions, ...held];
    const freshProjects = new Set(found.projects.map((p) => p.project.name));
    s.projects = [
      ...found.projects,
      ...s.projects.filter((p) => !freshProjects.has(p.project.name) && found.erroredFiles.has(p.file)),
    ];
    this.deps.host.setProjects(
      s.label,
      s.projects.map((p) => p.project),
    );
    this.removedThisRead.clear();
    await this.applyUnion(log, readOnly);
    // Removals found only through the inventories wait for a read without problems: a source that could not be
    // read whole is no proof that an app is gone.
    if (!readOnly && found.errors.length === 0) await this.sweep(s, log);

    const mine = this.duplicates.filter((d) => s.definitions.some((x) => x.app.name === d.name));
    const problems = [...found.errors, ...mine.map(duplicateMessage)];
    const apps = s.definitions.filter((d) => !mine.some((m) => m.name === d.app.name)).length;
    const summary = `${plural(apps, 'app')}, ${plural(s.projects.length, 'project')}${found.skipped ? `, ${found.skipped} skipped` : ''}`;
    const state: CommitStatus['state'] = problems.length > 0 ? 'failure' : 'success';
    const description =
      problems.length > 0
        ? `${shortProblem(problems[0]!, root)}${problems.length > 1 ? ` (+${problems.length - 1} more)` : ''} · ${summary}`
        : summary;
    s.view = {
      ...s.view,
      revision: commit,
      at: now(),
      state,
      description,
      apps: s.definitions.map((d) => d.app.name),
      parents: found.parents,
      projects: s.projects.map((p) => p.project.name),
      errors: problems,
      notes: found.notes,
    };
    if (!readOnly && this.owns(s.label)) this.post(s, commit, state, description);
    if (problems.length > 0) log.warn('app source has problems', { revision: commit, problems });
    else log.info('app source read', { revision: commit, reason, apps, projects: s.projects.length });
  }

  private post(s: AppSource, sha: string, state: CommitStatus['state'], description: string): void {
    const reporter = this.deps.reporter;
    const gh = repoFromUrl(s.spec.repo);
    if (!reporter || !gh) return;
    const base = this.deps.config.publicUrl?.replace(/\/+$/, '');
    reporter.report(
      { ...gh, sha },
      {
        state,
        description: clampDescription(description),
        context: statusContext(this.deps.config.cluster, s.label),
        ...(base ? { targetUrl: `${base}/api/app-sources` } : {}),
      },
    );
  }

  /**
   * Reads the directory at `root` and, for every App in it, the App's own path: one that holds App documents is an
   * app of apps and is expanded in turn (not run itself), up to maxDepth, refusing a directory already on the chain.
   */
  private async expand(s: AppSource, root: Location, repos: RepoCache): Promise<Expansion> {
    const out: Expansion = {
      definitions: [],
      projects: [],
      parents: [],
      errors: [],
      notes: [],
      erroredFiles: new Set(),
      failedDirs: new Set(),
      skipped: 0,
    };
    const visit = async (loc: Location, chain: string[]): Promise<void> => {
      const key = locationKey(loc);
      let docs: AppDocuments;
      try {
        docs = await this.readLocation(loc, repos);
      } catch (err) {
        out.failedDirs.add(key);
        out.errors.push(`${loc.path || '.'}: ${describeError(err)}`);
        return;
      }
      const here = [...chain, key];
      const originOf = (file: string) => gitOrigin(loc.repo, loc.ref, file);
      for (const e of docs.errors) {
        out.errors.push(describeDocumentError(e));
        out.erroredFiles.add(originOf(e.file));
      }
      for (const n of docs.notes) {
        if (n.message.startsWith('skipped:')) out.skipped++;
        out.notes.push(`${n.file}: ${n.subject ? `${n.subject}: ` : ''}${n.message}`);
      }
      for (const p of docs.projects) {
        out.projects.push({ project: p.project, file: originOf(p.file) });
        for (const note of p.notes) out.notes.push(`${p.file}: ${p.kind}/${p.project.name}: ${note}`);
      }
      for (const d of docs.apps) {
        for (const note of d.notes) out.notes.push(`${d.file}: ${d.kind}/${d.app.name}: ${note}`);
        const child: Location = { repo: d.app.repo, ref: d.app.ref, path: d.app.path };
        const childKey = locationKey(child);
        const fail = (message: string) => {
          out.errors.push(`${d.file}: ${d.kind}/${d.app.name}: ${pathField(d)}: ${message}`);
          out.erroredFiles.add(originOf(d.file));
        };
        if (here.includes(childKey)) {
          fail(`cycle: ${[...here, childKey].join(' → ')}`);
          continue;
        }
        if (await this.holdsApps(child, d.app, repos)) {
          // An app of apps: its children are read in its place.
          if (here.length > s.spec.maxDepth) {
            fail(`apps nested deeper than maxDepth ${s.spec.maxDepth}: ${[...here, childKey].join(' → ')}`);
            // What ran from under that directory stays as it was, as under a directory that cannot be read. (A
            // cycle needs no such hold: the directory it points back at is being read already.)
            out.failedDirs.add(childKey);
            continue;
          }
          out.parents.push(d.app.name);
          await visit(child, here);
          continue;
        }
        out.definitions.push({
          app: d.app,
          origin: originOf(d.file),
          source: s.label,
          file: d.file,
          chain: here,
        });
      }
    };
    await visit(root, []);
    return out;
  }

  /** The App and Project documents at a location (parsed once per tree id); throws when it cannot be read. */
  private async readLocation(loc: Location, repos: RepoCache, helm?: AppConfig): Promise<AppDocuments> {
    const { source, commit } = await repos.get(loc.repo, loc.ref);
    const tree = await source.treeHash(commit, loc.path);
    if (tree === undefined) throw new Error(`path '${loc.path || '.'}' does not exist at ${commit.slice(0, 7)}`);
    const cacheKey = `${locationKey(loc)}#${tree}`;
    const cached = this.parsed.get(cacheKey);
    if (cached) return cached;
    const ctx: AppDocumentsContext = {
      cluster: this.deps.config.cluster,
      clusterServers: this.deps.config.clusterServers,
      repo: loc.repo,
      ref: loc.ref,
      withToken: fetchesWithToken(this.deps.config),
    };
    const files = await source.readFiles(commit, loc.path);
    let docs: AppDocuments;
    if (renderKind(files, loc.path) === 'plain') docs = readAppFiles(files, ctx);
    else {
      // A kustomization or chart that generates the App documents (Argo CD's usual app of apps) is rendered.
      const rendered = await this.deps.renderer.render(files, () => source.readFiles(commit, ''), {
        ...defaultRenderOptions(loc.path),
        helm: helmOptions(helm ?? ({ name: 'apps', namespace: 'default' } as AppConfig)),
      });
      docs = readAppDocuments(rendered.objects, ctx);
    }
    if (this.parsed.size > 500) this.parsed.clear();
    this.parsed.set(cacheKey, docs);
    return docs;
  }

  /** Whether an app's own path holds App documents (an app of apps); an unreadable path is the app's to report. */
  private async holdsApps(loc: Location, app: AppConfig, repos: RepoCache): Promise<boolean> {
    try {
      const docs = await this.readLocation(loc, repos, app);
      return docs.apps.length > 0 || docs.errors.some((e) => /^(App|Application)\//.test(e.subject ?? ''));
    } catch {
      return false;
    }
  }

  /** Takes the running apps to the union of the config's and every source's definitions. */
  private async applyUnion(log: Logger, readOnly: boolean): Promise<void> {
    const defined: DefinedApp[] = [
      ...this.deps.config.apps.map((app) => ({ app, origin: CONFIG_ORIGIN, source: CONFIG_ORIGIN })),
      ...this.sources.flatMap((s) => s.definitions),
    ];
    // An app named like a source's status label would share its commit status context: refused like a duplicate.
    const taken = new Map(
      this.sources.map((s, i) => [s.label, sourceClash(this.deps.config.cluster, s.label, i, s.spec)] as const),
    );
    const { apps, duplicates } = resolveApps(defined, taken);
    this.duplicates = duplicates;
    const running = this.deps.host.runningApps();
    const bySource = new Map(this.sources.flatMap((s) => s.definitions.map((d) => [d.app.name, d] as const)));
    const changes = planAppChanges(running, apps, duplicates, (r) => {
      // An app no source defines any more is held only if its source kept it (see refresh); config apps never go.
      return r.source === CONFIG_ORIGIN;
    });
    for (const d of duplicates) log.warn('app refused', { app: d.name, reason: duplicateMessage(d) });
    for (const r of changes.refuse) await this.deps.host.removeApp(r.app.name);
    for (const r of changes.remove) {
      // Taken before the app stops, from its last render: the definition that held them is gone from Git.
      // (Undefined when it never rendered here: the cascade then renders them again from Git.)
      // Kept only where the removal runs: another replica's (sharded) would stay here for good, never used.
      const removes = !readOnly && this.owns(r.app.name);
      const hooks = removes ? this.deps.host.deleteHooksOf(r.app.name) : undefined;
      if (hooks) this.deleteHooks.set(r.app.name, hooks);
      else this.deleteHooks.delete(r.app.name);
      await this.deps.host.removeApp(r.app.name);
      if (removes) await this.remove(r.app.name, r.app.deletionPolicy, r.origin, r.app, r.source, log);
    }
    for (const d of changes.change) {
      await this.deps.host.removeApp(d.app.name);
      await this.startApp(d, log, 'app reconfigured', readOnly);
    }
    for (const d of changes.add) {
      await this.startApp(d, log, bySource.has(d.app.name) ? 'app added' : 'app restored', readOnly);
    }
  }

  private async startApp(d: DefinedApp, log: Logger, what: string, readOnly: boolean): Promise<void> {
    // Defined again: a removal still pending is off, and the app's next render brings its own hooks.
    this.forgetRemoval(d.app.name);
    try {
      if (!readOnly) {
        const git = d.source !== CONFIG_ORIGIN;
        const spec = recordAppSpec(d.app);
        await markDefinition(
          this.deps,
          this.parentOf(d.app.name),
          git
            ? {
                source: this.markOf(d.source),
                app: d.app.name,
                origin: d.origin,
                deletionPolicy: d.app.deletionPolicy,
                ...(spec ? { spec } : {}),
              }
            : undefined,
        );
      }
    } catch (err) {
      // Without the mark a removal while the agent is down goes unnoticed; the app itself runs all the same.
      log.warn('app definition not recorded on its inventory', { app: d.app.name, error: describeError(err) });
    }
    try {
      const source = await this.deps.openSource(d.app.name, d.app.repo, d.app.ref);
      this.deps.host.addApp(d.app, source, d.origin, d.source);
      log.info(what, { app: d.app.name, origin: d.origin });
    } catch (err) {
      log.error('app not started', { app: d.app.name, error: describeError(err) });
    }
  }

  /**
   * Removals the running set cannot see: parents marked as defined by source `s` whose app it no longer defines
   * and that nothing runs (removed while the agent was down, or a removal that failed and is retried).
   */
  private async sweep(s: AppSource, log: Logger): Promise<void> {
    let marks: Awaited<ReturnType<typeof definitionMarks>>;
    try {
      marks = await definitionMarks(this.deps, this.deps.config.inventoryNamespace, this.markOf(s.label));
    } catch (err) {
      log.warn('inventories not listed; removals while stopped are checked next time', { error: describeError(err) });
      return;
    }
    const defined = new Set(s.definitions.map((d) => d.app.name));
    const running = this.deps.host.runningApps();
    for (const m of marks) {
      // One attempt per read: a removal that just failed (a PreDelete hook) is not run again at once.
      if (defined.has(m.app) || running.has(m.app) || this.removedThisRead.has(m.app) || !this.owns(m.app)) continue;
      await this.remove(m.app, m.deletionPolicy, m.origin, undefined, s.label, log, m.spec);
    }
    // A failed removal whose inventory was deleted by hand since: nothing is left to remove, and no mark lists the
    // app again, so what was remembered for it (the failure, a refused cascade, its hooks) would stay for the life of
    // the process. One GET per such app and read, only while it is remembered.
    const marked = new Set(marks.map((m) => m.app));
    for (const [app, f] of [...this.failedRemovals]) {
      if (f.source !== s.label || marked.has(app) || running.has(app)) continue;
      try {
        if ((await readParentState(this.deps, this.parentOf(app))).live) continue;
      } catch {
        // Not readable now: asked again at the next read.
        continue;
      }
      this.forgetRemoval(app);
      log.info('failed removal dropped: its inventory is gone', { app });
    }
  }

  /** Forgets what a pending removal of `name` kept: its failure, a refused cascade, its deletion hooks. */
  private forgetRemoval(name: string): void {
    this.deleteHooks.delete(name);
    this.failedRemovals.delete(name);
    this.refusals.delete(name);
  }

  /** How many removed apps something is remembered for (tests: a long-running agent does not grow). */
  get rememberedRemovals(): number {
    return new Set([...this.deleteHooks.keys(), ...this.failedRemovals.keys(), ...this.refusals.keys()]).size;
  }

  /** Orphans or cascades a removed app in the cluster, and records the outcome. */
  private async remove(
    name: string,
    policy: 'orphan' | 'cascade',
    origin: string,
    app: AppConfig | undefined,
    source: string,
    log: Logger,
    specText?: string,
  ): Promise<void> {
    this.removedThisRead.add(name);
    const reason = `definition removed from ${origin}`;
    const parent = this.parentOf(name);
    const outcome =
      policy === 'cascade'
        ? await this.cascade(name, parent, app, specText, reason)
        : await orphanApp(this.deps, parent, reason);
    // A refusal held as it was: its failure note stands, and nothing new is recorded or logged.
    if (outcome === 'held') return;
    // Kept while the removal fails, so the retry (see sweep) runs the same PreDelete hooks again before deleting.
    if (!outcome.error) this.deleteHooks.delete(name);
    if (outcome.error) this.failedRemovals.set(name, { source, message: outcome.error });
    else this.failedRemovals.delete(name);
    this.removals.push({ app: name, at: now(), ...outcome });
    if (this.removals.length > 100) this.removals.shift();
    const fields = {
      app: name,
      policy: outcome.policy,
      pruned: outcome.entries.filter((e) => e.action === 'pruned').length,
      ...(outcome.hooks ? { hooks: outcome.hooks.map((h) => `${h.phase} ${h.subject}: ${h.outcome}`) } : {}),
      kept: outcome.entries.filter((e) => e.action === 'skipped').length,
      ...(outcome.error ? { error: outcome.error } : {}),
    };
    if (outcome.error && this.refusals.has(name))
      log.warn('app cascade refused; tried again when its inventory changes, or in an hour', fields);
    else if (outcome.error) log.warn('app removal failed; retried at the next read', fields);
    else log.info('app removed', fields);
  }

  /**
   * Cascades a removed app with its deletion hooks: those this process last rendered, else the ones rendered again
   * from Git (see recover-hooks.ts). Hooks that cannot be recovered refuse the cascade (nothing is deleted, a Warning
   * Event says why) rather than delete without them.
   */
  private async cascade(
    name: string,
    parent: ApplySetParentRef,
    app: AppConfig | undefined,
    specText: string | undefined,
    reason: string,
  ): Promise<RemovalOutcome | 'held'> {
    let hooks = this.deleteHooks.get(name);
    let spec = app ? { allowProtectedKinds: app.allowProtectedKinds, pruneAdopted: app.pruneAdopted } : undefined;
    if (!hooks) {
      let recovery: Recovery | undefined;
      let key: string | undefined;
      let event = true;
      try {
        const { live } = await readParentState(this.deps, parent);
        // No inventory: the app never synced, nothing of it is there to delete (cascadeApp finds that too).
        if (live) {
          const text = specText ?? (app && recordAppSpec(app));
          key = refusalKey(live, text);
          const decision = refusalDecision(this.refusals.get(name), key, Date.now());
          if (decision.action === 'hold') return 'held';
          event = decision.event;
          recovery = await recoverDeleteHooks(this.deps, name, parent, live, text);
        }
      } catch (err) {
        recovery = { error: `reading the inventory: ${describeError(err)}` };
      }
      if (recovery && 'error' in recovery) {
        // A refusal for want of the inventory is not remembered: the next read tries again.
        if (key !== undefined) this.refusals.set(name, { key, at: Date.now(), message: recovery.error });
        if (event) await this.refusedEvent(parent, recovery.error);
        return { policy: 'cascade', entries: [], parentDeleted: false, error: recovery.error };
      }
      this.refusals.delete(name);
      if (recovery) {
        hooks = recovery.hooks;
        // Kept for a retry after a failed PreDelete hook: the same hooks run again without another render.
        this.deleteHooks.set(name, hooks);
        spec ??= recovery.spec && {
          allowProtectedKinds: recovery.spec.allowProtectedKinds ?? [],
          pruneAdopted: recovery.spec.pruneAdopted ?? false,
        };
      }
    }
    return cascadeApp(this.deps, parent, pruneOptions(spec ?? {}), reason, hooks);
  }

  /** A Warning Event on the parent of an app whose cascade was refused; failures are ignored (the notes say it too). */
  private async refusedEvent(parent: ApplySetParentRef, message: string): Promise<void> {
    try {
      await this.deps.kube.createEvent({
        involvedObject: { apiVersion: 'v1', kind: parent.kind, name: parent.name, namespace: parent.namespace },
        reason: 'CascadeRefused',
        message: message.slice(0, 1000),
        type: 'Warning',
        component: 'tether',
      });
    } catch (err) {
      this.deps.log.debug('event not recorded', { error: describeError(err) });
    }
  }

  /**
   * The label value that marks an app as defined by a source: its name and a hash of its repo, ref and path, so a
   * source with the same name elsewhere (another config, a one-shot CLI run) never takes these apps for its own.
   */
  private markOf(label: string): string {
    const s = this.sources.find((x) => x.label === label);
    if (!s) return label;
    const hash = createHash('sha256').update(`${s.spec.repo}@${s.spec.ref}:${s.spec.path}`).digest('hex');
    return `${label}.${hash.slice(0, 12)}`;
  }

  private parentOf(name: string): ApplySetParentRef {
    return defaultParentRef(name, this.deps.config.inventoryNamespace);
  }
}

/** The field of an App document that points at its path, for errors about where it points. */
function pathField(d: AppDefinition): string {
  return d.kind === 'Application' ? 'spec.source.path' : 'spec.path';
}

/** A problem as a status shows it: without the root repository's URL, which the commit already names. */
function shortProblem(problem: string, root: Location): string {
  return problem.split(`${root.repo}@${root.ref}:`).join('');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function now(): string {
  return new Date().toISOString();
}
