// After an edit, the new text is parsed again and compared with the old documents node by node: every scalar, key,
// alias and anchor must be the same, except the scalars set, the pairs removed and the pairs inserted on purpose.
import { isAlias, isMap, isPair, isScalar, isSeq, type Pair, parseAllDocuments, type Scalar, type YAMLMap } from 'yaml';
import { TetherError } from './errors.ts';
import { describeYamlError, type ParsedFile, YAML_PARSE_OPTIONS } from './yaml-file.ts';
import { formatYamlPath, type PathSegment } from './yaml-path.ts';

/** What an edit meant to change in the old documents. */
export interface EditIntent {
  /** Old scalar → the string it must read as now. */
  scalars: Map<Scalar, string>;
  /** Old pairs that must be gone. */
  removed: Set<Pair>;
  /** Old map → keys that must now exist in it, with their string values. */
  inserted: Map<YAMLMap, Map<string, string>>;
}

/** An intent that changes nothing. */
export function emptyIntent(): EditIntent {
  return { scalars: new Map(), removed: new Set(), inserted: new Map() };
}

/** Parses `newText` and throws `edit` unless it holds exactly the old data with the intended changes. */
export function verifyEdit(old: ParsedFile, newText: string, intent: EditIntent): void {
  const docs = parseAllDocuments(newText, YAML_PARSE_OPTIONS);
  const list = Array.isArray(docs) ? docs : [];
  const fail = (why: string) =>
    new TetherError('edit', `${old.path}: the edited file does not hold the intended values: ${why}`);
  for (const d of list) if (d.errors.length > 0) throw fail(describeYamlError(old.path, d.errors[0]!));
  if (list.length !== old.docs.length) throw fail(`${old.docs.length} documents became ${list.length}`);
  old.docs.forEach((doc, i) => {
    const mismatch = compare(doc.contents, list[i]!.contents, intent, []);
    if (mismatch) throw fail(`document ${i}: ${mismatch}`);
  });
}

const NO_CHANGE: EditIntent = emptyIntent();

function keyText(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  return typeof key.value === 'symbol' ? '<<' : String(key.value);
}

/** Returns a description of the first difference, or undefined when the trees agree with the intent. */
function compare(a: unknown, b: unknown, intent: EditIntent, path: PathSegment[]): string | undefined {
  const at = () => formatYamlPath(path) || '(root)';
  if (a === null || a === undefined || b === null || b === undefined)
    return (a ?? null) === (b ?? null) ? undefined : `${at()}: a value appeared or vanished`;
  if ((a as { anchor?: string }).anchor !== (b as { anchor?: string }).anchor) return `${at()}: the anchor changed`;
  if (isScalar(a)) {
    if (!isScalar(b)) return `${at()}: a scalar became a collection`;
    const want = intent.scalars.get(a);
    if (want !== undefined) return b.value === want ? undefined : `${at()}: reads ${String(b.value)}, not ${want}`;
    if (a.tag !== b.tag) return `${at()}: the tag changed`;
    if (Object.is(a.value, b.value)) return undefined;
    return typeof a.value === 'symbol' && typeof b.value === 'symbol' ? undefined : `${at()}: the value changed`;
  }
  if (isAlias(a)) return isAlias(b) && a.source === b.source ? undefined : `${at()}: the alias changed`;
  if (isSeq(a)) {
    if (!isSeq(b)) return `${at()}: a list became something else`;
    if (a.items.length !== b.items.length) return `${at()}: the list length changed`;
    for (let i = 0; i < a.items.length; i++) {
      path.push(i);
      const m = compare(a.items[i], b.items[i], intent, path);
      path.pop();
      if (m) return m;
    }
    return undefined;
  }
  if (isMap(a)) {
    if (!isMap(b)) return `${at()}: a map became something else`;
    const kept = intent.removed.size > 0 ? a.items.filter((p) => !intent.removed.has(p)) : a.items;
    const added = new Map(intent.inserted.get(a) ?? []);
    let j = 0;
    for (const pb of b.items) {
      if (!isPair(pb)) return `${at()}: unexpected item`;
      const kb = keyText(pb.key);
      const pa = kept[j];
      if (kb !== undefined && added.has(kb) && (pa === undefined || keyText(pa.key) !== kb)) {
        const v = isScalar(pb.value) ? pb.value.value : undefined;
        if (v !== added.get(kb)) return `${at()}.${kb}: inserted as ${String(v)}, not ${added.get(kb)}`;
        added.delete(kb);
        continue;
      }
      if (pa === undefined) return `${at()}: an unexpected key ${kb ?? '(complex)'} appeared`;
      path.push(keyText(pa.key) ?? '?');
      const m = compare(pa.key, pb.key, NO_CHANGE, path) ?? compare(pa.value, pb.value, intent, path);
      path.pop();
      if (m) return m;
      j++;
    }
    if (j !== kept.length) return `${at()}: a key vanished`;
    if (added.size > 0) return `${at()}: ${[...added.keys()].join(', ')} was not inserted`;
    return undefined;
  }
  return `${at()}: unknown node type`;
}
