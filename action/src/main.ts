import * as core from '@actions/core';
import { describeError, TetherError } from '../../shared/src/errors.ts';
import { envInputReader, parseInputs } from './inputs.ts';

/** The Action's composition root: reads inputs, masks the token, runs the mode, turns errors into setFailed. */
export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const inputs = parseInputs(envInputReader(env));
    core.setSecret(inputs.token);
    throw new TetherError('usage', `mode '${inputs.mode}' is not implemented in this version yet`);
  } catch (err) {
    core.setFailed(describeError(err));
  }
}
