// What a pull request would do to this cluster, as data and as the words GitHub shows: the commit status
// `tether/<cluster>/<app>/plan` on the PR head and one PR comment per agent. Pure: the fetch, render, dry-run and
// inventory reads that produce an `AppPlan` are reconcile/pr-plan.ts's.
import { isRecord } from '../../../shared/src/is-record.ts';
import { redactUrls } from '../../../shared/src/redact.ts';
import { type CommitStatus, clampDescription, statusContext } from './commit-status.ts';
import type { ObjectInspection } from './inspection.ts';

/** What the prune of a plan would do: the objects it would delete, those it keeps (and why), and a block. */
export interface PlannedPrune {
  /** Subjects that would be deleted, in deletion order. */
  delete: string[];
  /** Objects Git dropped that the guardrails keep, with the reason (an annotation, a protected kind…). */
  keep: { subject: string; reason: string }[];
  /** Why nothing at all would be pruned, when that is so. */
  blocked?: string;
  /** The block is a guardrail verdict on this PR (the deletion budget), not a setting: the plan fails. */
  blockFails?: boolean;
}

/**
 * One app's plan for one pull request head. Exactly one of `notPlanned`, `error`, `renderError` or the judged
 * `objects` (with `prune`) says what happened.
 */
export interface AppPlan {
  app: string;
  /** The PR head commit planned. */
  sha: string;
  /** Planned on purpose not at all (a fork's head, whose content no one with write access pushed). */
  notPlanned?: string;
  /** The plan could not be made for reasons that say nothing about the PR (fetch failed, cluster unreachable). */
  error?: string;
  /** The PR's content does not render (or renders objects the agent refuses before any request). */
  renderError?: string;
  /** Each desired object judged against the cluster by a server-side dry-run (an `error` is the apiserver's). */
  objects: ObjectInspection[];
  prune: PlannedPrune;
  /** Objects the app may not apply (outside its project), with the reason. */
  refused?: { subject: string; reason: string }[];
}

/** How many objects a plan would create, change, leave unchanged, prune, and how many the apiserver rejected. */
export interface PlanCounts {
  create: number;
  change: number;
  unchanged: number;
  prune: number;
  rejected: number;
}

/** The counts of a plan's objects (see PlanCounts). */
export function planCounts(plan: AppPlan): PlanCounts {
  const counts: PlanCounts = { create: 0, change: 0, unchanged: 0, prune: plan.prune.delete.length, rejected: 0 };
  for (const o of plan.objects) {
    if (o.error !== undefined) counts.rejected++;
    else if (!o.live) counts.create++;
    else if (o.sync === 'OutOfSync') counts.change++;
    else counts.unchanged++;
  }
  return counts;
}

/** The context of a plan status: `tether/<cluster>/<app>/plan`. */
export function planContext(cluster: string, app: string): string {
  return `${statusContext(cluster, app)}/plan`;
}

/** `3 to change, 1 to prune`, or `No changes` — the counts a reviewer reads first. */
export function changeSummary(c: PlanCounts): string {
  const parts = [
    c.create > 0 ? `${c.create} to create` : '',
    c.change > 0 ? `${c.change} to change` : '',
    c.prune > 0 ? `${c.prune} to prune` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'No changes';
}

/**
 * The apiserver's own words of a refused request: the kube client prefixes them with the request line
 * (`PATCH /apis/…?dryRun=All: 422 `), which would fill a 140-character status before the field is named.
 */
export function rejectionReason(error: string): string {
  return error.replace(/^(?:GET|PATCH|POST|PUT|DELETE) \S+: \d{3} /, '');
}

/** `Deployment/web/web: <why>` for the first of `items`, and how many more there are. */
function firstOf(items: readonly { subject: string; reason: string }[]): string {
  const [first] = items;
  if (!first) return '';
  const more = items.length > 1 ? ` (+${items.length - 1} more)` : '';
  return `${first.subject}: ${first.reason}${more}`;
}

/**
 * The status a plan calls for: `error` when nothing could be judged (not planned, fetch failed, cluster
 * unreachable), `failure` when the PR would break the sync (render error, apiserver rejection naming the object and
 * the field it quotes, an object outside the project, a blocked prune), `success` with the counts otherwise.
 */
export function planStatus(plan: AppPlan, options: { cluster: string; targetUrl?: string }): CommitStatus {
  const make = (state: CommitStatus['state'], d: string): CommitStatus => ({
    state,
    description: clampDescription(d),
    context: planContext(options.cluster, plan.app),
    ...(options.targetUrl ? { targetUrl: options.targetUrl } : {}),
  });
  if (plan.notPlanned !== undefined) return make('error', `Not planned: ${plan.notPlanned}`);
  if (plan.error !== undefined) return make('error', `Plan error: ${plan.error}`);
  if (plan.renderError !== undefined) return make('failure', `Render failed: ${plan.renderError}`);
  const rejected = plan.objects.flatMap((o) =>
    o.error !== undefined ? [{ subject: o.subject, reason: rejectionReason(o.error) }] : [],
  );
  if (rejected.length > 0) return make('failure', `Rejected: ${firstOf(rejected)}`);
  if (plan.refused && plan.refused.length > 0) return make('failure', `Refused: ${firstOf(plan.refused)}`);
  if (plan.prune.blocked && plan.prune.blockFails) return make('failure', plan.prune.blocked);
  return make('success', changeSummary(planCounts(plan)));
}

/** The `pending` status posted while an app's plan runs. */
export function planPendingStatus(
  cluster: string,
  app: string,
  sha: string,
  options: { targetUrl?: string } = {},
): CommitStatus {
  return {
    state: 'pending',
    description: clampDescription(`Planning ${sha.slice(0, 7)}`),
    context: planContext(cluster, app),
    ...(options.targetUrl ? { targetUrl: options.targetUrl } : {}),
  };
}

/**
 * The status of an app a pull request does not touch: `success`, since merging it changes nothing the app renders
 * (which lets the plan context be a required check on every pull request into the branch).
 */
export function untouchedPlanStatus(
  cluster: string,
  app: string,
  path: string,
  options: { targetUrl?: string } = {},
): CommitStatus {
  return {
    state: 'success',
    description: clampDescription(`No changes: the pull request leaves ${path || 'the repository'} unchanged`),
    context: planContext(cluster, app),
    ...(options.targetUrl ? { targetUrl: options.targetUrl } : {}),
  };
}

/** The hidden marker that identifies this agent's comment on a pull request (one per cluster). */
export function planMarker(cluster: string): string {
  return `<!-- tether-plan:${cluster} -->`;
}

/** Options of `planComment`. */
export interface PlanCommentOptions {
  cluster: string;
  /** Diff lines shown per app before the rest is cut (and counted). */
  maxDiffLines: number;
  /** Characters of diff shown per app: GitHub refuses comments over 65,536 characters. */
  maxDiffChars: number;
}

/** Defaults of `planComment`: 200 diff lines and 12,000 characters per app. */
export function defaultPlanCommentOptions(cluster: string): PlanCommentOptions {
  return { cluster, maxDiffLines: 200, maxDiffChars: 12_000 };
}

/** One row of the comment: a finished plan, or an app still being planned (its pending status). */
export type PlanRow = { plan: AppPlan; status: CommitStatus } | { app: string; status: CommitStatus };

const ICONS: Record<CommitStatus['state'], string> = { success: '✅', failure: '❌', error: '⚠️', pending: '⏳' };

/** Text safe inside a Markdown table cell: no pipe or line break ends the cell early. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** The diff of a plan as text: each object's diff, apiserver errors as `#` lines, then the objects to prune. */
export function planDiff(plan: AppPlan): string {
  const parts: string[] = [];
  for (const o of plan.objects) {
    if (o.error !== undefined) parts.push(`# ${o.subject}: rejected: ${rejectionReason(o.error)}`);
    else if (o.diff) parts.push(o.diff.replace(/\n+$/, ''));
  }
  for (const s of plan.prune.delete) parts.push(`# prune ${s}`);
  for (const k of plan.prune.keep) parts.push(`# keep ${k.subject}: ${k.reason}`);
  if (plan.prune.blocked) parts.push(`# ${plan.prune.blocked}`);
  return parts.join('\n');
}

/**
 * `text` cut to at most `maxLines` lines and `maxChars` characters, whole lines only, with a last line counting
 * what was left out.
 */
export function cutLines(text: string, maxLines: number, maxChars: number): string {
  const lines = text.split('\n');
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines) {
    if (kept.length >= maxLines || chars + line.length + 1 > maxChars) break;
    kept.push(line);
    chars += line.length + 1;
  }
  const omitted = lines.length - kept.length;
  if (omitted === 0) return text;
  return `${kept.join('\n')}\n… ${omitted} more line${omitted === 1 ? '' : 's'} not shown`;
}

/** A fence longer than any run of backticks in `text`, so a diff line cannot close the code block. */
function fence(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/**
 * The PR comment of one agent: its marker, a table of the apps the PR touches (result and counts), and per app a
 * collapsed diff. Secret values are already masked in the diffs (core/drift.ts), long diffs are cut with a count,
 * and no URL keeps its credentials.
 */
export function planComment(rows: readonly PlanRow[], sha: string, options: PlanCommentOptions): string {
  const out = [
    planMarker(options.cluster),
    `### Tether plan · cluster \`${options.cluster}\``,
    '',
    `What merging \`${sha.slice(0, 7)}\` would do to this cluster, from a server-side dry-run of every object (nothing was written).`,
    '',
    '| App | Plan | Create | Change | Prune | Unchanged |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  const details: string[] = [];
  for (const row of rows) {
    const status = `${ICONS[row.status.state]} ${cell(row.status.description)}`;
    if (!('plan' in row)) {
      out.push(`| \`${row.app}\` | ${status} | | | | |`);
      continue;
    }
    const { plan } = row;
    const judged = plan.notPlanned === undefined && plan.error === undefined && plan.renderError === undefined;
    const c = planCounts(plan);
    out.push(
      judged
        ? `| \`${plan.app}\` | ${status} | ${c.create} | ${c.change} | ${c.prune} | ${c.unchanged} |`
        : `| \`${plan.app}\` | ${status} | | | | |`,
    );
    const detail = plan.notPlanned ?? plan.error ?? plan.renderError;
    const text = detail !== undefined ? detail : planDiff(plan);
    if (text === '') continue;
    const shown = cutLines(text, options.maxDiffLines, options.maxDiffChars);
    const f = fence(shown);
    const lines = text.split('\n').length;
    details.push(
      '',
      `<details><summary><code>${plan.app}</code>: ${detail !== undefined ? 'why' : `diff (${lines} line${lines === 1 ? '' : 's'})`}</summary>`,
      '',
      `${f}${detail !== undefined ? 'text' : 'diff'}`,
      shown,
      f,
      '',
      '</details>',
    );
  }
  return redactUrls([...out, ...details, ''].join('\n'));
}

/** A pull request as a plan needs it, read from a `pull_request` webhook or from the list of open pull requests. */
export interface PullRequestRef {
  /** The base repository, `owner/name`. */
  repo: string;
  number: number;
  state: 'open' | 'closed';
  headSha: string;
  headRef: string;
  /** The branch it would merge into: only apps syncing that branch are planned. */
  baseRef: string;
  /** The head lives in another repository (a fork, or one deleted since): its content is not planned. */
  fork: boolean;
}

/**
 * The fields of a pull request object (GitHub's `pull-request` or `pull-request-simple`, as webhooks and
 * `GET /repos/{o}/{r}/pulls` give it); undefined when one the plan needs is missing.
 */
export function pullRequestFields(pull: unknown): PullRequestRef | undefined {
  if (!isRecord(pull) || !isRecord(pull['head']) || !isRecord(pull['base'])) return undefined;
  const { head, base } = pull;
  const baseRepo = isRecord(base['repo']) ? base['repo']['full_name'] : undefined;
  const headRepo = isRecord(head['repo']) ? head['repo']['full_name'] : undefined;
  const { number, state } = pull;
  if (
    typeof number !== 'number' ||
    (state !== 'open' && state !== 'closed') ||
    typeof head['sha'] !== 'string' ||
    typeof head['ref'] !== 'string' ||
    typeof base['ref'] !== 'string' ||
    typeof baseRepo !== 'string'
  ) {
    return undefined;
  }
  return {
    repo: baseRepo,
    number,
    state,
    headSha: head['sha'],
    headRef: head['ref'],
    baseRef: base['ref'],
    fork: typeof headRepo !== 'string' || headRepo.toLowerCase() !== baseRepo.toLowerCase(),
  };
}

/** Whether any of `files` (paths from the repository root) lies in the app's `path` (`''`: the whole repository). */
export function touchesPath(files: readonly string[], path: string): boolean {
  if (path === '') return files.length > 0;
  return files.some((f) => f === path || f.startsWith(`${path}/`));
}
