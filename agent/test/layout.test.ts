// The agent's rooms, checked: the pure core imports no I/O (no edge, no flow, no Node I/O modules), and the CLI's
// entry and its agent commands do not import each other.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  // Static imports and exports, and dynamic import('…') of a module loaded when it is needed.
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|\bimport\('([^']+)'\)/gm)].map(
    (m) => (m[1] ?? m[2])!,
  );
}

test('agent/src/core imports nothing from edges/, reconcile/ or Node I/O modules', () => {
  // Recursive: the UI's renderers live in core/ui/ and are held to the same rule.
  const files = (readdirSync(join(root, 'agent/src/core'), { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.ts'),
  );
  assert.ok(files.length > 10, `core files found: ${files.length}`);
  const bad = files.flatMap((f) =>
    imports(`agent/src/core/${f}`)
      .filter((i) => /\/(edges|reconcile)\/|^node:(fs|net|http|https|child_process|dns)/.test(i))
      .map((i) => `${f} → ${i}`),
  );
  assert.deepEqual(bad, []);
});

test('outside edges/kube nothing in the agent calls raw() on a Kubernetes client', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.startsWith('agent/src/edges/kube/')) {
        if (/\bkube\w*\.raw\(/i.test(readFileSync(join(root, path), 'utf8'))) offenders.push(path);
      }
    }
  };
  walk('agent/src');
  walk('cli');
  assert.deepEqual(offenders, []);
});

test('cli/main.ts and cli/agent.ts do not import each other (their shared pieces live in cli/command.ts)', () => {
  assert.ok(imports('cli/main.ts').includes('./agent.ts'), 'the entry lists the agent commands');
  assert.ok(!imports('cli/agent.ts').includes('./main.ts'), 'cli/agent.ts imports cli/main.ts');
  assert.ok(imports('cli/agent.ts').includes('./command.ts'));
});
