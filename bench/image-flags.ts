// The node flags and environment of the shipped command, read from the image's ENTRYPOINT and ENV lines (Dockerfile),
// so that the benches run the agent exactly as the image does and a setting changed there is measured here without a
// second copy to keep in step.
import { readFileSync } from 'node:fs';

/** The flags between `node` and the bundle in the Dockerfile's ENTRYPOINT, e.g. `['--max-semi-space-size=1']`. */
export function imageNodeFlags(dockerfile = new URL('../Dockerfile', import.meta.url)): string[] {
  const text = readFileSync(dockerfile, 'utf8');
  const m = /^ENTRYPOINT (\[.*\])\s*$/m.exec(text);
  if (!m) throw new Error('Dockerfile: no ENTRYPOINT in exec form');
  const argv = JSON.parse(m[1]!) as string[];
  const bundle = argv.findIndex((a) => a.endsWith('/tether.mjs'));
  if (argv[0] !== 'node' || bundle < 0) throw new Error(`Dockerfile: ENTRYPOINT is not node … tether.mjs: ${m[1]}`);
  return argv.slice(1, bundle);
}

/** The `ENV NAME=value` settings of the Dockerfile's final stage, e.g. `{ NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' }`. */
export function imageEnv(dockerfile = new URL('../Dockerfile', import.meta.url)): Record<string, string> {
  const text = readFileSync(dockerfile, 'utf8');
  const final = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const m of final.matchAll(/^ENV ([A-Z_][A-Z0-9_]*)=(\S+)\s*$/gm)) env[m[1]!] = m[2]!;
  return env;
}
