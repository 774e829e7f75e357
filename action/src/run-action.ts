// One run of the Action: read the environment repo, plan (plan.ts), then either push to the base (push.ts) or bring
// the change key's pull request in line (pull-request.ts). Nothing is written in dry-run.
import { EnvRepo } from '../../shared/src/env-repo.ts';
import type { Change, EditPlan } from '../../shared/src/plan-edits.ts';
import { changeBranch } from './change-key.ts';
import { apiWriter, gitWriter } from './commit-writer.ts';
import { type GitRetryOptions, withGitRetries } from './git-retry.ts';
import type { GitHubOps, OpenPr } from './github-ops.ts';
import { envLabel, type Inputs } from './inputs.ts';
import { gateRefusal, newerInPullRequest, type Planned, planBump, planRestore, under } from './plan.ts';
import { type ChangeSummary, defaultCommitMessage, defaultTitle, type Evidence, prBody, runLink } from './pr-text.ts';
import { type PrOperation, syncPullRequest } from './pull-request.ts';
import { type PushOptions, pushDirect } from './push.ts';
import { pickQualifying } from './status-gate.ts';

/** What a run did, as data: outputs, logs and the job summary are derived from it. */
export interface ActionResult {
  changed: boolean;
  changes: Change[];
  commitSha?: string;
  operation: PrOperation;
  pr?: { number: number; url: string };
  branch?: string;
  base: string;
  title: string;
  body: string;
  evidence?: Evidence;
  warnings: string[];
  /** Requested images found nowhere, and files skipped with a reason. */
  unmatched: string[];
  skipped: { path: string; reason: string }[];
  /** Direct push: how many times a moved base was re-read and the edit re-applied. */
  retries: number;
  bytesFetched: number;
  /** Login that opened the PR (`github-actions[bot]` means the workflow's GITHUB_TOKEN). */
  prAuthor?: string;
}

/** The edges the run is given. */
export interface ActionDeps {
  github: GitHubOps;
  env: NodeJS.ProcessEnv;
  info: (message: string) => void;
  /** Sleep between direct-push retries (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
  push?: Partial<PushOptions>;
  gitRetry?: Partial<GitRetryOptions>;
}

/** The environment repo's reads, each fetch retried on transient failures. */
function retryingFetches(env: EnvRepo, deps: ActionDeps) {
  const o = { onRetry: deps.info, ...deps.gitRetry };
  return {
    fetchBranch: (branch: string) => withGitRetries(`fetch ${branch}`, () => env.fetchBranch(branch), o),
    ensureCommit: (sha: string, branch: string) =>
      withGitRetries(
        `fetch the history of ${branch} down to ${sha.slice(0, 7)}`,
        () => env.ensureCommit(sha, branch),
        o,
      ),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `skipped: <file> already at <newer>` for each value only-newer kept, once per file and version. */
function keptNewer(plan: EditPlan): string[] {
  return [...new Set(plan.skipped.filter((s) => s.kept).map((s) => `skipped: ${s.path} already at ${s.kept}`))];
}

/** Reads what the mode needs from the environment repo and GitHub, and plans. */
async function readAndPlan(
  inputs: Inputs,
  deps: ActionDeps,
  env: EnvRepo,
  base: string,
  baseSha: string,
): Promise<Planned> {
  if (inputs.mode === 'bump') {
    const read = await env.readFiles(baseSha, inputs.paths.matches);
    const planned = planBump(read.files, {
      images: inputs.images,
      paths: inputs.paths,
      fields: inputs.fields,
      onlyNewer: inputs.onlyNewer,
    });
    planned.plan.skipped.push(...read.skipped);
    return planned;
  }
  const mode = inputs.mode;
  const to = inputs.to!;
  // Promote reads `from` (on its own branch when it names one); rollback reads the history of `to` itself.
  const source = mode === 'promote' ? inputs.from! : to;
  const sourceBranch = source.branch ?? base;
  const dir = source.path;
  const commits = await deps.github.commitsTouching(sourceBranch, dir, { relevant: inputs.requireStatus.matches });
  const picked = pickQualifying(commits, inputs.requireStatus, { skip: mode === 'rollback' ? 1 : 0 });
  if (!picked.commit)
    throw gateRefusal(mode, envLabel(source), inputs.requireStatus, 'newest' in picked ? picked.newest : undefined);
  await retryingFetches(env, deps).ensureCommit(picked.commit.sha, sourceBranch);
  const sourceFiles = await env.readFiles(picked.commit.sha, under(dir));
  const target = await env.readFiles(baseSha, under(to.path));
  const server = (deps.env.GITHUB_SERVER_URL ?? '').replace(/\/+$/, '');
  const { owner, repo } = deps.github.repo;
  const crossBranch = sourceBranch !== base || to.branch !== undefined;
  const planned = planRestore({
    mode,
    sourceDir: dir,
    to: to.path,
    ...(crossBranch ? { labels: { source: `${sourceBranch}:${dir}`, target: `${base}:${to.path}` } } : {}),
    source: sourceFiles.files,
    target: target.files,
    commit: picked.commit,
    matched: picked.matched,
    fields: inputs.fields,
    ...(server ? { commitUrl: `${server}/${owner}/${repo}/commit/${picked.commit.sha}` } : {}),
  });
  // Files neither side could read (binary, not UTF-8, too large, symbolic links) are reported, as a bump's are.
  planned.plan.skipped.push(...sourceFiles.skipped, ...target.skipped);
  return planned;
}

/** Runs the Action's mode against the environment repo; writes nothing in dry-run. */
export async function runAction(inputs: Inputs, deps: ActionDeps): Promise<ActionResult> {
  const gh = deps.github;
  const repo = await gh.repository();
  // Promote and rollback change `to`'s branch when it names one.
  const base = (inputs.mode !== 'bump' ? inputs.to?.branch : undefined) ?? inputs.base ?? repo.defaultBranch;
  const env = await EnvRepo.open({ url: repo.cloneUrl, token: inputs.token });
  try {
    const fetches = retryingFetches(env, deps);
    const baseSha = await fetches.fetchBranch(base);
    const planned = await readAndPlan(inputs, deps, env, base, baseSha);
    const run = runLink(deps.env);
    const branch = inputs.pullRequest
      ? (inputs.branch ?? changeBranch({ mode: inputs.mode, target: planned.target, images: planned.images }))
      : undefined;
    const summaryOf = (plan: EditPlan, head?: string): ChangeSummary => ({
      mode: inputs.mode,
      target: planned.target,
      ...(planned.from ? { from: planned.from } : {}),
      changes: plan.changes,
      ...(run ? { run } : {}),
      ...(planned.evidence ? { evidence: planned.evidence } : {}),
      ...(branch ? { branch } : {}),
      ...(head ? { head } : {}),
      ...(fileWarnings.length ? { warnings: fileWarnings } : {}),
    });
    // Files that do not parse (skipped) and invalid current values: the PR body and the job summary say so.
    const fileWarnings = planned.plan.skipped
      .filter((x) => x.warning)
      .map((x) => `${x.path}${x.location ? ` ${x.location}` : ''}: ${x.reason}`);
    const warnings: string[] = [...fileWarnings];
    const result = (plan: EditPlan, over: Partial<ActionResult>): ActionResult => {
      const s = summaryOf(plan, over.commitSha);
      return {
        changed: plan.edits.length > 0,
        changes: plan.changes,
        operation: 'none',
        base,
        title: inputs.title ?? defaultTitle(s),
        body: prBody(s, inputs.body),
        ...(planned.evidence ? { evidence: planned.evidence } : {}),
        ...(branch ? { branch } : {}),
        warnings,
        unmatched: plan.unmatched,
        skipped: plan.skipped.map((x) => ({ path: x.path, reason: x.reason })),
        retries: 0,
        bytesFetched: env.bytesFetched,
        ...over,
      };
    };
    const unmatched = planned.plan.unmatched;
    if (unmatched.length)
      warnings.push(
        `No file uses ${unmatched.join(', ')}; nothing to change for ${unmatched.length === 1 ? 'it' : 'them'}.`,
      );
    for (const c of planned.plan.changes) deps.info(`${c.file} ${c.location}: ${c.old ?? '∅'} → ${c.new ?? '∅'}`);
    warnings.push(...keptNewer(planned.plan));
    if (inputs.dryRun) return result(planned.plan, {});

    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const writer = inputs.commitMethod === 'git' ? gitWriter(env) : apiWriter(gh, env);
    const message = (plan: EditPlan) => inputs.commitMessage ?? defaultCommitMessage(summaryOf(plan));

    if (!inputs.pullRequest) {
      const pushed = await pushDirect(
        base,
        { sha: baseSha, plan: planned.plan },
        {
          commit: (parent, plan) =>
            writer.commit(
              parent,
              plan.edits.map((e) => ({ path: e.path, text: e.newText })),
              message(plan),
            ),
          fastForward: (sha) => writer.fastForward(base, sha),
          replanOnTip: async () => {
            const sha = await fetches.fetchBranch(base);
            return { sha, plan: planned.replan((await env.readFiles(sha, planned.reads)).files) };
          },
          sleep,
          info: deps.info,
          now: Date.now,
          random: Math.random,
        },
        { deadlineMs: inputs.pushDeadlineMs, ...deps.push },
      );
      warnings.push(...pushed.overridden);
      // A re-plan on a moved base may find a newer version there that the first plan did not.
      for (const w of keptNewer(pushed.plan)) if (!warnings.includes(w)) warnings.push(w);
      return result(pushed.plan, {
        retries: pushed.retries,
        ...(pushed.commitSha ? { commitSha: pushed.commitSha } : {}),
      });
    }

    const outcome = await syncPullRequest(
      {
        base,
        baseSha,
        branch: branch!,
        // Without `paths` and without a change the target, and so the branch, is unknown: the open PR of these
        // images under any target is the one to close.
        ...(planned.target === '' && !planned.targetFromInputs && !inputs.branch
          ? { anyTarget: new RegExp(`^${escapeRe(branch!).replace('/root/', '/.+/')}$`) }
          : {}),
        plan: planned.plan,
        text: (head) => {
          const s = summaryOf(planned.plan, head);
          return { title: inputs.title ?? defaultTitle(s), body: prBody(s, inputs.body) };
        },
        deadlineMs: inputs.pushDeadlineMs,
        commitMessage: message(planned.plan),
        draft: inputs.draft,
        decorations: inputs,
        autoMerge: inputs.autoMerge,
        ...(inputs.onlyNewer && inputs.mode === 'bump'
          ? {
              newerInPr: async (pr: OpenPr) => {
                const head = await fetches.fetchBranch(pr.headRef);
                const files = (await env.readFiles(head, planned.reads)).files;
                return newerInPullRequest(planned.plan, planned.replan(files), pr.number);
              },
            }
          : {}),
      },
      {
        gh,
        writer,
        treeWith: (parent, files) => env.treeWith(parent, files),
        sleep,
        random: Math.random,
        now: Date.now,
        info: deps.info,
      },
    );
    warnings.push(...outcome.warnings);
    // A PR left as it is: this run changed nothing.
    return result(outcome.leftAsIs ? { ...planned.plan, edits: [], changes: [] } : planned.plan, {
      operation: outcome.operation,
      ...(outcome.pr ? { pr: outcome.pr } : {}),
      ...(outcome.commitSha ? { commitSha: outcome.commitSha } : {}),
      ...(outcome.prAuthor !== undefined ? { prAuthor: outcome.prAuthor } : {}),
    });
  } finally {
    await env.close();
  }
}
