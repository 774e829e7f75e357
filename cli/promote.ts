// `tether promote`: copy the image versions of one environment onto the same images in another.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TetherError } from '../shared/src/errors.ts';
import { parseFieldSpec } from '../shared/src/field-spec.ts';
import { planPromotion } from '../shared/src/promote.ts';
import { checkoutRoot, readCheckout, writeEdits } from './checkout-files.ts';
// From command.ts, not main.ts: main.ts loads this module when the command runs.
import { type Command, commandHelp } from './command.ts';
import { printPlan } from './edit-report.ts';

/** `tether promote --dir <checkout> --from <env path> --to <env path> [--field …] [--dry-run] [--json]`. */
export const promoteCommand: Command = {
  ...commandHelp.promote,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        dir: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        field: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    const root = checkoutRoot(values.dir);
    const from = envPath(root, 'from', values.from);
    const to = envPath(root, 'to', values.to);
    if (from === to) throw new TetherError('usage', '--from and --to name the same path');
    const fields = (values.field ?? []).map(parseFieldSpec);
    const checkout = readCheckout(root);
    const plan = planPromotion(checkout.files, checkout.files, { sourcePaths: [from], targetPaths: [to], fields });
    plan.skipped.unshift(...checkout.skipped);
    const dryRun = values['dry-run'] === true;
    if (!dryRun) writeEdits(root, plan.edits);
    printPlan(plan, io, { json: values.json === true, dryRun });
    return 0;
  },
};

/** A path inside the checkout, '/'-separated and without `./` or a trailing slash; missing is bad usage. */
function envPath(root: string, flag: string, value: string | undefined): string {
  if (!value) throw new TetherError('usage', `--${flag} <env path> is required`);
  const clean = value
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  if (clean === '' || clean.split('/').includes('..'))
    throw new TetherError('usage', `--${flag} "${value}" must be a path inside the checkout`);
  if (!existsSync(join(root, clean))) throw new TetherError('usage', `--${flag} "${value}" does not exist in ${root}`);
  return clean;
}
