// The pull-request lifecycle of one change key: open the PR, update it when the change moved, leave it when its
// head already holds the change, close it when the base already has the versions.
import type { EditPlan } from '../../shared/src/plan-edits.ts';
import type { CommitWriter, FileWrite } from './commit-writer.ts';
import type { GitHubOps, OpenPr, PrDecorations } from './github-ops.ts';

/** `pull-request-operation` values. */
export type PrOperation = 'created' | 'updated' | 'unchanged' | 'closed' | 'none';

/** What the lifecycle needs from the outside. */
export interface PrDeps {
  gh: GitHubOps;
  writer: CommitWriter;
  /** The tree id `parent` would have with `files` replaced (to compare with an open PR's head). */
  treeWith(parent: string, files: readonly FileWrite[]): Promise<string>;
}

/** One run's PR request. */
export interface PrRequest {
  base: string;
  baseSha: string;
  branch: string;
  /**
   * When the change key's target is unknown (no `paths`, nothing changed), the open PR of these images under any
   * target: a pattern over head branch names.
   */
  anyTarget?: RegExp;
  plan: EditPlan;
  title: string;
  body: string;
  commitMessage: string;
  draft: boolean;
  decorations: PrDecorations;
  autoMerge: 'merge' | 'squash' | 'rebase' | undefined;
}

/** What the lifecycle did, as data. */
export interface PrOutcome {
  operation: PrOperation;
  pr?: { number: number; url: string };
  commitSha?: string;
  /** Login that opened a created PR. */
  prAuthor?: string;
  warnings: string[];
}

function filesOf(plan: EditPlan): FileWrite[] {
  return plan.edits.map((e) => ({ path: e.path, text: e.newText }));
}

/** Brings the change key's PR in line with the plan. */
export async function syncPullRequest(req: PrRequest, deps: PrDeps): Promise<PrOutcome> {
  const { gh } = deps;
  const open: OpenPr | undefined = req.anyTarget
    ? await gh.findOpenPrLike(req.anyTarget, req.base)
    : await gh.findOpenPr(req.branch, req.base);
  const ref = (pr: { number: number; url: string }) => ({ number: pr.number, url: pr.url });
  if (req.plan.edits.length === 0) {
    if (!open) return { operation: 'none', warnings: [] };
    await gh.closePr(
      open.number,
      `\`${req.base}\` already has these versions, so this pull request is no longer needed. (Tether)`,
    );
    return { operation: 'closed', pr: ref(open), warnings: [] };
  }
  const files = filesOf(req.plan);
  if (open) {
    const want = await deps.treeWith(req.baseSha, files);
    const head = await gh.commitTree(open.headSha);
    if (head.tree === want && head.parents[0] === req.baseSha) {
      return { operation: 'unchanged', pr: ref(open), commitSha: open.headSha, warnings: [] };
    }
  }
  const sha = await deps.writer.commit(req.baseSha, files, req.commitMessage);
  // An open PR found under another target keeps its branch.
  await deps.writer.setBranch(open?.headRef ?? req.branch, sha, open !== undefined);
  if (open) {
    await gh.updatePr(open.number, { title: req.title, body: req.body });
    return { operation: 'updated', pr: ref(open), commitSha: sha, warnings: [] };
  }
  const pr = await gh.createPr({
    title: req.title,
    head: req.branch,
    base: req.base,
    body: req.body,
    draft: req.draft,
  });
  await gh.decoratePr(pr.number, req.decorations);
  const warnings: string[] = [];
  if (req.autoMerge) {
    const refused = await gh.enableAutoMerge(pr.nodeId, req.autoMerge);
    if (refused) warnings.push(`Auto-merge was not enabled: ${refused}`);
  }
  return { operation: 'created', pr: ref(pr), commitSha: sha, prAuthor: pr.author, warnings };
}
