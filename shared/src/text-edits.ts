// Byte-preserving edits: a new value replaces exactly the source of one scalar, in the scalar's own quoting style;
// a key is inserted or removed as whole lines (block maps) or as `, key: value` (flow maps). Nothing else moves.
import { type Pair, parse, Scalar, type YAMLMap } from 'yaml';

/** Replace `text.slice(start, end)` with `insert`. Offsets are JS string offsets into the file's text. */
export interface TextEdit {
  start: number;
  end: number;
  insert: string;
}

/** Applies non-overlapping edits; throws if two overlap (a bug in the caller, never user input). */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    if (e.start < at) throw new Error(`overlapping edits at offset ${e.start}`);
    out += text.slice(at, e.start) + e.insert;
    at = e.end;
  }
  return out + text.slice(at);
}

/** How a file writes strings: JSON files always double-quote. */
export interface ScalarContext {
  text: string;
  json: boolean;
}

const PLAIN_SAFE = /^[A-Za-z0-9_./+-][A-Za-z0-9_./@:+-]*$/;

/**
 * True when `value` may be written as a plain scalar and reads back as the same string in YAML 1.2 and in YAML 1.1
 * (go-yaml, which Kubernetes and Helm use, reads `yes`, `0755` and `1_000` as non-strings).
 */
export function isSafePlain(value: string): boolean {
  if (!PLAIN_SAFE.test(value) || value.endsWith(':') || value.startsWith('-')) return false;
  // Only values that could resolve to a number, boolean or null need the (slower) check by parsing.
  if (/^[A-Za-z]+$/.test(value) && value.length > 5) return true;
  return parse(value) === value && parse(value, { version: '1.1' }) === value;
}

/** A double-quoted YAML (and JSON) string. JSON's escapes are all valid YAML escapes. */
export function doubleQuoted(value: string): string {
  return JSON.stringify(value);
}

/**
 * The edit that sets a scalar to `value`, keeping its quoting style: plain stays plain unless it would read back as
 * something else (`1.10`), quoted stays in its quote style, a one-line block scalar keeps its header and indentation.
 * Returns a reason instead when the scalar cannot be rewritten in place.
 */
export function setScalarEdit(node: Scalar, value: string, ctx: ScalarContext): TextEdit | string {
  const [start, end] = node.range!;
  if (ctx.json) return { start, end, insert: doubleQuoted(value) };
  switch (node.type) {
    case Scalar.QUOTE_SINGLE:
      if (/^[\x20-\x7e]*$/.test(value)) return { start, end, insert: `'${value.replace(/'/g, "''")}'` };
      return { start, end, insert: doubleQuoted(value) };
    case Scalar.QUOTE_DOUBLE:
      return { start, end, insert: doubleQuoted(value) };
    case Scalar.BLOCK_FOLDED:
    case Scalar.BLOCK_LITERAL:
      return blockScalarEdit(node, value, ctx.text);
    default: {
      const strTag = node.tag === 'tag:yaml.org,2002:str' || node.tag === '!';
      const plainOk = strTag ? PLAIN_SAFE.test(value) && !value.endsWith(':') : isSafePlain(value);
      let insert = plainOk ? value : doubleQuoted(value);
      // An empty plain value (`tag:`) sits right after the colon; the new one needs a separating space.
      if (start === end && ctx.text[start - 1] === ':') insert = ` ${insert}`;
      return { start, end, insert };
    }
  }
}

/** Rewrites the one content line of a block scalar (`|`/`>`), leaving header, indentation and chomping alone. */
function blockScalarEdit(node: Scalar, value: string, text: string): TextEdit | string {
  const [start, end] = node.range!;
  const source = text.slice(start, end);
  const header = source.indexOf('\n');
  const lines: { from: number; to: number }[] = [];
  let at = header + 1;
  while (at > 0 && at < source.length) {
    const nl = source.indexOf('\n', at);
    const to = nl < 0 ? source.length : nl;
    if (source.slice(at, to).trim() !== '') lines.push({ from: at, to });
    at = nl < 0 ? source.length : nl + 1;
  }
  if (lines.length !== 1 || value.includes('\n')) return 'a block scalar with more than one line is not rewritten';
  const line = lines[0]!;
  const raw = source.slice(line.from, line.to);
  const indent = raw.length - raw.trimStart().length;
  const content = raw.trimStart().replace(/\r$/, '');
  return { start: start + line.from + indent, end: start + line.from + indent + content.length, insert: value };
}

/** The line ending a file uses (CRLF if its first line break is one). */
export function lineEnding(text: string): string {
  const nl = text.indexOf('\n');
  return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
}

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** End of the line holding `offset`, before its `\r\n` or `\n` (or the end of text). */
function lineEndOf(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  if (nl < 0) return text.length;
  return text[nl - 1] === '\r' ? nl - 1 : nl;
}

function isOneLineScalar(node: unknown, text: string): node is Scalar {
  if (!(node instanceof Scalar) || !node.range) return false;
  if (node.type === Scalar.BLOCK_FOLDED || node.type === Scalar.BLOCK_LITERAL) return false;
  return !text.slice(node.range[0], node.range[1]).includes('\n');
}

/**
 * The edit that inserts `key: value` pairs into `map` right after the pair `after`: new lines at the same indentation
 * in a block map, `, key: value` in a flow map (on new lines when the map spans lines). Returns a reason when the
 * layout around `after` is not one it can extend safely.
 */
export function insertPairsEdit(
  map: YAMLMap,
  after: Pair,
  entries: readonly (readonly [string, string])[],
  ctx: ScalarContext,
): TextEdit | string {
  const { text, json } = ctx;
  const keyNode = after.key;
  if (!(keyNode instanceof Scalar) || !keyNode.range) return 'the map has no plain key to insert after';
  if (!isOneLineScalar(after.value, text)) return `the value of "${String(keyNode.value)}" is not a one-line scalar`;
  const valueEnd = after.value.range![1];
  const eol = lineEnding(text);
  const column = keyNode.range[0] - lineStartOf(text, keyNode.range[0]);
  const pairs = entries.map(([key, value]) => {
    const rendered = json ? doubleQuoted(value) : isSafePlain(value) ? value : doubleQuoted(value);
    return `${json ? doubleQuoted(key) : key}: ${rendered}`;
  });
  if (!map.flow) {
    if (lineStartOf(text, valueEnd) !== lineStartOf(text, keyNode.range[0])) return 'the pair spans lines';
    const at = lineEndOf(text, valueEnd);
    return { start: at, end: at, insert: pairs.map((p) => `${eol}${' '.repeat(column)}${p}`).join('') };
  }
  const multiLine = lineStartOf(text, keyNode.range[0]) !== lineStartOf(text, map.range![0]);
  const sep = multiLine ? `,${eol}${' '.repeat(column)}` : ', ';
  return { start: valueEnd, end: valueEnd, insert: pairs.map((p) => `${sep}${p}`).join('') };
}

/**
 * The edit that removes `pair` from `map`: its whole line in a block map (when the key starts the line), or the pair
 * and one separating comma in a flow map. Returns a reason when it cannot be removed without touching other bytes.
 */
export function removePairEdit(map: YAMLMap, pair: Pair, ctx: ScalarContext): TextEdit | string {
  const { text } = ctx;
  const keyNode = pair.key;
  if (!(keyNode instanceof Scalar) || !keyNode.range) return 'the key is not a scalar';
  if (!isOneLineScalar(pair.value, text)) return 'the value is not a one-line scalar';
  if (map.items.length < 2) return 'it is the only key of its map';
  const index = map.items.indexOf(pair);
  const valueEnd = pair.value.range![1];
  if (!map.flow) {
    const lineStart = lineStartOf(text, keyNode.range[0]);
    if (text.slice(lineStart, keyNode.range[0]).trim() !== '') return 'the key does not start its line';
    if (lineStartOf(text, valueEnd) !== lineStart) return 'the pair spans lines';
    const nl = text.indexOf('\n', valueEnd);
    if (nl >= 0) return { start: lineStart, end: nl + 1, insert: '' };
    // The last line of a file without a final newline: take the line break before it instead.
    const prev = lineStart - (text[lineStart - 2] === '\r' ? 2 : 1);
    return { start: Math.max(prev, 0), end: text.length, insert: '' };
  }
  if (index > 0) {
    const before = map.items[index - 1]!;
    const beforeEnd = (before.value as Scalar | null)?.range?.[1] ?? (before.key as Scalar).range?.[1];
    if (beforeEnd === undefined) return 'the previous pair has no source range';
    return { start: beforeEnd, end: valueEnd, insert: '' };
  }
  const next = map.items[index + 1]!;
  const nextStart = (next.key as Scalar).range?.[0];
  if (nextStart === undefined) return 'the next pair has no source range';
  return { start: keyNode.range[0], end: nextStart, insert: '' };
}
