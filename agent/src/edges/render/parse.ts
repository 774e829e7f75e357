// Reading manifests into objects with the one safe parse (shared/src/yaml-safe.ts): plain files of an app path, or a
// renderer's whole output. Pure computation; parse-worker.ts runs it off the agent's event loop.
import { parseYamlSafe, type YamlBudget, yamlBudget } from '../../../../shared/src/yaml-safe.ts';
import type { SourcedObject } from '../../core/types.ts';

const MANIFEST = /\.(ya?ml|json)$/i;

/**
 * Parses plain YAML/JSON manifests: every `.yaml`/`.yml`/`.json` file, recursively, in path order, every document.
 * Documents that are empty or not Kubernetes objects at all (no apiVersion and no kind) are skipped; a file that
 * does not parse, or breaks a limit (size, documents, alias expansion, all files together), is an error naming it.
 */
export function parseManifests(
  files: readonly { path: string; text: string | Uint8Array }[],
  budget: YamlBudget = yamlBudget(),
  /** Called before each file is parsed, with its index in `files` (the worker records which file it is on). */
  onFile: (index: number) => void = () => {},
): SourcedObject[] {
  return files.flatMap((f, index) => {
    if (!MANIFEST.test(f.path)) return [];
    onFile(index);
    return parseDocuments(f.text, f.path, { budget });
  });
}

/**
 * Every object of a multi-document YAML (or JSON) text, within the limits of `budget`; `file` names it in errors.
 * `kind: List` is unrolled.
 */
export function parseDocuments(
  text: string | Uint8Array,
  file: string,
  options: { budget?: YamlBudget; maxFileBytes?: number } = {},
): SourcedObject[] {
  const out: SourcedObject[] = [];
  const docs = parseYamlSafe(text, file, { ...options, code: 'render' });
  docs.forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    if (typeof doc === 'object' && !Array.isArray(doc)) {
      const o = doc as Record<string, unknown>;
      if (o.kind === 'List' && Array.isArray(o.items)) {
        for (const item of o.items) out.push({ object: item, file, index });
        return;
      }
      if (!('apiVersion' in o) && !('kind' in o)) return;
    }
    out.push({ object: doc, file, index });
  });
  return out;
}
