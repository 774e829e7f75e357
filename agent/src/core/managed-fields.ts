// Who owns a field, read from metadata.managedFields (server-side apply's FieldsV1 sets): a field another manager
// owns, such as the replicas an HPA sets through the scale subresource, is not Tether's to fight over. Self-heal and
// sync do not call these (their server-side dry-run already leaves other managers' fields alone); they serve
// `hasDrift`'s `ignore` filter (core/drift.ts) for callers that compare without a dry-run.
// FieldsV1 format: https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management and
// sigs.k8s.io/structured-merge-diff fieldpath/serialize-pe.go: `f:<name>` a field, `k:<json>` a list item by its
// keys, `v:<json>` a set item by value, `i:<n>` a list item by index, `.` the node itself.
import { TetherError } from '../../../shared/src/errors.ts';
import { isRecord } from '../../../shared/src/is-record.ts';
import type { FieldsV1, K8sObject, ManagedFieldsEntry } from './types.ts';

/** The field manager Tether applies with. */
export const FIELD_MANAGER = 'tether';

/**
 * One step of a field path: a field name; an index into a list of the object the path is read against; a list
 * item by its key fields (`[name=web]`); or a set item by value (`[="finalizer.example.com"]`).
 */
export type PathSegment = string | number | { key: Record<string, unknown> } | { value: unknown };

/** A path to a field, e.g. `['spec', 'template', 'spec', 'containers', {key: {name: 'web'}}, 'image']`. */
export type FieldPath = PathSegment[];

/** Someone who owns a field: a manager with the operation and subresource it wrote through. */
export interface FieldOwner {
  manager: string;
  operation: string;
  subresource?: string;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

function scalar(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const SEGMENT = /\.?([^.[\]]+)|\[([^\]]*)\]/y;

/**
 * Parses `spec.template.spec.containers[name=web].image`, `spec.ports[containerPort=80,protocol=TCP]`,
 * `metadata.finalizers[="a.example.com"]`, `items[0]` and `metadata.labels["app.kubernetes.io/name"]`. Values are
 * read as JSON when they parse (so `80` is a number), as plain strings otherwise.
 */
export function parseFieldPath(text: string): FieldPath {
  const path: FieldPath = [];
  SEGMENT.lastIndex = 0;
  while (SEGMENT.lastIndex < text.length) {
    const at = SEGMENT.lastIndex;
    const m = SEGMENT.exec(text);
    if (!m) throw new TetherError('parse', `field path "${text}": cannot read from position ${at}`);
    if (m[1] !== undefined) {
      path.push(m[1]);
      continue;
    }
    const inner = m[2]!;
    if (/^\d+$/.test(inner)) path.push(Number(inner));
    else if (inner.startsWith('"')) path.push(String(scalar(inner)));
    else if (inner.startsWith('=')) path.push({ value: scalar(inner.slice(1)) });
    else {
      const key: Record<string, unknown> = {};
      for (const part of inner.split(',')) {
        const eq = part.indexOf('=');
        if (eq <= 0) throw new TetherError('parse', `field path "${text}": "[${inner}]" is not [field=value,…]`);
        key[part.slice(0, eq).trim()] = scalar(part.slice(eq + 1).trim());
      }
      path.push({ key });
    }
  }
  return path;
}

/** Formats a path the way `parseFieldPath` reads it. */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string')
      out += /^[^.[\]"]+$/.test(seg) ? (out ? `.${seg}` : seg) : `[${JSON.stringify(seg)}]`;
    else if ('key' in seg) {
      const parts = Object.entries(seg.key).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      out += `[${parts.join(',')}]`;
    } else out += `[=${JSON.stringify(seg.value)}]`;
  }
  return out;
}

/** The FieldsV1 key that a segment stands for in `node`, reading list items from `value` when given by index. */
function childKey(node: FieldsV1, seg: PathSegment, value: unknown): string | undefined {
  if (typeof seg === 'string') return `f:${seg}`;
  let item: unknown;
  let keyFields: Record<string, unknown> | undefined;
  if (typeof seg === 'number') {
    if (`i:${seg}` in node) return `i:${seg}`;
    if (!Array.isArray(value)) return undefined;
    item = value[seg];
    if (item === undefined) return undefined;
  } else if ('key' in seg) keyFields = seg.key;
  else item = seg.value;

  for (const k of Object.keys(node)) {
    if (k.startsWith('k:')) {
      const parsed = scalar(k.slice(2));
      if (!isRecord(parsed)) continue;
      if (keyFields) {
        if (deepEqual(parsed, keyFields)) return k;
      } else if (isRecord(item) && Object.entries(parsed).every(([f, v]) => deepEqual(item[f], v))) return k;
    } else if (k.startsWith('v:') && !keyFields) {
      if (deepEqual(scalar(k.slice(2)), item)) return k;
    }
  }
  return undefined;
}

/** The value one segment down, to resolve later index segments against the live object. */
function step(value: unknown, seg: PathSegment): unknown {
  if (typeof seg === 'string') return isRecord(value) ? value[seg] : undefined;
  if (!Array.isArray(value)) return undefined;
  if (typeof seg === 'number') return value[seg];
  if ('key' in seg) {
    const key = seg.key;
    return value.find((it) => isRecord(it) && Object.entries(key).every(([f, v]) => deepEqual(it[f], v)));
  }
  return value.find((it) => deepEqual(it, seg.value));
}

/**
 * True when a FieldsV1 set contains the path. A leaf (`{}`) above the end of the path owns everything under it: that
 * is how atomic fields (a `command` list, a `granular` map marked atomic) are recorded.
 */
export function fieldSetContains(fields: FieldsV1, path: FieldPath, object?: unknown): boolean {
  let node = fields;
  let value = object;
  for (let i = 0; i < path.length; i++) {
    if (i > 0 && Object.keys(node).length === 0) return true;
    const seg = path[i]!;
    const key = childKey(node, seg, value);
    if (key === undefined || !(key in node)) return false;
    node = node[key]!;
    value = step(value, seg);
  }
  return true;
}

function entries(live: K8sObject): ManagedFieldsEntry[] {
  const mf = live.metadata.managedFields;
  return Array.isArray(mf) ? mf : [];
}

/** Every manager whose field set contains the path in `live` (index segments are read against `live`). */
export function fieldOwners(live: K8sObject, path: FieldPath): FieldOwner[] {
  const owners: FieldOwner[] = [];
  for (const e of entries(live)) {
    if (!e.fieldsV1 || (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1')) continue;
    if (!fieldSetContains(e.fieldsV1, path, live)) continue;
    const owner: FieldOwner = { manager: e.manager ?? '', operation: e.operation ?? '' };
    if (e.subresource) owner.subresource = e.subresource;
    owners.push(owner);
  }
  return owners;
}

/** True when `manager` (default `tether`) owns the field at `path` in `live`. */
export function isOwnedBy(live: K8sObject, path: FieldPath, manager: string = FIELD_MANAGER): boolean {
  return fieldOwners(live, path).some((o) => o.manager === manager);
}

/**
 * True when the field has owners and `manager` is not one of them: the field is another controller's (an HPA's
 * replicas, a mutating webhook's sidecar), so self-heal must leave it alone rather than fight over it.
 */
export function ownedByOthers(live: K8sObject, path: FieldPath, manager: string = FIELD_MANAGER): boolean {
  const owners = fieldOwners(live, path);
  return owners.length > 0 && !owners.some((o) => o.manager === manager);
}

/** The leaf paths of a FieldsV1 set (items as `{key}`/`{value}`/index segments), for messages and tests. */
export function fieldSetPaths(fields: FieldsV1): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (node: FieldsV1, prefix: FieldPath) => {
    const keys = Object.keys(node).filter((k) => k !== '.');
    if (keys.length === 0) {
      if (prefix.length > 0) out.push(prefix);
      return;
    }
    for (const k of keys) {
      const kind = k.slice(0, 2);
      const rest = k.slice(2);
      let seg: PathSegment;
      if (kind === 'f:') seg = rest;
      else if (kind === 'k:') seg = { key: scalar(rest) as Record<string, unknown> };
      else if (kind === 'v:') seg = { value: scalar(rest) };
      else if (kind === 'i:') seg = Number(rest);
      else continue;
      walk(node[k]!, [...prefix, seg]);
    }
  };
  walk(fields, []);
  return out;
}
