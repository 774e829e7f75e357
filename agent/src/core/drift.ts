// Drift and diff. Drift is decided the way fluxcd/pkg/ssa does (manager_apply.go `hasDrifted`): the
// server-side dry-run apply result is compared with the live object, leaving out metadata the server maintains and
// status. The diff renders both as YAML and diffs the lines, for `tether diff` and sync messages.
import { diffArrays } from 'diff';
import { stringify } from 'yaml';
import { isRecord } from '../../../shared/src/is-record.ts';
import type { FieldPath } from './managed-fields.ts';
import { subject } from './objects.ts';
import type { K8sObject } from './types.ts';

/** Metadata fields the server maintains; they differ between any two reads and say nothing about drift. */
export const NOISY_METADATA_FIELDS: readonly string[] = [
  'managedFields',
  'resourceVersion',
  'generation',
  'uid',
  'creationTimestamp',
  'selfLink',
];

/** Annotations written by controllers and kubectl, not by the manifests in Git. */
export const NOISY_ANNOTATIONS: readonly string[] = [
  'deployment.kubernetes.io/revision',
  'kubectl.kubernetes.io/last-applied-configuration',
];

/** A copy of the object without status, server-maintained metadata and noisy annotations. */
export function normalizeForDiff(obj: K8sObject): K8sObject {
  const copy = structuredClone(obj);
  delete copy.status;
  for (const f of NOISY_METADATA_FIELDS) delete copy.metadata[f];
  const ann = copy.metadata.annotations;
  if (ann) {
    for (const a of NOISY_ANNOTATIONS) delete ann[a];
    if (Object.keys(ann).length === 0) delete copy.metadata.annotations;
  }
  if (copy.metadata.labels && Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  return copy;
}

/** The paths (with list indexes) where two JSON values differ; a list whose length changed is one path. */
export function differingPaths(a: unknown, b: unknown, prefix: FieldPath = []): FieldPath[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingPaths(a[k], b[k], [...prefix, k]));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((x, i) => differingPaths(x, b[i], [...prefix, i]));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/**
 * Where the dry-run result differs from the live object, after `normalizeForDiff`. List indexes refer to `live`'s
 * lists (lists of equal length are compared item by item), so each path can be given to `fieldOwners(live, path)`.
 */
export function driftPaths(dryRun: K8sObject, live: K8sObject): FieldPath[] {
  return differingPaths(normalizeForDiff(live), normalizeForDiff(dryRun));
}

/** Options of `hasDrift`. */
export interface DriftOptions {
  /** Differences at paths for which this returns true do not count, e.g. `(p) => ownedByOthers(live, p)`. */
  ignore?: (path: FieldPath) => boolean;
}

/** Defaults of `hasDrift`: every difference counts. */
export function defaultDriftOptions(): DriftOptions {
  return {};
}

/**
 * True when applying would change the object: it does not exist (`live` undefined, or a dry-run result without a
 * resourceVersion, which is how the server answers a dry-run create), or the dry-run result differs from live in
 * labels, annotations or anything outside metadata and status.
 */
export function hasDrift(
  dryRun: K8sObject,
  live: K8sObject | undefined,
  options: DriftOptions = defaultDriftOptions(),
): boolean {
  if (!live || !dryRun.metadata.resourceVersion) return true;
  const paths = driftPaths(dryRun, live);
  const { ignore } = options;
  return ignore ? paths.some((p) => !ignore(p)) : paths.length > 0;
}

/** Options of `diff`. */
export interface DiffOptions {
  /** Lines of unchanged context around each change. */
  context: number;
  /** Header names of the two sides. */
  fromLabel: string;
  toLabel: string;
  /** Replace Secret `data`/`stringData` values by a mask that still shows which keys changed. */
  maskSecrets: boolean;
}

/** Defaults of `diff`: 3 lines of context, `live` → `desired`, Secrets masked. */
export function defaultDiffOptions(): DiffOptions {
  return { context: 3, fromLabel: 'live', toLabel: 'desired', maskSecrets: true };
}

const MASK = '<redacted>';
const MASK_CHANGED = '<redacted, changed>';

function maskSecretPair(from: K8sObject | undefined, to: K8sObject | undefined): void {
  // Like fluxcd/pkg/ssa MaskSecret: values never reach a log, but a changed value still shows as a changed line.
  for (const field of ['data', 'stringData']) {
    const a = from && isRecord(from[field]) ? (from[field] as Record<string, unknown>) : undefined;
    const b = to && isRecord(to[field]) ? (to[field] as Record<string, unknown>) : undefined;
    const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
    for (const k of keys) {
      const changed = a && b && k in a && k in b && a[k] !== b[k];
      if (a && k in a) a[k] = MASK;
      if (b && k in b) b[k] = changed ? MASK_CHANGED : MASK;
    }
  }
}

function isSecret(o: K8sObject | undefined): boolean {
  return o !== undefined && o.kind === 'Secret' && o.apiVersion === 'v1';
}

/** An object as YAML lines, keys sorted so that key order never shows up as a change. */
function yamlLines(obj: K8sObject | undefined): string[] {
  if (!obj) return [];
  const text = stringify(obj, { sortMapEntries: true, lineWidth: 0 });
  return text.replace(/\n$/, '').split('\n');
}

/**
 * A unified diff of two objects as YAML (from `live` to `desired` by default), after `normalizeForDiff`; either side
 * may be missing (create or prune). Returns '' when there is no difference.
 */
export function diff(
  from: K8sObject | undefined,
  to: K8sObject | undefined,
  options: Partial<DiffOptions> = {},
): string {
  const opts = { ...defaultDiffOptions(), ...options };
  const a = from && normalizeForDiff(from);
  const b = to && normalizeForDiff(to);
  if (opts.maskSecrets && (isSecret(a) || isSecret(b))) maskSecretPair(a, b);
  const body = diffLines(yamlLines(a), yamlLines(b), opts.context);
  if (body === '') return '';
  const name = (to ?? from) as K8sObject;
  return `--- ${opts.fromLabel} ${subject(name)}\n+++ ${opts.toLabel} ${subject(name)}\n${body}`;
}

/**
 * Beyond this many edits the search for a minimal script is abandoned (jsdiff's Myers search grows with the square
 * of the edit distance): a huge object rewritten wholesale shows its changed middle as removed, then added.
 */
const MAX_EDIT_LENGTH = 2000;

type Op = { op: ' ' | '-' | '+'; line: string };

/**
 * The edit script between two line arrays: common prefix and suffix trimmed, the middle by jsdiff's `diffArrays`
 * (Myers' algorithm: a shortest edit script, so the kept lines are a longest common subsequence). Removed lines
 * come before the added lines that replace them, as `diff -u` prints them.
 */
export function editScript(a: readonly string[], b: readonly string[]): Op[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: Op[] = a.slice(0, start).map((line) => ({ op: ' ', line }));
  const changes = diffArrays(a.slice(start, endA), b.slice(start, endB), { maxEditLength: MAX_EDIT_LENGTH });
  if (changes === undefined) {
    for (let k = start; k < endA; k++) ops.push({ op: '-', line: a[k]! });
    for (let k = start; k < endB; k++) ops.push({ op: '+', line: b[k]! });
  } else {
    for (const c of changes) {
      const op = c.removed ? '-' : c.added ? '+' : ' ';
      for (const line of c.value) ops.push({ op, line });
    }
  }
  for (let k = endA; k < a.length; k++) ops.push({ op: ' ', line: a[k]! });
  return ops;
}

/** Unified-diff hunks (`@@ -l,s +l,s @@`) between two line arrays; '' when they are equal. */
export function diffLines(a: readonly string[], b: readonly string[], context = 3): string {
  const ops = editScript(a, b);
  const changed = ops.map((o, idx) => (o.op !== ' ' ? idx : -1)).filter((idx) => idx >= 0);
  if (changed.length === 0) return '';
  // Group changes whose context windows touch into one hunk.
  const ranges: Array<[number, number]> = [];
  for (const idx of changed) {
    const lo = Math.max(0, idx - context);
    const hi = Math.min(ops.length - 1, idx + context);
    const last = ranges[ranges.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else ranges.push([lo, hi]);
  }
  // Line numbers of each op in a and b (1-based position of the next line on each side).
  const posA: number[] = [];
  const posB: number[] = [];
  let la = 1;
  let lb = 1;
  for (const o of ops) {
    posA.push(la);
    posB.push(lb);
    if (o.op !== '+') la++;
    if (o.op !== '-') lb++;
  }
  const out: string[] = [];
  for (const [lo, hi] of ranges) {
    const slice = ops.slice(lo, hi + 1);
    const countA = slice.filter((o) => o.op !== '+').length;
    const countB = slice.filter((o) => o.op !== '-').length;
    // As in GNU diff, an empty side is numbered by the line before it.
    const startA = countA === 0 ? posA[lo]! - 1 : posA[lo]!;
    const startB = countB === 0 ? posB[lo]! - 1 : posB[lo]!;
    out.push(`@@ -${startA},${countA} +${startB},${countB} @@`);
    for (const o of slice) out.push(`${o.op}${o.line}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Fields whose drift is neither reported nor healed, per group/kind (optionally one name and namespace): Argo CD's
 * `ignoreDifferences` with JSON pointers (RFC 6901), for fields a mutating webhook or another controller sets that
 * server-side apply ownership does not cover.
 */
export interface IgnoreDifference {
  /** API group, `''` for the core group. */
  group: string;
  kind: string;
  name?: string;
  namespace?: string;
  /** RFC 6901 pointers such as `/spec/replicas` or `/metadata/annotations/example.com~1stamp`. */
  jsonPointers: string[];
}

/** Splits an RFC 6901 JSON pointer into its reference tokens (`~1` is `/`, `~0` is `~`); `''` is the whole object. */
export function parseJsonPointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON pointer (it must start with /)`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The pointers of the rules that match `obj`, parsed. */
function pointersFor(rules: readonly IgnoreDifference[], obj: K8sObject): string[][] {
  const slash = obj.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : obj.apiVersion.slice(0, slash);
  return rules
    .filter(
      (r) =>
        r.group === group &&
        r.kind === obj.kind &&
        (r.name === undefined || r.name === obj.metadata.name) &&
        (r.namespace === undefined || r.namespace === obj.metadata.namespace),
    )
    .flatMap((r) => r.jsonPointers.map(parseJsonPointer));
}

/** For `hasDrift`'s `ignore`: true for paths at or below an ignored pointer of `obj`; undefined when none applies. */
export function ignoredPaths(
  rules: readonly IgnoreDifference[],
  obj: K8sObject,
): ((path: FieldPath) => boolean) | undefined {
  const pointers = pointersFor(rules, obj);
  if (pointers.length === 0) return undefined;
  return (path) => pointers.some((p) => p.length <= path.length && p.every((t, i) => t === String(path[i])));
}

function getAt(root: unknown, tokens: readonly string[]): { found: boolean; value?: unknown } {
  let cur: unknown = root;
  for (const t of tokens) {
    if (Array.isArray(cur) && /^\d+$/.test(t) && Number(t) < cur.length) cur = cur[Number(t)];
    else if (isRecord(cur) && t in cur) cur = cur[t];
    else return { found: false };
  }
  return { found: true, value: cur };
}

/**
 * A copy of `desired` holding the live value at every ignored pointer the live object has (Argo CD's
 * `RespectIgnoreDifferences`), so an apply that other drift causes does not reset those fields either. Pointers the
 * live object lacks, or whose parent `desired` lacks, are left as Git has them.
 */
export function keepLiveAt(rules: readonly IgnoreDifference[], desired: K8sObject, live: K8sObject): K8sObject {
  const pointers = pointersFor(rules, desired);
  if (pointers.length === 0) return desired;
  const copy = structuredClone(desired);
  for (const tokens of pointers) {
    if (tokens.length === 0) continue;
    const liveValue = getAt(live, tokens);
    const parent = getAt(copy, tokens.slice(0, -1));
    if (!liveValue.found || !parent.found) continue;
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent.value) && /^\d+$/.test(last))
      parent.value[Number(last)] = structuredClone(liveValue.value);
    else if (isRecord(parent.value)) parent.value[last] = structuredClone(liveValue.value);
  }
  return copy;
}
