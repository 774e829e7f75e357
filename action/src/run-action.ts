import { EnvRepo } from '../../shared/src/env-repo.ts';
import { TetherError } from '../../shared/src/errors.ts';
import type { FileText } from '../../shared/src/file-text.ts';
import type { GitHubClient } from '../../shared/src/github.ts';
import { pathMatcher } from '../../shared/src/glob.ts';
import {
  type Change,
  type EditPlan,
  type EditRequest,
  parseImageRequest,
  planEdits,
} from '../../shared/src/plan-edits.ts';
import { planPromotion } from '../../shared/src/promote.ts';
import { bumpTarget, changeBranch } from './change-key.ts';
import {
  closePr,
  commitsTouching,
  commitTree,
  commitViaApi,
  decoratePr,
  enableAutoMerge,
  fastForward,
  defaultBranch as fetchDefaultBranch,
  findOpenPr,
  findOpenPrLike,
  type Repo,
  setPrBranch,
} from './github-ops.ts';
import type { Inputs } from './inputs.ts';
import { type ChangeSummary, defaultCommitMessage, defaultTitle, type Evidence, prBody, runLink } from './pr-text.ts';
import { pickQualifying } from './status-gate.ts';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `pull-request-operation` values (DESIGN.md). */
export type PrOperation = 'created' | 'updated' | 'unchanged' | 'closed' | 'none';

/** What a run did, as data: outputs, logs and the job summary are derived from it (STYLE.md #6). */
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
  github: GitHubClient;
  env: NodeJS.ProcessEnv;
  info: (message: string) => void;
  /** Sleep between direct-push retries (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
  maxPushAttempts?: number;
}

const author = { name: 'tether[bot]', email: 'tether[bot]@users.noreply.github.com' };

function under(dir: string): (path: string) => boolean {
  const d = dir.replace(/^\.?\/+|\/+$/g, '');
  return (p) => d === '' || p === d || p.startsWith(`${d}/`);
}

/** A plan and how to make it again on a newer base (direct-push retries re-apply the semantic edit). */
interface Planned {
  plan: EditPlan;
  /** The images of the change key: those requested (bump) or read from the source (promote, rollback). */
  images: string[];
  target: string;
  from?: string;
  evidence?: Evidence;
  replan: (files: FileText[]) => EditPlan;
}

async function planFor(
  inputs: Inputs,
  deps: ActionDeps,
  repo: Repo,
  env: EnvRepo,
  base: string,
  baseSha: string,
): Promise<Planned> {
  if (inputs.mode === 'bump') {
    const request: EditRequest = { images: inputs.images, paths: inputs.paths, fields: inputs.fields };
    const select = inputs.paths.length ? pathMatcher(inputs.paths) : () => true;
    const read = await env.readFiles(baseSha, select);
    const plan = planEdits(read.files, request);
    plan.skipped.push(...read.skipped);
    const images = [...parseImageRequest(inputs.images).keys()];
    return {
      plan,
      images,
      target: bumpTarget(inputs.paths, plan.changes),
      replan: (files) => planEdits(files, request),
    };
  }
  const to = inputs.to!;
  const sourceDir = inputs.mode === 'promote' ? inputs.from! : to;
  const commits = await commitsTouching(deps.github, repo, base, sourceDir);
  const picked = pickQualifying(commits, inputs.requireStatus, { skip: inputs.mode === 'rollback' ? 1 : 0 });
  if (!picked.commit) {
    const pattern = inputs.requireStatus.join(', ') || 'any status';
    const newest =
      'newest' in picked && picked.newest
        ? `; newest is ${picked.newest.sha.slice(0, 7)}: ${picked.newest.summary}`
        : '';
    const which =
      inputs.mode === 'rollback' ? `no earlier commit touching ${sourceDir}` : `no commit touching ${sourceDir}`;
    throw new TetherError('input', `${which} has success for ${pattern}${newest}`);
  }
  const source = picked.commit;
  await env.ensureCommit(source.sha, base);
  const src = await env.readFiles(source.sha, under(sourceDir));
  const tgt = await env.readFiles(baseSha, under(to));
  const paths = { sourcePaths: [`${sourceDir}/**`], targetPaths: [`${to}/**`], fields: inputs.fields };
  const plan = planPromotion(src.files, tgt.files, paths);
  const server = (deps.env.GITHUB_SERVER_URL ?? '').replace(/\/+$/, '');
  return {
    plan,
    images: plan.versions.map((v) => v.image),
    target: to,
    from: inputs.mode === 'promote' ? sourceDir : `${to}@${source.sha.slice(0, 7)}`,
    evidence: {
      from: sourceDir,
      sha: source.sha,
      ...(server ? { commitUrl: `${server}/${repo.owner}/${repo.repo}/commit/${source.sha}` } : {}),
      statuses: picked.matched,
    },
    replan: (files) =>
      planEdits(
        files.filter((f) => under(to)(f.path)),
        plan.request,
      ),
  };
}

/** Runs the Action's mode against the environment repo; writes nothing in dry-run. */
export async function runAction(inputs: Inputs, deps: ActionDeps): Promise<ActionResult> {
  const gh = deps.github;
  const repo: Repo = inputs.repository;
  const info = await (async () => {
    try {
      return (await gh.rest.repos.get({ ...repo })).data;
    } catch (err) {
      const { githubError } = await import('./github-ops.ts');
      throw githubError(`repository ${repo.owner}/${repo.repo}`, err);
    }
  })();
  const base = inputs.base ?? info.default_branch ?? (await fetchDefaultBranch(gh, repo));
  const env = await EnvRepo.open({ url: info.clone_url, token: inputs.token });
  try {
    let baseSha = await env.fetchBranch(base);
    const planned = await planFor(inputs, deps, repo, env, base, baseSha);
    let plan = planned.plan;
    const run = runLink(deps.env);
    const summaryOf = (changes: Change[], branch?: string): ChangeSummary => ({
      mode: inputs.mode,
      target: planned.target,
      ...(planned.from ? { from: planned.from } : {}),
      changes,
      ...(run ? { run } : {}),
      ...(planned.evidence ? { evidence: planned.evidence } : {}),
      ...(branch ? { branch } : {}),
      ...(fileWarnings.length ? { warnings: fileWarnings } : {}),
    });
    // Files that do not parse (skipped) and invalid current values: the PR body and the job summary say so.
    const fileWarnings = plan.skipped
      .filter((x) => x.warning)
      .map((x) => `${x.path}${x.location ? ` ${x.location}` : ''}: ${x.reason}`);
    const warnings: string[] = [...fileWarnings];
    if (plan.unmatched.length)
      warnings.push(
        `No file uses ${plan.unmatched.join(', ')}; nothing to change for ${plan.unmatched.length === 1 ? 'it' : 'them'}.`,
      );
    const branch = inputs.pullRequest
      ? (inputs.branch ??
        changeBranch({
          mode: inputs.mode,
          target: planned.target,
          images: planned.images,
        }))
      : undefined;
    const result = (over: Partial<ActionResult>): ActionResult => {
      const s = summaryOf(plan.changes, branch);
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
    for (const c of plan.changes) deps.info(`${c.file} ${c.location}: ${c.old ?? '∅'} → ${c.new ?? '∅'}`);
    if (inputs.dryRun) return result({});

    const message = () => inputs.commitMessage ?? defaultCommitMessage(summaryOf(plan.changes, branch));
    const commit = async (parent: string): Promise<string> => {
      const files = plan.edits.map((e) => ({ path: e.path, text: e.newText }));
      if (inputs.commitMethod === 'git')
        return (await env.writeCommit({ parent, files, message: message(), author })).commit;
      return (await commitViaApi(gh, repo, { parent, baseTree: await env.treeOf(parent), files, message: message() }))
        .commit;
    };

    if (!inputs.pullRequest) {
      if (plan.edits.length === 0) return result({});
      const attempts = deps.maxPushAttempts ?? 5;
      const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
      for (let attempt = 0; ; attempt++) {
        const sha = await commit(baseSha);
        const outcome =
          inputs.commitMethod === 'git'
            ? (await env.push(sha, base, { force: false })).ok
              ? 'ok'
              : 'conflict'
            : await fastForward(gh, repo, base, sha);
        if (outcome === 'ok') return result({ commitSha: sha, retries: attempt, changed: true });
        if (attempt + 1 >= attempts) {
          throw new TetherError(
            'github',
            `${base} kept moving: ${attempts} fast-forward attempts were refused; nothing was forced`,
          );
        }
        // Another writer moved the base: re-read it and apply the same semantic edit there.
        await sleep(200 * 2 ** attempt + Math.random() * 300);
        baseSha = await env.fetchBranch(base);
        const read = await env.readFiles(baseSha);
        plan = planned.replan(read.files);
        deps.info(`${base} moved; re-applied the edit on ${baseSha.slice(0, 7)} (attempt ${attempt + 2})`);
        if (plan.edits.length === 0) return result({ retries: attempt + 1, changed: false });
      }
    }

    // Without a `paths` input and without a change, the target (and so the branch) is unknown: look for the
    // open PR of these images under any target.
    const open =
      planned.target === '' && !inputs.branch
        ? await findOpenPrLike(gh, repo, new RegExp(`^${escapeRe(branch!).replace('/root/', '/.+/')}$`), base)
        : await findOpenPr(gh, repo, branch!, base);
    if (plan.edits.length === 0) {
      if (!open) return result({});
      await closePr(
        gh,
        repo,
        open.number,
        `\`${base}\` already has these versions, so this pull request is no longer needed. (Tether)`,
      );
      return result({ operation: 'closed', pr: { number: open.number, url: open.url } });
    }
    if (open) {
      const want = await env.treeWith(
        baseSha,
        plan.edits.map((e) => ({ path: e.path, text: e.newText })),
      );
      const head = await commitTree(gh, repo, open.headSha);
      if (head.tree === want && head.parents[0] === baseSha) {
        return result({ operation: 'unchanged', pr: { number: open.number, url: open.url }, commitSha: open.headSha });
      }
    }
    const sha = await commit(baseSha);
    if (inputs.commitMethod === 'git') {
      const pushed = await env.push(sha, branch!, { force: true });
      if (!pushed.ok) throw new TetherError('git', `push ${branch}: ${pushed.error}`);
    } else {
      await setPrBranch(gh, repo, branch!, sha, open !== undefined);
    }
    const r = result({ commitSha: sha });
    if (open) {
      await gh.rest.pulls.update({ ...repo, pull_number: open.number, title: r.title, body: r.body });
      return { ...r, operation: 'updated', pr: { number: open.number, url: open.url } };
    }
    const { data: pr } = await gh.rest.pulls.create({
      ...repo,
      title: r.title,
      head: branch!,
      base,
      body: r.body,
      draft: inputs.draft,
    });
    await decoratePr(gh, repo, pr.number, inputs);
    if (inputs.autoMerge) {
      const refused = await enableAutoMerge(gh, pr.node_id, inputs.autoMerge);
      if (refused) warnings.push(`Auto-merge was not enabled: ${refused}`);
    }
    return { ...r, operation: 'created', pr: { number: pr.number, url: pr.html_url }, prAuthor: pr.user?.login ?? '' };
  } finally {
    await env.close();
  }
}
