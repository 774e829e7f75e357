// How bump and promote print a plan: `--json` prints the changes array (the Action's `changes` output); otherwise
// one line per change, then skipped files (`warning:` for files that do not parse and invalid current values) and
// images found nowhere on stderr.
import type { EditPlan } from '../shared/src/plan-edits.ts';
import type { CliIO } from './command.ts';

/** Prints a plan's changes (stdout) and its skipped files and unmatched images (stderr). */
export function printPlan(plan: EditPlan, io: CliIO, opts: { json: boolean; dryRun: boolean }): void {
  for (const s of plan.skipped)
    io.err(`${s.warning ? 'warning:' : 'skipped'} ${s.path}${s.location ? ` ${s.location}` : ''}: ${s.reason}`);
  for (const u of plan.unmatched) io.err(`warning: no file uses ${u}`);
  if (opts.json) {
    io.out(JSON.stringify(plan.changes, null, 2));
    return;
  }
  for (const c of plan.changes) {
    const doc = c.document > 0 ? ` (document ${c.document})` : '';
    io.out(`${c.file}${doc} ${c.location}: ${c.old ?? '(none)'} → ${c.new ?? '(removed)'}`);
  }
  const files = plan.edits.length;
  const verb = opts.dryRun ? 'would change' : 'changed';
  io.out(
    plan.changes.length === 0
      ? 'nothing to change'
      : `${verb} ${plan.changes.length} value(s) in ${files} file(s)${opts.dryRun ? ' (dry run: nothing written)' : ''}`,
  );
}
