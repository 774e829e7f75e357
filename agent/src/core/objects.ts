// Object identity helpers and validation of rendered manifests. Pure: discovery is passed in as a function.
import { TetherError } from '../../../shared/src/errors.ts';
import { isRecord } from '../../../shared/src/is-record.ts';
import { objectSemantics } from './annotations.ts';

/** The object's sync wave (its own annotation or an Argo CD/Helm alias); kept here for callers that import it here. */
export { syncWave } from './annotations.ts';

import type { IsNamespaced, K8sObject, ObjectRef, SourcedObject } from './types.ts';

/** Tether's own annotations on objects; annotations.ts reads them together with their Argo CD, Helm and Flux aliases. */
export const TETHER_ANNOTATIONS = {
  prune: 'tether.dev/prune',
  syncWave: 'tether.dev/sync-wave',
  selfHeal: 'tether.dev/self-heal',
} as const;

/** The API group of CustomResourceDefinitions. */
export const CRD_GROUP = 'apiextensions.k8s.io';

/** Splits `apps/v1` into `{group: 'apps', version: 'v1'}`; the core group (`v1`) is `''`. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return { group: '', version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The API group of an object (`''` for the core group). */
export function groupOf(obj: Pick<K8sObject, 'apiVersion'>): string {
  return parseApiVersion(obj.apiVersion).group;
}

/** The identity of an object; the version is left out because one object can be read at several versions. */
export function refOf(obj: K8sObject): ObjectRef {
  const ref: ObjectRef = { group: groupOf(obj), kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace) ref.namespace = obj.metadata.namespace;
  return ref;
}

/** A stable map key for an object or reference: `group/Kind/namespace/name` (namespace empty when cluster-scoped). */
export function objectKey(x: K8sObject | ObjectRef): string {
  const ref = 'metadata' in x ? refOf(x) : x;
  return `${ref.group}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

/** Parses a key made by `objectKey` back into a reference. */
export function parseObjectKey(key: string): ObjectRef {
  const parts = key.split('/');
  if (parts.length !== 4 || !parts[1] || !parts[3]) {
    throw new TetherError('parse', `"${key}" is not an object key (group/Kind/namespace/name)`);
  }
  const [group, kind, namespace, name] = parts as [string, string, string, string];
  return namespace ? { group, kind, namespace, name } : { group, kind, name };
}

/** How objects are named to people: `Kind/namespace/name`, or `Kind/name` when cluster-scoped. */
export function subject(x: K8sObject | ObjectRef): string {
  const ref = 'metadata' in x ? { kind: x.kind, namespace: x.metadata.namespace, name: x.metadata.name } : x;
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}

/** `Kind.group`, or just `Kind` for the core group: Go's schema.GroupKind.String(), as ApplySet annotations use it. */
export function groupKind(x: { group: string; kind: string }): string {
  return x.group ? `${x.kind}.${x.group}` : x.kind;
}

/** True for Namespace objects. */
export function isNamespace(x: { group: string; kind: string }): boolean {
  return x.group === '' && x.kind === 'Namespace';
}

/** True for CustomResourceDefinition objects. */
export function isCrd(x: { group: string; kind: string }): boolean {
  return x.group === CRD_GROUP && x.kind === 'CustomResourceDefinition';
}

/** An annotation's value, or undefined. */
export function annotation(obj: K8sObject, key: string): string | undefined {
  return obj.metadata.annotations?.[key];
}

/** A label's value, or undefined. */
export function label(obj: K8sObject, key: string): string | undefined {
  return obj.metadata.labels?.[key];
}

/** Options of `validateObjects`. */
export interface ValidateOptions {
  /** The app's namespace, given to namespaced objects that name none (like `kubectl apply -n`). */
  defaultNamespace: string;
}

/** Defaults of `validateObjects`: objects without a namespace go to `default`, as with kubectl. */
export function defaultValidateOptions(): ValidateOptions {
  return { defaultNamespace: 'default' };
}

/** True when the object is a hook that runs (any phase but Skip); false when its annotations do not parse. */
function isRunHook(o: K8sObject): boolean {
  try {
    return objectSemantics(o).hooks.some((p) => p !== 'Skip');
  } catch {
    return false;
  }
}

function where(item: SourcedObject): string {
  return item.index === undefined ? item.file : `${item.file} (document ${item.index + 1})`;
}

/** Scope declared by a CRD in the same set, so a new CRD's objects validate before discovery knows the kind. */
function crdScopes(objects: unknown[]): Map<string, boolean> {
  const scopes = new Map<string, boolean>();
  for (const o of objects) {
    if (!isRecord(o) || o.kind !== 'CustomResourceDefinition') continue;
    if (typeof o.apiVersion !== 'string' || parseApiVersion(o.apiVersion).group !== CRD_GROUP) continue;
    const spec = o.spec;
    if (!isRecord(spec) || typeof spec.group !== 'string' || !isRecord(spec.names)) continue;
    const kind = spec.names.kind;
    if (typeof kind !== 'string') continue;
    const namespaced = spec.scope !== 'Cluster';
    const versions = Array.isArray(spec.versions) ? spec.versions : [];
    for (const v of versions) {
      if (isRecord(v) && typeof v.name === 'string') scopes.set(`${spec.group}/${v.name}/${kind}`, namespaced);
    }
  }
  return scopes;
}

function stringMapProblem(meta: Record<string, unknown>, field: 'labels' | 'annotations'): string | undefined {
  const m = meta[field];
  if (m === undefined || m === null) return undefined;
  if (!isRecord(m)) return `metadata.${field} must be a map`;
  for (const [k, v] of Object.entries(m)) {
    // The apiserver rejects non-string values; YAML makes `tether.dev/sync-wave: 1` a number, so say it early.
    if (typeof v !== 'string') return `metadata.${field}.${k} must be a string, got ${JSON.stringify(v)} (quote it)`;
  }
  return undefined;
}

/**
 * Validates rendered objects and fills in what the server would need: apiVersion, kind and metadata.name must be
 * present; each object may appear once (the error names both files); namespaced objects without a namespace get
 * `defaultNamespace`; cluster-scoped objects lose a stray namespace (kubectl drops it too). Discovery decides the
 * scope; kinds it does not know may be defined by a CRD in the same set. Returns deep copies; throws one
 * TetherError (`input`) listing every problem, each naming its object and file.
 */
export function validateObjects(
  items: SourcedObject[],
  isNamespaced: IsNamespaced,
  options: ValidateOptions = defaultValidateOptions(),
): K8sObject[] {
  const problems: string[] = [];
  const seen = new Map<string, SourcedObject>();
  const out: K8sObject[] = [];
  const localScopes = crdScopes(items.map((i) => i.object));

  for (const item of items) {
    const o = item.object;
    if (!isRecord(o)) {
      problems.push(`${where(item)}: not an object`);
      continue;
    }
    const meta = isRecord(o.metadata) ? o.metadata : undefined;
    const kind = typeof o.kind === 'string' && o.kind !== '' ? o.kind : undefined;
    const name = meta && typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined;
    const apiVersion = typeof o.apiVersion === 'string' && o.apiVersion !== '' ? o.apiVersion : undefined;
    const who = `${where(item)}: ${kind ?? '<no kind>'}/${name ?? '<no name>'}`;
    // generateName is not enough for a member: GitOps needs a stable name to find the object again. A hook is
    // created anew on each sync, so it may have only generateName, the usual way to write one.
    const generated = !name && meta && typeof meta.generateName === 'string' && meta.generateName !== '';
    const nameOk = name || (generated && kind && isRunHook(o as K8sObject));
    const missing = [!apiVersion && 'apiVersion', !kind && 'kind', !nameOk && 'metadata.name'].filter(Boolean);
    if (missing.length > 0) {
      problems.push(`${who}: ${missing.join(', ')} missing`);
      continue;
    }
    const metaProblem =
      (meta!.namespace !== undefined && typeof meta!.namespace !== 'string'
        ? 'metadata.namespace must be a string'
        : '') ||
      stringMapProblem(meta!, 'labels') ||
      stringMapProblem(meta!, 'annotations');
    if (metaProblem) {
      problems.push(`${who}: ${metaProblem}`);
      continue;
    }

    const obj = structuredClone(o) as K8sObject;
    const { group, version } = parseApiVersion(apiVersion!);
    let namespaced = isNamespaced(apiVersion!, kind!);
    if (namespaced === undefined) namespaced = localScopes.get(`${group}/${version}/${kind}`);
    if (namespaced === undefined) {
      problems.push(`${who}: the cluster has no kind ${kind} in ${apiVersion} and no CRD in this app defines it`);
      continue;
    }
    if (namespaced) {
      if (!obj.metadata.namespace) obj.metadata.namespace = options.defaultNamespace;
    } else {
      delete obj.metadata.namespace;
    }
    try {
      // Every annotation Tether honours is read now, so a bad one fails the render naming its object and file.
      objectSemantics(obj);
    } catch (err) {
      problems.push(`${where(item)}: ${(err as Error).message}`);
      continue;
    }

    if (!name) {
      out.push(obj);
      continue;
    }
    const key = objectKey(obj);
    const first = seen.get(key);
    if (first) {
      problems.push(`${subject(obj)} is defined twice: in ${where(first)} and in ${where(item)}`);
      continue;
    }
    seen.set(key, item);
    out.push(obj);
  }

  if (problems.length > 0) {
    const head = problems.length === 1 ? 'Invalid manifest' : `${problems.length} invalid manifests`;
    throw new TetherError('input', `${head}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return out;
}
