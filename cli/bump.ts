// `tether bump`: set images to new versions in a checkout, with the same engine as the Action.

import { parseArgs } from 'node:util';
import { TetherError } from '../shared/src/errors.ts';
import { parseFieldSpec } from '../shared/src/field-spec.ts';
import { parseImageRequest, planEdits } from '../shared/src/plan-edits.ts';
import { checkoutRoot, readCheckout, writeEdits } from './checkout-files.ts';
// From command.ts, not main.ts: main.ts loads this module when the command runs.
import { type Command, commandHelp } from './command.ts';
import { printPlan } from './edit-report.ts';

/** `tether bump --dir <checkout> --image <ref> [--image …] [--path <glob> …] [--field …] [--dry-run] [--json]`. */
export const bumpCommand: Command = {
  ...commandHelp.bump,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        dir: { type: 'string' },
        image: { type: 'string', multiple: true },
        path: { type: 'string', multiple: true },
        field: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    const images = values.image ?? [];
    if (images.length === 0) throw new TetherError('usage', '--image <ref> is required (repeat it for more images)');
    // Validate every reference before reading a single file: a typo fails fast and names the flag.
    parseImageRequest(images, (i) => `--image ${JSON.stringify(images[i])}`);
    const fields = (values.field ?? []).map(parseFieldSpec);
    const root = checkoutRoot(values.dir);
    const checkout = readCheckout(root);
    const plan = planEdits(checkout.files, { images, paths: values.path ?? [], fields });
    plan.skipped.unshift(...checkout.skipped);
    const dryRun = values['dry-run'] === true;
    if (!dryRun) writeEdits(root, plan.edits);
    printPlan(plan, io, { json: values.json === true, dryRun });
    return 0;
  },
};
