// `npm run bench`: runs every bench/*.bench.ts (or those whose name contains an argument) and prints their numbers.
// Each bench module exports `name` and `run(report)`; goals are printed beside the figures, never asserted.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a benchmark reports: one line per figure. */
export type Report = (label: string, value: number | string, unit?: string, goal?: string) => void;

/** The shape of a bench/*.bench.ts module. */
export interface BenchModule {
  name: string;
  run(report: Report): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = false;
for (const f of files) {
  const mod = (await import(join(here, f))) as BenchModule;
  console.log(`\n## ${mod.name}`);
  const report: Report = (label, value, unit = '', goal) => {
    const v = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : value;
    console.log(`  ${label.padEnd(48)} ${`${v} ${unit}`.trim().padStart(16)}${goal ? `   (goal: ${goal})` : ''}`);
  };
  try {
    await mod.run(report);
  } catch (err) {
    failed = true;
    console.error(`  failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
process.exitCode = failed ? 1 : 0;
