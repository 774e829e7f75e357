import * as core from '@actions/core';
import { describeError } from '../../shared/src/errors.ts';
import { GitHubOps } from './github-ops.ts';
import { envInputReader, type Inputs, parseInputs } from './inputs.ts';
import { createActionOctokit } from './octokit.ts';
import { changeTable } from './pr-text.ts';
import { type ActionResult, runAction } from './run-action.ts';

/** Sets the Action's outputs (as action.yml declares them) from a result. */
export function setOutputs(r: ActionResult): void {
  core.setOutput('changed', String(r.changed));
  core.setOutput(
    'changes',
    JSON.stringify(
      r.changes.map((c) => ({ file: c.file, location: c.location, old: c.old, new: c.new, image: c.image })),
    ),
  );
  core.setOutput('commit-sha', r.commitSha ?? '');
  core.setOutput('pull-request-number', r.pr ? String(r.pr.number) : '');
  core.setOutput('pull-request-url', r.pr?.url ?? '');
  core.setOutput('pull-request-operation', r.operation);
  core.setOutput('pull-request-branch', r.branch ?? '');
}

/** The job summary: what changed, where, and the PR. */
export async function writeSummary(inputs: Inputs, r: ActionResult, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return;
  const s = core.summary.addHeading(`Tether ${inputs.mode}${inputs.dryRun ? ' (dry run)' : ''}`, 3);
  if (r.changes.length) s.addRaw(`${changeTable({ mode: inputs.mode, target: '', changes: r.changes })}\n\n`, true);
  // Only a PR left as it is (only-newer: it proposes newer versions) is unchanged without a change.
  else if (r.pr && r.operation === 'unchanged')
    s.addRaw('No change: the open pull request already proposes newer versions than requested.\n\n', true);
  else s.addRaw('No change: the target already has these versions.\n\n', true);
  if (r.pr) s.addRaw(`Pull request [#${r.pr.number}](${r.pr.url}): **${r.operation}**\n\n`, true);
  else if (r.commitSha)
    s.addRaw(
      `Pushed \`${r.commitSha.slice(0, 7)}\` to \`${r.base}\`${r.retries ? ` after ${r.retries} re-application(s) on a moved base` : ''}.\n\n`,
      true,
    );
  for (const w of r.warnings) s.addRaw(`> [!WARNING]\n> ${w}\n\n`, true);
  // Runners do not give actions GITHUB_TOKEN as a variable; who opened the PR tells instead.
  if (r.operation === 'created' && r.prAuthor === 'github-actions[bot]') {
    s.addRaw(
      "> [!NOTE]\n> This pull request was opened with the workflow's `GITHUB_TOKEN`, so it will not start other workflows " +
        '(required checks included) until someone approves them. To have them run, pass a GitHub App token: ' +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, shown to the user as is
        '`actions/create-github-app-token` → `token: ${{ steps.app.outputs.token }}`.\n\n',
      true,
    );
  }
  await s.write();
}

/** The Action's composition root: reads inputs, masks the token, runs the mode, turns errors into setFailed. */
export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const read = envInputReader(env);
    // Masked before anything, a failing input included, can print it.
    if (read('token')) core.setSecret(read('token'));
    // Every input, each image and glob included, is validated here, before anything is read or written.
    const inputs = parseInputs(read);
    const github = createActionOctokit({
      token: inputs.token,
      baseUrl: inputs.githubApiUrl,
      log: { debug: core.debug, warn: core.warning },
    });
    const result = await runAction(inputs, { github: new GitHubOps(github, inputs.repository), env, info: core.info });
    for (const w of result.warnings) core.warning(w);
    for (const s of result.skipped) core.info(`skipped ${s.path}: ${s.reason}`);
    setOutputs(result);
    await writeSummary(inputs, result, env);
    const pr = result.pr ? ` #${result.pr.number} ${result.pr.url}` : '';
    core.info(`${result.changes.length} value(s) changed; pull request ${result.operation}${pr}`);
  } catch (err) {
    core.setFailed(describeError(err));
  }
}
