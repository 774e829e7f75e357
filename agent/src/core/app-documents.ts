// Apps and projects declared in Git: the documents of an `appsFrom` path (Tether's own `App` and `Project`, and
// Argo CD's `Application` and `AppProject`) read into the same validated configuration the config file's `apps:`
// and `projects:` give. Pure: the files come in as bytes, definitions, errors and notes go out as data. A bad document
// is an error naming its file and field and never stops the others from counting; a field Tether does not act on is
// a note, never dropped in silence.
//
// Argo CD's Application fields: https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/
// (application.yaml reference) and AppProject: …/operator-manual/project.yaml.
import type { z } from 'zod';
import { isRecord } from '../../../shared/src/is-record.ts';
import { parseYamlSafe, type YamlBudget, yamlBudget } from '../../../shared/src/yaml-safe.ts';
import { type AppConfig, appConfigSchema, type ProjectConfig, plainHttpProblem, projectSchema } from '../config.ts';

/** Tether's own API version of `App` and `Project` documents. */
export const TETHER_API_VERSION = 'tether.dev/v1alpha1';
/** Argo CD's API version of `Application` and `AppProject`. */
export const ARGO_API_VERSION = 'argoproj.io/v1alpha1';

/** The Argo CD finalizer that makes deleting an Application delete its resources: Tether's `cascade`. */
export const ARGO_CASCADE_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

/** Argo CD's names for the cluster it runs in; the agent runs in its cluster, so these mean this one. */
export const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';
const IN_CLUSTER_NAME = 'in-cluster';

/** Where the documents were read and which cluster this agent is, for defaults and destination matching. */
export interface AppDocumentsContext {
  /** This agent's cluster name (an Application's `destination.name` must be it, or `in-cluster`). */
  cluster: string;
  /** API server URLs that mean this cluster in `destination.server` (besides https://kubernetes.default.svc). */
  clusterServers: readonly string[];
  /** The repository and ref the documents come from: an App without a source repo (or ref) takes these. */
  repo: string;
  ref: string;
  /** The agent fetches with a token: an app whose repo is plain HTTP to another machine is refused. */
  withToken?: boolean;
}

/** One App defined in Git, validated, with the file it came from and what Tether made of it. */
export interface AppDefinition {
  app: AppConfig;
  /** The file, relative to the repository root. */
  file: string;
  kind: 'App' | 'Application';
  /** Fields read but not acted on, and translations worth saying (Argo CD defaults, HEAD). */
  notes: string[];
}

/** One Project defined in Git, validated. */
export interface ProjectDefinition {
  project: ProjectConfig;
  file: string;
  kind: 'Project' | 'AppProject';
  notes: string[];
}

/** A document that defines nothing: why, naming the file, the document and the field. */
export interface DocumentError {
  file: string;
  /** The document's name (`App/web`) when it has a readable one. */
  subject?: string;
  /** The field at fault, as a path (`spec.interval`), or `(document)` for the whole document. */
  field: string;
  message: string;
}

/** A document read but not turned into an app: another cluster's Application, a kind that is not an app. */
export interface DocumentNote {
  file: string;
  subject?: string;
  message: string;
}

/** Everything the documents of one path define, and what went wrong. */
export interface AppDocuments {
  apps: AppDefinition[];
  projects: ProjectDefinition[];
  errors: DocumentError[];
  notes: DocumentNote[];
}

/** `file: App/web: spec.interval: message`: how a document error is written in logs and statuses. */
export function describeDocumentError(e: DocumentError): string {
  return `${e.file}: ${e.subject ? `${e.subject}: ` : ''}${e.field}: ${e.message}`;
}

/** True for a document that defines an app (Tether's App or Argo CD's Application): its path holds an app of apps. */
export function isAppDocument(doc: unknown): boolean {
  if (!isRecord(doc)) return false;
  return (
    (doc.apiVersion === TETHER_API_VERSION && doc.kind === 'App') ||
    (doc.apiVersion === ARGO_API_VERSION && doc.kind === 'Application')
  );
}

/** True for a document this module reads (App, Project, Application, AppProject). */
function isDefinition(doc: Record<string, unknown>): boolean {
  return (
    isAppDocument(doc) ||
    (doc.apiVersion === TETHER_API_VERSION && doc.kind === 'Project') ||
    (doc.apiVersion === ARGO_API_VERSION && doc.kind === 'AppProject')
  );
}

const MANIFEST = /\.(ya?ml|json)$/i;

/**
 * Parses the YAML/JSON files of an apps path (every document, with the one safe parser and one budget) and reads the
 * definitions in them. A file that does not parse is an error naming it; the other files still count.
 */
export function readAppFiles(
  files: readonly { path: string; content: Uint8Array | string }[],
  ctx: AppDocumentsContext,
  budget: YamlBudget = yamlBudget(),
): AppDocuments {
  const docs: { object: unknown; file: string }[] = [];
  const errors: DocumentError[] = [];
  for (const f of files) {
    if (!MANIFEST.test(f.path)) continue;
    try {
      for (const object of parseYamlSafe(f.content, f.path, { budget })) docs.push({ object, file: f.path });
    } catch (err) {
      // The parser's message starts with the file name; the error names the file once.
      const message = (err as Error).message.replace(`${f.path}: `, '');
      errors.push({ file: f.path, field: '(document)', message });
    }
  }
  const read = readAppDocuments(docs, ctx);
  return { ...read, errors: [...errors, ...read.errors] };
}

/** Reads App, Project, Application and AppProject documents; other kinds are noted and left alone. */
export function readAppDocuments(
  docs: readonly { object: unknown; file: string }[],
  ctx: AppDocumentsContext,
): AppDocuments {
  const out: AppDocuments = { apps: [], projects: [], errors: [], notes: [] };
  for (const { object, file } of docs) {
    if (object === null || object === undefined) continue;
    if (!isRecord(object)) {
      out.errors.push({ file, field: '(document)', message: 'not a mapping' });
      continue;
    }
    if (!isDefinition(object)) {
      const kind = typeof object.kind === 'string' ? object.kind : '(no kind)';
      const name = isRecord(object.metadata) && typeof object.metadata.name === 'string' ? object.metadata.name : '';
      out.notes.push({
        file,
        subject: name ? `${kind}/${name}` : kind,
        message: `ignored: ${String(object.apiVersion ?? '(no apiVersion)')} ${kind} is not an App or Project; an apps path defines apps, it is not applied`,
      });
      continue;
    }
    readOne(object, file, ctx, out);
  }
  return out;
}

function readOne(doc: Record<string, unknown>, file: string, ctx: AppDocumentsContext, out: AppDocuments): void {
  const kind = doc.kind as 'App' | 'Project' | 'Application' | 'AppProject';
  const metadata = isRecord(doc.metadata) ? doc.metadata : undefined;
  const name = typeof metadata?.name === 'string' ? metadata.name : undefined;
  const subject = `${kind}/${name ?? '(no name)'}`;
  const fail = (field: string, message: string): void => {
    out.errors.push({ file, subject, field, message });
  };
  if (!name) {
    fail('metadata.name', 'required: the name of the app or project');
    return;
  }
  if (doc.spec !== undefined && !isRecord(doc.spec)) {
    fail('spec', 'must be a mapping');
    return;
  }
  const spec = (doc.spec ?? {}) as Record<string, unknown>;
  const notes: string[] = [];
  if (kind === 'App') {
    const input = tetherAppInput(spec, ctx, fail);
    if (!input) return;
    const app = validate(appConfigSchema, { name, ...input }, appFieldPath, fail);
    const insecure = app && plainHttpProblem(app.repo, ctx.withToken ?? false);
    if (insecure) fail(appFieldPath(['repo']), insecure);
    else if (app) out.apps.push({ app, file, kind, notes });
  } else if (kind === 'Project') {
    const project = validate(projectSchema, { name, ...projectAliases(spec) }, projectFieldPath, fail);
    if (project) out.projects.push({ project, file, kind, notes });
  } else if (kind === 'Application') {
    const skipped = foreignDestination(spec, ctx);
    if (skipped) {
      out.notes.push({ file, subject, message: `skipped: ${skipped}` });
      return;
    }
    const input = argoAppInput(doc, spec, ctx, notes, fail);
    if (!input) return;
    const app = validate(appConfigSchema, { name, ...input.value }, (p) => input.fieldOf(p), fail);
    const insecure = app && plainHttpProblem(app.repo, ctx.withToken ?? false);
    if (insecure) fail(input.fieldOf(['repo']), insecure);
    else if (app) out.apps.push({ app, file, kind, notes });
  } else {
    const project = validate(projectSchema, { name, ...argoProjectInput(spec, ctx, notes) }, argoProjectField, fail);
    if (project) out.projects.push({ project, file, kind, notes });
  }
}

/** Runs a schema, reporting each issue at the document field `fieldOf` names; undefined when any failed. */
function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  fieldOf: (path: readonly PropertyKey[]) => string,
  fail: (field: string, message: string) => void,
): z.output<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const i of r.error.issues) {
    const message =
      i.code === 'unrecognized_keys'
        ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`
        : i.message;
    const path = i.code === 'unrecognized_keys' && i.keys.length === 1 ? [...i.path, i.keys[0]!] : i.path;
    fail(fieldOf(path) || 'spec', message);
  }
  return undefined;
}

/** `a.b[0].c` from a schema path. */
function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)),
    prefix,
  );
}

// The source fields an App may give either flat (as the config file's apps do) or under `spec.source`.
const SOURCE_FIELDS = ['repo', 'ref', 'path'] as const;

function appFieldPath(path: readonly PropertyKey[]): string {
  if (path[0] === 'name') return 'metadata.name';
  return joinPath('spec', path);
}

/**
 * A Tether App's spec as the app schema takes it: `source: {repo, ref, path}` (or the same fields flat); the repo
 * and ref default to where the document lives, so an app of apps in one repository need not repeat its URL.
 */
function tetherAppInput(
  spec: Record<string, unknown>,
  ctx: AppDocumentsContext,
  fail: (field: string, message: string) => void,
): Record<string, unknown> | undefined {
  const { source, ...rest } = spec;
  if ('name' in rest) {
    fail('spec.name', 'the name is metadata.name');
    return undefined;
  }
  const flat: Record<string, unknown> = { ...rest };
  if (source !== undefined) {
    if (!isRecord(source)) {
      fail('spec.source', 'must be a mapping of repo, ref and path');
      return undefined;
    }
    for (const [k, v] of Object.entries(source)) {
      if (!(SOURCE_FIELDS as readonly string[]).includes(k)) {
        fail(`spec.source.${k}`, 'unknown field (a source has repo, ref and path)');
        return undefined;
      }
      if (k in rest) {
        fail(`spec.${k}`, `given twice, in spec.source.${k} and spec.${k}`);
        return undefined;
      }
      flat[k] = v;
    }
  }
  if (flat.repo === undefined) {
    flat.repo = ctx.repo;
    flat.ref ??= ctx.ref;
  }
  return flat;
}

// The Project document may use the short names of the design sketch; the schema's names are canonical.
const PROJECT_ALIASES: Record<string, string> = {
  destinations: 'destinationNamespaces',
  clusterResources: 'clusterResourceAllowlist',
  deniedResources: 'namespaceResourceDenylist',
  windows: 'syncWindows',
};

function projectAliases(spec: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [PROJECT_ALIASES[k] ?? k, v]));
}

function projectFieldPath(path: readonly PropertyKey[]): string {
  if (path[0] === 'name') return 'metadata.name';
  return joinPath('spec', path);
}

/** Why an Application is for another cluster, or undefined when it is for this one. */
function foreignDestination(spec: Record<string, unknown>, ctx: AppDocumentsContext): string | undefined {
  const dest = isRecord(spec.destination) ? spec.destination : {};
  const name = typeof dest.name === 'string' ? dest.name : undefined;
  const server = typeof dest.server === 'string' ? dest.server.replace(/\/+$/, '') : undefined;
  if (name !== undefined) {
    return name === ctx.cluster || name === IN_CLUSTER_NAME
      ? undefined
      : `destination.name "${name}" is not this cluster ("${ctx.cluster}")`;
  }
  if (server !== undefined) {
    const ours = [IN_CLUSTER_SERVER, ...ctx.clusterServers].map((s) => s.replace(/\/+$/, ''));
    return ours.includes(server)
      ? undefined
      : `destination.server ${server} is not this cluster (clusterServers: ${ours.join(', ')})`;
  }
  return undefined;
}

// Argo CD sync options Tether honours or has no need of (it always applies server-side).
const SYNC_OPTIONS_DONE = new Set(['CreateNamespace=true', 'ServerSideApply=true', 'CreateNamespace=false']);

/**
 * An Argo CD Application as the app schema takes it, and the schema field → document field map for errors. Every
 * field Tether does not act on becomes a note; a source Tether cannot fetch at all (a Helm repository chart, several
 * sources, a plugin) is an error, since running the app without it would apply something else than Argo CD would.
 */
function argoAppInput(
  doc: Record<string, unknown>,
  spec: Record<string, unknown>,
  ctx: AppDocumentsContext,
  notes: string[],
  fail: (field: string, message: string) => void,
): { value: Record<string, unknown>; fieldOf: (path: readonly PropertyKey[]) => string } | undefined {
  const value: Record<string, unknown> = {};
  const fields: Record<string, string> = { name: 'metadata.name' };
  const set = (key: string, v: unknown, field: string) => {
    value[key] = v;
    fields[key] = field;
  };
  if (spec.sources !== undefined) {
    fail('spec.sources', 'several sources are not supported; use one spec.source');
    return undefined;
  }
  if (!isRecord(spec.source)) {
    fail('spec.source', 'required: repoURL, path and targetRevision of a Git repository');
    return undefined;
  }
  const source = spec.source;
  if (source.chart !== undefined) {
    fail('spec.source.chart', 'Helm repository charts are not supported; Tether renders charts from Git paths');
    return undefined;
  }
  if (source.plugin !== undefined) {
    fail('spec.source.plugin', 'config management plugins are not supported');
    return undefined;
  }
  set('repo', source.repoURL, 'spec.source.repoURL');
  const revision = source.targetRevision;
  if (revision === undefined || revision === 'HEAD' || revision === '') {
    // Argo CD's default follows the remote HEAD; the agent fetches a named branch: the one the document lives on
    // when the repository is the same (an app of apps in one repo), else main.
    const sameRepo = typeof source.repoURL === 'string' && sameRepoUrl(source.repoURL, ctx.repo);
    const branch = sameRepo ? ctx.ref : 'main';
    set('ref', branch, 'spec.source.targetRevision');
    notes.push(`targetRevision ${revision === undefined ? '(none)' : String(revision)} read as branch ${branch}`);
  } else set('ref', revision, 'spec.source.targetRevision');
  set('path', source.path ?? '', 'spec.source.path');
  for (const k of Object.keys(source)) {
    if (!['repoURL', 'targetRevision', 'path', 'helm', 'kustomize', 'directory', 'ref', 'name'].includes(k))
      notes.push(`spec.source.${k} is not supported and was ignored`);
  }
  if (isRecord(source.helm)) {
    const helm: Record<string, unknown> = {};
    if (source.helm.valueFiles !== undefined) helm.valuesFiles = source.helm.valueFiles;
    if (source.helm.releaseName !== undefined) helm.releaseName = source.helm.releaseName;
    for (const k of Object.keys(source.helm)) {
      if (k !== 'valueFiles' && k !== 'releaseName')
        notes.push(`spec.source.helm.${k} is not supported and was ignored`);
    }
    set('helm', helm, 'spec.source.helm');
  }
  if (isRecord(source.kustomize)) {
    for (const k of Object.keys(source.kustomize))
      notes.push(
        `spec.source.kustomize.${k} is not supported and was ignored (the kustomization is built as committed)`,
      );
  }
  if (isRecord(source.directory)) {
    for (const [k, v] of Object.entries(source.directory)) {
      if (k === 'recurse' && v === true) continue;
      notes.push(
        k === 'recurse'
          ? 'spec.source.directory.recurse: false is not supported (Tether reads the directory recursively)'
          : `spec.source.directory.${k} is not supported and was ignored`,
      );
    }
  }

  const dest = isRecord(spec.destination) ? spec.destination : {};
  if (dest.namespace !== undefined) set('namespace', dest.namespace, 'spec.destination.namespace');
  if (spec.project !== undefined) set('project', spec.project, 'spec.project');

  const policy = isRecord(spec.syncPolicy) ? spec.syncPolicy : {};
  const automated = isRecord(policy.automated) ? policy.automated : undefined;
  // Argo CD's automated sync prunes and heals only when asked to; a manual app does neither on its own.
  if (automated && automated.enabled !== false) {
    set('syncPolicy', 'automated', 'spec.syncPolicy.automated');
    set('prune', automated.prune ?? false, 'spec.syncPolicy.automated.prune');
    set('selfHeal', automated.selfHeal ?? false, 'spec.syncPolicy.automated.selfHeal');
    if (automated.allowEmpty !== undefined)
      set('allowEmpty', automated.allowEmpty, 'spec.syncPolicy.automated.allowEmpty');
    for (const k of Object.keys(automated)) {
      if (!['prune', 'selfHeal', 'allowEmpty', 'enabled'].includes(k))
        notes.push(`spec.syncPolicy.automated.${k} is not supported and was ignored`);
    }
  } else {
    set('syncPolicy', 'manual', 'spec.syncPolicy');
    set('prune', false, 'spec.syncPolicy');
    set('selfHeal', false, 'spec.syncPolicy');
  }
  const options = Array.isArray(policy.syncOptions) ? policy.syncOptions : [];
  options.forEach((o, i) => {
    if (o === 'CreateNamespace=true') set('createNamespace', true, `spec.syncPolicy.syncOptions[${i}]`);
    if (typeof o !== 'string' || !SYNC_OPTIONS_DONE.has(o))
      notes.push(`spec.syncPolicy.syncOptions ${JSON.stringify(o)} is not supported and was ignored`);
  });
  // Argo CD's retry has Tether's shape; a bare number of seconds (Argo CD accepts `"5"`) reads as a duration.
  if (isRecord(policy.retry)) {
    const { refresh, backoff, ...retry } = policy.retry;
    if (refresh !== undefined) notes.push('spec.syncPolicy.retry.refresh is not supported and was ignored');
    const seconds = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? `${v}s` : v);
    set(
      'retry',
      isRecord(backoff)
        ? {
            ...retry,
            backoff: { ...backoff, duration: seconds(backoff.duration), maxDuration: seconds(backoff.maxDuration) },
          }
        : { ...retry, backoff },
      'spec.syncPolicy.retry',
    );
  }
  for (const k of Object.keys(policy)) {
    if (k !== 'automated' && k !== 'syncOptions' && k !== 'retry')
      notes.push(`spec.syncPolicy.${k} is not supported and was ignored`);
  }

  if (Array.isArray(spec.ignoreDifferences)) {
    const rules: unknown[] = [];
    spec.ignoreDifferences.forEach((r, i) => {
      if (!isRecord(r)) {
        rules.push(r);
        return;
      }
      const { jqPathExpressions, managedFieldsManagers, ...rest } = r;
      if (jqPathExpressions !== undefined)
        notes.push(`spec.ignoreDifferences[${i}].jqPathExpressions is not supported and was ignored`);
      if (managedFieldsManagers !== undefined)
        notes.push(`spec.ignoreDifferences[${i}].managedFieldsManagers is not supported and was ignored`);
      // A rule left with no JSON pointer would ignore nothing; it is dropped with the notes above.
      if (rest.jsonPointers !== undefined) rules.push(rest);
    });
    set('ignoreDifferences', rules, 'spec.ignoreDifferences');
  }

  const finalizers = isRecord(doc.metadata) && Array.isArray(doc.metadata.finalizers) ? doc.metadata.finalizers : [];
  // Argo CD deletes an Application's resources with it only when this finalizer is set; without it they stay.
  const cascade = finalizers.some((f) => typeof f === 'string' && f.startsWith(ARGO_CASCADE_FINALIZER));
  set('deletionPolicy', cascade ? 'cascade' : 'orphan', 'metadata.finalizers');

  for (const k of Object.keys(spec)) {
    if (!['source', 'destination', 'project', 'syncPolicy', 'ignoreDifferences'].includes(k))
      notes.push(`spec.${k} is not supported and was ignored`);
  }
  return {
    value,
    fieldOf: (path) => {
      const [head, ...rest] = path;
      const base = fields[String(head)] ?? `spec.${String(head)}`;
      return joinPath(base, rest);
    },
  };
}

/** An Argo CD AppProject as a Tether project: group/kind lists become `group/Kind` globs. */
function argoProjectInput(
  spec: Record<string, unknown>,
  ctx: AppDocumentsContext,
  notes: string[],
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  const kinds = (list: unknown) =>
    Array.isArray(list)
      ? list.map((e) => {
          if (!isRecord(e)) return e;
          const group = typeof e.group === 'string' ? e.group : '';
          return group ? `${group}/${String(e.kind)}` : String(e.kind);
        })
      : list;
  if (spec.description !== undefined) value.description = spec.description;
  if (spec.sourceRepos !== undefined) value.sourceRepos = spec.sourceRepos;
  if (Array.isArray(spec.destinations)) {
    value.destinationNamespaces = spec.destinations.flatMap((d) => {
      if (!isRecord(d)) return [d];
      const fake = { destination: { ...(d.name ? { name: d.name } : {}), ...(d.server ? { server: d.server } : {}) } };
      // A destination for another cluster says nothing about this one; `*` as the cluster matches every cluster.
      if (d.server !== '*' && d.name !== '*' && foreignDestination(fake, ctx)) return [];
      return [d.namespace ?? '*'];
    });
  }
  if (spec.clusterResourceWhitelist !== undefined)
    value.clusterResourceAllowlist = kinds(spec.clusterResourceWhitelist);
  if (spec.namespaceResourceBlacklist !== undefined)
    value.namespaceResourceDenylist = kinds(spec.namespaceResourceBlacklist);
  if (Array.isArray(spec.syncWindows)) {
    value.syncWindows = spec.syncWindows.map((w, i) => {
      if (!isRecord(w)) return w;
      const { kind, schedule, duration, manualSync, ...rest } = w;
      for (const k of Object.keys(rest))
        notes.push(`spec.syncWindows[${i}].${k} is not supported and was ignored (the window applies to every app)`);
      return { kind, schedule, duration, ...(manualSync !== undefined ? { manualSync } : {}) };
    });
  }
  for (const k of Object.keys(spec)) {
    if (
      ![
        'description',
        'sourceRepos',
        'destinations',
        'clusterResourceWhitelist',
        'namespaceResourceBlacklist',
        'syncWindows',
      ].includes(k)
    )
      notes.push(`spec.${k} is not supported and was ignored`);
  }
  return value;
}

const ARGO_PROJECT_FIELDS: Record<string, string> = {
  name: 'metadata.name',
  destinationNamespaces: 'spec.destinations',
  clusterResourceAllowlist: 'spec.clusterResourceWhitelist',
  namespaceResourceDenylist: 'spec.namespaceResourceBlacklist',
};

function argoProjectField(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path;
  return joinPath(ARGO_PROJECT_FIELDS[String(head)] ?? `spec.${String(head)}`, rest);
}

/** Whether two repository URLs name the same repository (case, a trailing `.git` and slashes aside). */
export function sameRepoUrl(a: string, b: string): boolean {
  const norm = (u: string) =>
    u
      .trim()
      .replace(/\/+$/, '')
      .replace(/\.git$/, '')
      .toLowerCase();
  return norm(a) === norm(b);
}
