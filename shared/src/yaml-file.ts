// Parsing YAML and JSON files for editing: every document with source ranges, errors named `file:line:col`, and
// alias bombs refused before anything walks them.
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node, parseAllDocuments } from 'yaml';
import { TetherError } from './errors.ts';
import { defaultParseLimits, type ParseLimits } from './parse-limits.ts';

export { defaultParseLimits, type ParseLimits };

/** A file parsed for editing: its text and every document in it. */
export interface ParsedFile {
  path: string;
  text: string;
  /** True for `.json` files: new strings are written as JSON. */
  json: boolean;
  docs: Document.Parsed[];
}

/**
 * The options every parse of a file uses, so that the scan and the post-edit verification read YAML alike. Merge
 * keys (`<<`) are on because Kubernetes' YAML reader (go-yaml) honours them.
 */
export const YAML_PARSE_OPTIONS = { merge: true, keepSourceTokens: false } as const;

/** True for the file names the editor reads: `*.yaml`, `*.yml`, `*.json` and kustomize's bare `Kustomization`. */
export function isYamlOrJsonPath(path: string): boolean {
  return /\.(ya?ml|json)$/i.test(path) || /(^|\/)Kustomization$/.test(path);
}

/** Parses every document of a file; throws `parse` naming `file:line:col` for the first error of each document. */
export function parseYamlFile(path: string, text: string, limits: ParseLimits = defaultParseLimits()): ParsedFile {
  const docs = parseAllDocuments(text, YAML_PARSE_OPTIONS);
  // An empty stream is not an array of documents; it has no content and nothing to edit.
  const list = Array.isArray(docs) ? docs : [];
  const problems: string[] = [];
  for (const doc of list) {
    for (const e of doc.errors) problems.push(describeYamlError(path, e));
  }
  if (problems.length > 0) throw new TetherError('parse', problems.slice(0, 5).join('\n'));
  for (const doc of list) checkAliasExpansion(path, text, doc, limits);
  return { path, text, json: /\.json$/i.test(path), docs: list };
}

/** `file:line:col: message` for a yaml library error, without the library's own `at line…` suffix and excerpt. */
export function describeYamlError(
  path: string,
  e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] | undefined },
): string {
  const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const pos = e.linePos?.[0];
  return pos ? `${path}:${pos.line}:${pos.col}: ${first}` : `${path}: ${first}`;
}

/** 1-based line and column of a string offset, for messages. */
export function lineColAt(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `${line}:${offset - start + 1}`;
}

/**
 * Refuses a document whose aliases would expand beyond the limit, or that refers to an ancestor of itself. Sizes are
 * memoized per node, so the check is linear in the document even when the expansion is exponential.
 */
function checkAliasExpansion(path: string, text: string, doc: Document.Parsed, limits: ParseLimits): void {
  if (!hasAlias(doc.contents)) return;
  const sizes = new Map<Node, number>();
  const active = new Set<Node>();
  const refuse = (node: Node, why: string) =>
    new TetherError('parse', `${path}:${lineColAt(text, node.range?.[0] ?? 0)}: ${why}; refusing to expand it`);
  const size = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) return 1;
      if (active.has(target)) throw refuse(node, `alias *${node.source} refers to a node that contains it`);
      return size(target);
    }
    if (!isMap(node) && !isSeq(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    active.add(node);
    let n = 1;
    for (const item of node.items) {
      n += isPair(item) ? size(item.key) + size(item.value) : size(item);
      if (n > limits.maxExpandedNodes)
        throw refuse(node, `aliases expand to more than ${limits.maxExpandedNodes} nodes (an alias bomb)`);
    }
    active.delete(node);
    sizes.set(node, n);
    return n;
  };
  size(doc.contents);
}

function hasAlias(node: unknown): boolean {
  if (isAlias(node)) return true;
  if (isMap(node)) return node.items.some((p) => hasAlias(p.key) || hasAlias(p.value));
  if (isSeq(node)) return node.items.some(hasAlias);
  return false;
}

/** The scalar an alias points at, or the node itself; undefined for anything that is not a scalar. */
export function scalarOf(node: unknown, doc: Document.Parsed): import('yaml').Scalar | undefined {
  const target = isAlias(node) ? node.resolve(doc) : node;
  return isScalar(target) ? target : undefined;
}
