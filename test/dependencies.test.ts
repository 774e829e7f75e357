// Every runtime dependency must be used by the code that ships (the Action, the agent, the CLI and what they
// share): a package in `dependencies` that nothing imports still lands in every install and every audit.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

/** The shipped sources: TypeScript under these folders, without tests, fixtures or bundles. */
function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'test', 'fixtures'].includes(e.name) || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(ts|mts|js|mjs)$/.test(e.name) && !/\.test\.ts$/.test(e.name)) yield p;
  }
}

/** The package a bare import specifier names (`@scope/name/sub` → `@scope/name`); undefined for relative/node:. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Import specifiers of one file: static imports and re-exports, side-effect imports, and dynamic import(). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    // `import … from 'x'` and `export … from 'x'`, over several lines; the clause holds no quotes or semicolons.
    /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"\n]+)['"]/gm,
    /^\s*import\s*['"]([^'"\n]+)['"]/gm,
    /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

function usedPackages(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const folder of ['action', 'agent', 'cli', 'shared']) {
    for (const file of sources(join(root, folder))) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const name = packageOf(spec);
        if (name) used.set(name, [...(used.get(name) ?? []), relative(root, file)]);
      }
    }
  }
  return used;
}

test('the import scanner finds static, side-effect, type-only and dynamic imports', () => {
  const text = [
    "import { a } from 'x';",
    'import type { B } from "@s/y/sub";',
    "import {\n  c,\n  d,\n} from 'v';",
    "import 'z';",
    "const m = await import('w');",
    "export * from './local.ts';",
    "import fs from 'node:fs';",
    "const s = read('from') || 'from';",
  ].join('\n');
  assert.deepEqual(importsOf(text).map(packageOf).filter(Boolean).sort(), ['@s/y', 'v', 'w', 'x', 'z']);
});

test('every runtime dependency is imported by a shipped source file', () => {
  const used = usedPackages();
  const unused = Object.keys(pkg.dependencies ?? {}).filter((d) => !used.has(d));
  assert.deepEqual(unused, [], `in dependencies but imported by no file of action/, agent/, cli/ or shared/`);
});

test('every package a shipped source imports is a runtime dependency', () => {
  const missing = [...usedPackages()]
    .filter(([name]) => !(name in (pkg.dependencies ?? {})))
    .map(([name, files]) => `${name} (${files[0]})`);
  assert.deepEqual(missing, [], 'imported by shipped code but not in dependencies');
});
