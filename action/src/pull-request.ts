// The pull-request lifecycle of one change key: open the PR, update it when the change moved, leave it when its
// head already holds the change, close it when the base already has the versions, and repair what an earlier run
// left half done (a branch without a PR, missing labels or assignees, a title that describes another head). With
// only-newer, a PR that proposes newer versions than the run asks for is left as it is.
//
// Runs of one change key may race. The PR body carries a marker naming the head commit its text describes
// (`head=<sha>`), so any run can tell whether the text matches the branch. After writing, a run reads the PR back;
// it is done when the head is its commit and the text says so. When another run's commit is the head and its text
// matches, the newer commit (by committer date, then sha) wins: an older run stops, a newer one writes again. An
// unmatched text that stays unmatched after a pause is taken over. So concurrent runs end with one PR whose text
// describes its head.
import { TetherError } from '../../shared/src/errors.ts';
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
  sleep(ms: number): Promise<void>;
  random(): number;
  now(): number;
  info(message: string): void;
}

/** A PR's title and body. */
export interface PrText {
  title: string;
  body: string;
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
  /** The title and body describing `head` (the body ends with the marker naming it). */
  text(head: string): PrText;
  commitMessage: string;
  draft: boolean;
  decorations: PrDecorations;
  autoMerge: 'merge' | 'squash' | 'rebase' | undefined;
  /** How long to keep converging with concurrent runs, in milliseconds. */
  deadlineMs: number;
  /**
   * only-newer: what the open PR proposes at a newer version than this run's request and the base, one line per
   * value to report. When there is any, the PR is left as it is: this run's head would downgrade it, and closing it
   * would claim the base has what it proposes.
   */
  newerInPr?: (pr: OpenPr) => Promise<string[]>;
}

/** What the lifecycle did, as data. */
export interface PrOutcome {
  operation: PrOperation;
  pr?: { number: number; url: string };
  /** The PR's head when the run ended. */
  commitSha?: string;
  /** Login that opened a created PR. */
  prAuthor?: string;
  /** The open PR proposes newer versions than the request (only-newer) and was left as it is. */
  leftAsIs?: boolean;
  warnings: string[];
}

/** The head commit a PR body says it describes (the `head=` of its Tether marker). */
export function describedHead(body: string | null | undefined): string | undefined {
  return /<!-- tether:[^>]*\bhead=([0-9a-f]{40})\b[^>]*-->/.exec(body ?? '')?.[1];
}

function filesOf(plan: EditPlan): FileWrite[] {
  return plan.edits.map((e) => ({ path: e.path, text: e.newText }));
}

const ref = (pr: { number: number; url: string }) => ({ number: pr.number, url: pr.url });

/** Adds the labels and assignees a PR lacks, and the reviewers when none of them is requested any more. */
async function repairDecorations(gh: GitHubOps, pr: OpenPr, want: PrDecorations): Promise<boolean> {
  const has = (list: readonly string[], x: string) => list.some((y) => y.toLowerCase() === x.toLowerCase());
  const missing = {
    labels: want.labels.filter((l) => !has(pr.labels, l)),
    assignees: want.assignees.filter((a) => !has(pr.assignees, a)),
    // People drop off the requested list once they review; ask again only when nobody asked for is requested,
    // which is what a failed request leaves behind.
    ...(want.reviewers.some((r) => has(pr.requestedReviewers, r)) ||
    want.teamReviewers.some((t) => has(pr.requestedTeams, t))
      ? { reviewers: [], teamReviewers: [] }
      : { reviewers: want.reviewers, teamReviewers: want.teamReviewers }),
  };
  const any = Object.values(missing).some((l) => l.length > 0);
  if (any) await gh.decoratePr(pr.number, missing);
  return any;
}

/** Commit order for concurrent runs: the newer committer date wins, then the greater sha. */
async function newer(gh: GitHubOps, a: string, b: string): Promise<boolean> {
  const [ca, cb] = await Promise.all([gh.commitTree(a), gh.commitTree(b)]);
  if (ca.date !== cb.date) return ca.date > cb.date;
  return a > b;
}

/** Brings the change key's PR in line with the plan. */
export async function syncPullRequest(req: PrRequest, deps: PrDeps): Promise<PrOutcome> {
  const { gh } = deps;
  const find = () => (req.anyTarget ? gh.findOpenPrLike(req.anyTarget, req.base) : gh.findOpenPr(req.branch, req.base));
  let open = await find();
  const newerInPr = open && req.newerInPr ? await req.newerInPr(open) : [];
  if (open && newerInPr.length > 0)
    return {
      operation: 'unchanged',
      pr: ref(open),
      commitSha: open.headSha,
      leftAsIs: true,
      warnings: newerInPr,
    };
  if (req.plan.edits.length === 0) {
    if (!open) return { operation: 'none', warnings: [] };
    // With only-newer the base may hold newer versions than those asked for (and than the PR's).
    const newer = req.plan.skipped.some((s) => s.kept) ? ' or newer ones' : '';
    await gh.closePr(
      open.number,
      `\`${req.base}\` already has these versions${newer}, so this pull request is no longer needed. (Tether)`,
    );
    return { operation: 'closed', pr: ref(open), warnings: [] };
  }
  const files = filesOf(req.plan);
  if (open) {
    const want = await deps.treeWith(req.baseSha, files);
    const head = await gh.commitTree(open.headSha);
    if (head.tree === want && head.parents[0] === req.baseSha) {
      // The head holds this change: repair what is missing, write nothing else.
      let wrote = false;
      if (describedHead(open.body) !== open.headSha || open.title !== req.text(open.headSha).title) {
        await gh.updatePr(open.number, req.text(open.headSha));
        wrote = true;
      }
      wrote = (await repairDecorations(gh, open, req.decorations)) || wrote;
      return { operation: wrote ? 'updated' : 'unchanged', pr: ref(open), commitSha: open.headSha, warnings: [] };
    }
  }

  const sha = await deps.writer.commit(req.baseSha, files, req.commitMessage);
  const text = req.text(sha);
  // An open PR found under another target keeps its branch.
  const branch = open?.headRef ?? req.branch;
  const started = deps.now();
  const warnings: string[] = [];
  let created: { author: string } | undefined;
  let createdNumber = 0;
  let wroteBranch = false;
  const gone = () =>
    new TetherError('github', `the pull request of ${branch} was closed while this run was updating it`);
  const overdue = (pr: OpenPr) => {
    const elapsed = deps.now() - started;
    if (elapsed < req.deadlineMs) return;
    throw new TetherError(
      'github',
      `pull request #${pr.number}: its branch and text kept changing under concurrent runs for ${Math.round(elapsed / 1000)} s; this run's commit ${sha.slice(0, 7)} is not its head`,
    );
  };
  try {
    return await converge();
  } catch (err) {
    // Say what the failed step left behind, and that the next run of this change key repairs it.
    if (!(err instanceof TetherError) || !wroteBranch) throw err;
    const pr = open ?? (created ? { number: createdNumber } : undefined);
    throw new TetherError(
      err.code,
      `${err.message}; left behind: ${branch} at ${sha.slice(0, 7)}${pr ? `, pull request #${pr.number}` : ' without a pull request'}; the next run of this change repairs it`,
      { cause: err },
    );
  }

  async function converge(): Promise<PrOutcome> {
    let needBranch = true;
    for (let attempt = 0; ; attempt++) {
      if (needBranch) {
        await deps.writer.setBranch(branch, sha, open !== undefined);
        wroteBranch = true;
      }
      if (!open) {
        try {
          const pr = await gh.createPr({ ...text, head: branch, base: req.base, draft: req.draft });
          created = { author: pr.author };
          createdNumber = pr.number;
          await gh.decoratePr(pr.number, req.decorations);
          if (req.autoMerge) {
            const refused = await gh.enableAutoMerge(pr.nodeId, req.autoMerge);
            if (refused) warnings.push(`Auto-merge was not enabled: ${refused}`);
          }
        } catch (err) {
          // Another run opened it first (GitHub's 422 "A pull request already exists"): carry on with that PR.
          if (!(err instanceof TetherError && /^create pull request: 422/.test(err.message))) throw err;
        }
      } else if (open.body !== text.body || open.title !== text.title) {
        await gh.updatePr(open.number, text);
      }

      // Read the PR back and decide; snapshots of another run caught between its two writes are waited out.
      let snap = await find();
      if (!snap) throw gone();
      for (;;) {
        const head = snap.headSha;
        const described = describedHead(snap.body);
        if (head === sha && described === sha) {
          if (!created) await repairDecorations(gh, snap, req.decorations);
          return {
            operation: created ? 'created' : 'updated',
            pr: ref(snap),
            commitSha: sha,
            ...(created ? { prAuthor: created.author } : {}),
            warnings,
          };
        }
        if (head !== sha && described === head) {
          if (await newer(gh, head, sha)) {
            deps.info(`a newer run set ${branch} to ${head.slice(0, 7)}; the pull request describes it`);
            warnings.push(
              `Another run updated ${branch} with a newer commit (${head.slice(0, 7)}) while this run wrote ${sha.slice(0, 7)}; the pull request describes the newer one.`,
            );
            return {
              operation: created ? 'created' : 'updated',
              pr: ref(snap),
              commitSha: head,
              ...(created ? { prAuthor: created.author } : {}),
              warnings,
            };
          }
          needBranch = true; // an older run's state: this run's newer commit replaces it
          break;
        }
        if (head === sha) {
          needBranch = false; // our head under another run's text: write our text again
          break;
        }
        overdue(snap);
        await deps.sleep(Math.round(deps.random() * Math.min(4_000, 250 * 2 ** attempt)));
        const again = await find();
        if (!again) throw gone();
        const same = again.headSha === snap.headSha && again.body === snap.body && again.title === snap.title;
        snap = again;
        if (same) {
          needBranch = true; // the other run stopped between its writes: take over
          break;
        }
      }
      overdue(snap);
      open = snap;
    }
  }
}
