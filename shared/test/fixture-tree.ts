// Test helper: loads a fixture tree as the files planEdits reads, and applies line-ending/BOM variants to it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileText } from '../src/file-text.ts';

/** The absolute path of shared/test/fixtures/<name>. */
export function fixturePath(...parts: string[]): string {
  return join(fileURLToPath(new URL('./fixtures/', import.meta.url)), ...parts);
}

/** Every file under a fixture directory, with '/'-separated paths relative to it, sorted. */
export function loadTree(dir: string): FileText[] {
  const out: FileText[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else out.push({ path: relative(dir, abs).split(sep).join('/'), text: readFileSync(abs, 'utf8') });
    }
  };
  walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** A way of writing the same file: CRLF line endings, a BOM, no final newline, or combinations. */
export interface Variant {
  name: string;
  apply(text: string): string;
}

/** The variants every fixture is edited in; an edit must commute with each. */
export const variants: Variant[] = [
  { name: 'as written', apply: (t) => t },
  { name: 'CRLF', apply: (t) => t.replace(/\n/g, '\r\n') },
  { name: 'BOM', apply: (t) => `\uFEFF${t}` },
  { name: 'BOM + CRLF', apply: (t) => `\uFEFF${t.replace(/\n/g, '\r\n')}` },
  { name: 'no final newline', apply: (t) => t.replace(/\n$/, '') },
  // Not on every line: trailing spaces inside a block scalar are part of its value.
  { name: 'trailing whitespace', apply: (t) => t.replace(/(#[^\n]*|^)\n/gm, '$1   \n') },
];
