// The one way Tether reads YAML into plain values — manifests, the agent's configuration, kubeconfigs — with the
// limits the editor has: file size, document count and alias expansion, plus a budget across the files of one
// render. Every refusal names the file.
//
// Why js-yaml here and `yaml` in the editor: the editor needs `yaml`'s source ranges to change bytes in place;
// these readers need only values, and js-yaml builds them 3.7–4.8× faster. Measured on this repository's 2-core
// machine, 3,000 Deployments in one 1.8 MB stream, median of 7: js-yaml `loadAll` 2.8 s; `yaml`
// `parseAllDocuments` + `toJS` 13.4 s; `yaml` Parser + Composer streaming + `toJS` 10.4 s (the machine was shared
// and loaded, so absolute times are high; the ratio held across runs). The agent parses its render on every sync.
//
// js-yaml resolves an alias to the same object rather than a copy, so an alias bomb costs little to parse but
// explodes when serialized; the expansion is therefore counted on the parsed values, memoized per object.
import { CORE_SCHEMA, loadAll, mergeTag } from 'js-yaml';
import { TetherError, type TetherErrorCode } from './errors.ts';
import { DEFAULT_MAX_FILE_BYTES } from './file-text.ts';
import { defaultParseLimits } from './parse-limits.ts';

/** Limits on what one parse, and one budget of parses, may read. */
export interface YamlLimits {
  /** A single file (or renderer output) larger than this is refused. */
  maxFileBytes: number;
  /** All the files charged to one budget (one render) together may not exceed this. */
  maxTotalBytes: number;
  /** Documents in one budget, counted before parsing. */
  maxDocuments: number;
  /** A document whose aliases would expand to more nodes than this is refused (billion laughs). */
  maxExpandedNodes: number;
}

/**
 * The defaults: the editor's file size and alias limits; 64 MiB in all (a renderer's output limit); 10,000
 * documents (an ApplySet parent listing that many members is near the apiserver's 1.5 MiB object limit).
 */
export function defaultYamlLimits(): YamlLimits {
  return {
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    maxTotalBytes: 64 * 1024 * 1024,
    maxDocuments: 10_000,
    maxExpandedNodes: defaultParseLimits().maxExpandedNodes,
  };
}

/** What the parses sharing one budget have used so far. */
export interface YamlBudget {
  readonly limits: YamlLimits;
  bytes: number;
  documents: number;
}

/** A fresh budget for the files of one render (or one configuration file). */
export function yamlBudget(limits: YamlLimits = defaultYamlLimits()): YamlBudget {
  return { limits, bytes: 0, documents: 0 };
}

/** Options of a parse: the budget it is charged to, and the error code its refusals carry. */
export interface SafeParseOptions {
  budget?: YamlBudget;
  /** `parse` unless told (`render` for manifests, `config` for configuration). */
  code?: TetherErrorCode;
  /** Raise the single-file limit for this parse (a renderer's whole output is one stream). */
  maxFileBytes?: number;
}

// YAML 1.2's core schema plus merge keys (`<<`), which Kubernetes' own YAML reader (go-yaml) honours and the editor
// reads too.
const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

// A line that starts a new document: `---` at column 0, then a space or the end of the line.
const DOC_START = /^---(?:[ \t]|$)/gm;

/** Every document of a YAML (or JSON) stream as plain values (`null` for an empty document), within the limits. */
export function parseYamlSafe(input: string | Uint8Array, file: string, options: SafeParseOptions = {}): unknown[] {
  const budget = options.budget ?? yamlBudget();
  const { limits } = budget;
  const code = options.code ?? 'parse';
  const refuse = (why: string) => new TetherError(code, `${file}: ${why}`);
  const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  const maxFile = options.maxFileBytes ?? limits.maxFileBytes;
  if (bytes > maxFile) throw refuse(`${bytes} bytes is more than the ${maxFile} a file may have`);
  budget.bytes += bytes;
  if (budget.bytes > limits.maxTotalBytes) {
    throw refuse(`the files read together exceed ${limits.maxTotalBytes} bytes (${budget.bytes} so far)`);
  }
  const text = typeof input === 'string' ? input : decodeUtf8(input, refuse);
  // Count document markers before parsing, so a stream of 200,000 tiny documents is refused without building them.
  const markers = text.match(DOC_START)?.length ?? 0;
  if (budget.documents + markers > limits.maxDocuments) {
    throw refuse(`more than ${limits.maxDocuments} documents${budget.documents ? ' in all' : ''} (${markers} here)`);
  }
  let docs: unknown[];
  try {
    docs = loadAll(text, null, { filename: file, schema: SCHEMA });
  } catch (err) {
    // The parser's message goes on with a snippet of the lines around the error: the first line names the problem
    // and where it is, and nothing of the file is quoted (a kubeconfig's token, a Secret's values). For the same
    // reason the parser's error is not kept as the cause, whose whole message a log line would print.
    throw new TetherError(code, `${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const before = budget.documents;
  budget.documents += docs.length;
  if (budget.documents > limits.maxDocuments) {
    throw refuse(`more than ${limits.maxDocuments} documents${before ? ' in all' : ''} (${docs.length} here)`);
  }
  docs.forEach((doc, index) => {
    checkExpansion(doc, limits.maxExpandedNodes, (why) => refuse(`document ${index + 1}: ${why}`));
  });
  return docs;
}

/** The single document of a configuration file (`undefined` when the file is empty); more than one is an error. */
export function parseYamlSafeOne(input: string | Uint8Array, file: string, options: SafeParseOptions = {}): unknown {
  const docs = parseYamlSafe(input, file, options);
  if (docs.length > 1)
    throw new TetherError(options.code ?? 'parse', `${file}: expected one YAML document, found ${docs.length}`);
  return docs[0] ?? undefined;
}

function decodeUtf8(bytes: Uint8Array, refuse: (why: string) => Error): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw refuse('not valid UTF-8');
  }
}

/**
 * Refuses a value whose expansion (every alias copied out, as JSON would write it) has more than `max` nodes, or
 * that contains itself. Linear in the distinct objects: sizes are memoized by identity.
 */
function checkExpansion(value: unknown, max: number, refuse: (why: string) => Error): void {
  const sizes = new Map<object, number>();
  const active = new Set<object>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known !== undefined) return known;
    if (active.has(v)) throw refuse('an alias refers to a node that contains it');
    active.add(v);
    let n = 1;
    // A map entry is two nodes, its key and its value, as the editor counts them.
    const children = Array.isArray(v) ? v : v instanceof Date ? [] : Object.values(v);
    const perChild = Array.isArray(v) ? 0 : 1;
    for (const child of children) {
      n += perChild + size(child);
      if (n > max) throw refuse(`aliases expand to more than ${max} nodes (an alias bomb); refusing to expand it`);
    }
    active.delete(v);
    sizes.set(v, n);
    return n;
  };
  size(value);
}
