// What a pull request would do to this cluster, as data and as the words GitHub shows: the commit status
// `tether/<cluster>/<app>/plan` on the PR head and one PR comment per agent. Pure: the fetch, render, dry-run and
// inventory reads that produce an `AppPlan` are reconcile/pr-plan.ts's.

import { charCount, cutChars } from '../../../shared/src/chars.ts';
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

/** A hook the sync of a plan's head would run: its phase, wave and object. A plan never runs or dry-runs it. */
export interface PlannedHook {
  phase: string;
  wave: number;
  /** `Job/web/migrate`; a hook with only `generateName` shows it followed by `…`. */
  subject: string;
}

/** A verdict on one object of a plan: the object and why (a project rule, its owner, how it would be adopted). */
export interface PlannedEntry {
  subject: string;
  reason: string;
}

/**
 * One app's plan for one pull request head. Exactly one of `notPlanned`, `error`, `appRefused`, `renderError` or the
 * judged `objects` (with `prune`) says what happened.
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
  /**
   * The app's project refuses the app itself (repo not in sourceRepos, namespace outside, project undefined), as the
   * sync would before any fetch: nothing was fetched.
   */
  appRefused?: string;
  /** Objects the app may not apply (outside its project), with the rule: the sync would apply nothing at all. */
  refused?: PlannedEntry[];
  /** Live objects another ApplySet, Argo CD or Flux manages, naming the owner: the sync would leave them and fail. */
  conflicts?: PlannedEntry[];
  /** Live objects the sync would adopt: unowned ones, or taken over from a tool the app's `takeOver` names. */
  adopt?: PlannedEntry[];
  /** The hooks the sync would run, in phase and run order (not run by the plan). */
  hooks?: PlannedHook[];
}

/**
 * How many objects a plan would create, change, adopt (live, not created by Tether), leave unchanged, prune, how many
 * the apiserver rejected, and how many another owner has (left alone, so in none of the others).
 */
export interface PlanCounts {
  create: number;
  change: number;
  adopt: number;
  unchanged: number;
  prune: number;
  rejected: number;
  conflict: number;
}

/** The counts of a plan's objects (see PlanCounts). */
export function planCounts(plan: AppPlan): PlanCounts {
  const counts: PlanCounts = {
    create: 0,
    change: 0,
    adopt: 0,
    unchanged: 0,
    prune: plan.prune.delete.length,
    rejected: 0,
    conflict: 0,
  };
  const conflicts = new Set(plan.conflicts?.map((c) => c.subject));
  const adopt = new Set(plan.adopt?.map((c) => c.subject));
  for (const o of plan.objects) {
    if (o.error !== undefined) counts.rejected++;
    else if (conflicts.has(o.subject)) counts.conflict++;
    else if (!o.live) counts.create++;
    else if (adopt.has(o.subject)) counts.adopt++;
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
    c.adopt > 0 ? `${c.adopt} to adopt` : '',
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
 * `ClusterRoleBinding/admin is cluster-scoped and not in clusterResourceAllowlist (project team-a)`: a project's
 * refusal of one object with the rule first and the kind said once, so the rule fits a 140-character status; a
 * reason in another shape is kept whole after the subject.
 */
export function refusalText(entry: PlannedEntry): string {
  const kind = entry.subject.split('/')[0] ?? '';
  const m = /^project ([^:]+): (\S+) (is .*)$/.exec(entry.reason);
  if (m && (m[2] === kind || m[2]!.endsWith(`/${kind}`))) return `${entry.subject} ${m[3]} (project ${m[1]})`;
  return `${entry.subject}: ${entry.reason}`;
}

/**
 * The status a plan calls for: `error` when nothing could be judged (not planned, fetch failed, cluster
 * unreachable, the app itself refused by its project, as the synced status says), `failure` when the PR would break
 * the sync (render error, an object outside the project — checked first, as the sync does before any request —,
 * apiserver rejection naming the object and the field it quotes, an object another owner has, a blocked prune),
 * `success` with the counts otherwise.
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
  if (plan.appRefused !== undefined) return make('error', `Refused: ${plan.appRefused}`);
  if (plan.renderError !== undefined) return make('failure', `Render failed: ${plan.renderError}`);
  const [refused, ...more] = plan.refused ?? [];
  if (refused)
    return make('failure', `Refused: ${refusalText(refused)}${more.length ? ` (+${more.length} more)` : ''}`);
  const rejected = plan.objects.flatMap((o) =>
    o.error !== undefined ? [{ subject: o.subject, reason: rejectionReason(o.error) }] : [],
  );
  if (rejected.length > 0) return make('failure', `Rejected: ${firstOf(rejected)}`);
  if (plan.conflicts && plan.conflicts.length > 0) return make('failure', `Conflict: ${firstOf(plan.conflicts)}`);
  if (plan.prune.blocked && plan.prune.blockFails) return make('failure', plan.prune.blocked);
  // Hooks are not objects to change, but a merge runs them (SyncFail's only on a failure): the count says so.
  const hooks = plan.hooks?.filter((h) => h.phase !== 'SyncFail').length ?? 0;
  const running = hooks > 0 ? `; ${hooks} hook${hooks === 1 ? '' : 's'} would run` : '';
  return make('success', `${changeSummary(planCounts(plan))}${running}`);
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

/** GitHub refuses an issue comment longer than this, in characters (code points): 422 "body is too long". */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** Options of `planComment`. */
export interface PlanCommentOptions {
  cluster: string;
  /** Diff lines shown per app before the rest is cut (and counted). */
  maxDiffLines: number;
  /** Characters of diff shown per app, however short the comment. */
  maxDiffChars: number;
  /** Objects (refused, in conflict, adopted) and hooks listed per app and kind of finding before the rest is counted. */
  maxListed: number;
  /**
   * Characters (code points, as GitHub counts them) of the whole comment. Past it the largest diffs give way first,
   * then the lists of findings, then table rows (passing apps' first).
   */
  maxChars: number;
}

/**
 * Defaults of `planComment`: 200 diff lines and 12,000 characters per app, 20 objects per list, 65,000 characters
 * in all (a margin under GitHub's limit, should its count ever differ from ours on some character).
 */
export function defaultPlanCommentOptions(cluster: string): PlanCommentOptions {
  return { cluster, maxDiffLines: 200, maxDiffChars: 12_000, maxListed: 20, maxChars: GITHUB_COMMENT_LIMIT - 536 };
}

/** One row of the comment: a finished plan, or an app still being planned (its pending status). */
export type PlanRow = { plan: AppPlan; status: CommitStatus } | { app: string; status: CommitStatus };

const ICONS: Record<CommitStatus['state'], string> = { success: '✅', failure: '❌', error: '⚠️', pending: '⏳' };

/** Text safe inside a Markdown table cell: no pipe or line break ends the cell early. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** `Job/web/migrate`, or `Job/web/migrate-…` for a hook named by `generateName` only. */
export function hookSubject(obj: {
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string };
}): string {
  const name = obj.metadata.name || `${obj.metadata.generateName ?? ''}…`;
  return obj.metadata.namespace ? `${obj.kind}/${obj.metadata.namespace}/${name}` : `${obj.kind}/${name}`;
}

/**
 * What a plan found besides the diff, as Markdown a reviewer reads without opening anything: the objects its project
 * refuses (with the rule), those another owner has, those it would adopt or take over, and the hooks the sync would
 * run (which the plan itself never runs). Empty when there is none of these.
 */
export function planFindings(plan: AppPlan, maxListed: number): string[] {
  const out: string[] = [];
  const list = (title: string, lines: string[]) => {
    if (lines.length === 0) return;
    const shown = lines.slice(0, maxListed);
    const rest = lines.length - shown.length;
    out.push(
      '',
      `**\`${plan.app}\`** ${title}`,
      ...shown.map((l) => `- ${l}`),
      ...(rest > 0 ? [`- … and ${rest} more`] : []),
    );
  };
  const entries = (items: readonly PlannedEntry[] | undefined) =>
    (items ?? []).map((e) => `\`${e.subject}\`: ${oneLine(e.reason)}`);
  list('— refused by its project: a sync would apply and prune nothing', entries(plan.refused));
  list('— another owner manages these: a sync would leave them alone and fail', entries(plan.conflicts));
  list('— would be adopted (live, not created by Tether)', entries(plan.adopt));
  list(
    '— hooks a sync would run (this plan neither runs nor dry-runs them: a plan creates no Jobs)',
    (plan.hooks ?? []).map(
      (h) =>
        `${h.phase}${h.phase === 'SyncFail' ? ' (only if the sync fails)' : ''} · wave ${h.wave} · \`${h.subject}\``,
    ),
  );
  return out;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** The diff of a plan as text: each object's diff, apiserver errors and conflicts as `#` lines, then the prune. */
export function planDiff(plan: AppPlan): string {
  const parts: string[] = [];
  // An object another owner has is left as it is: what Git says of it would not be applied, so no diff is shown.
  const conflicts = new Map(plan.conflicts?.map((c) => [c.subject, c.reason]));
  for (const o of plan.objects) {
    if (o.error !== undefined) parts.push(`# ${o.subject}: rejected: ${rejectionReason(o.error)}`);
    else if (conflicts.has(o.subject)) parts.push(`# ${o.subject}: conflict, not applied: ${conflicts.get(o.subject)}`);
    else if (o.diff) parts.push(o.diff.replace(/\n+$/, ''));
  }
  for (const s of plan.prune.delete) parts.push(`# prune ${s}`);
  for (const k of plan.prune.keep) parts.push(`# keep ${k.subject}: ${k.reason}`);
  if (plan.prune.blocked) parts.push(`# ${plan.prune.blocked}`);
  return parts.join('\n');
}

/** A text's lines with their lengths in characters (code points), split once and cut many times. */
interface Lines {
  lines: string[];
  chars: number[];
}

function splitLines(text: string): Lines {
  const lines = text.split('\n');
  return { lines, chars: lines.map(charCount) };
}

/**
 * A line longer than what is left of the allowance is shown in part, cut on a character boundary, when at least
 * this many characters are left: a diff of one huge line (a JSON blob in a ConfigMap) then still shows its start.
 */
const MIN_PARTIAL_LINE = 80;

/** `lines` cut to at most `maxLines` lines and `maxChars` characters, with a last line counting what was left out. */
function cutSplit(text: Lines, maxLines: number, maxChars: number): { text: string; cut: boolean } {
  const kept: string[] = [];
  let chars = 0;
  let partial = false;
  for (const [i, line] of text.lines.entries()) {
    const room = maxChars - chars;
    if (kept.length >= maxLines) break;
    if (text.chars[i]! + 1 > room) {
      partial = room - 1 >= MIN_PARTIAL_LINE;
      if (partial) kept.push(cutChars(line, room - 1));
      break;
    }
    kept.push(line);
    chars += text.chars[i]! + 1;
  }
  const omitted = text.lines.length - kept.length;
  if (omitted === 0 && !partial) return { text: text.lines.join('\n'), cut: false };
  const more = `${omitted} more line${omitted === 1 ? '' : 's'}`;
  const note = partial ? (omitted > 0 ? `the rest of that line and ${more}` : 'the rest of that line') : more;
  return { text: `${kept.join('\n')}\n… ${note} not shown`, cut: true };
}

/**
 * `text` cut to at most `maxLines` lines and `maxChars` characters (code points), with a last line counting what was
 * left out. Whole lines are kept; a line that does not fit is shown in part only when much of the allowance is left,
 * and never cut inside a surrogate pair.
 */
export function cutLines(text: string, maxLines: number, maxChars: number): string {
  return cutSplit(splitLines(text), maxLines, maxChars).text;
}

/** A fence longer than any run of backticks in `text`, so a diff line cannot close the code block. */
function fence(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/** A cut diff shows at least this many characters: below it, the diff is left out and says so. */
const MIN_SHOWN_DIFF = 500;

/** Names listed per line of the comment's closing note before the rest is counted. */
const MAX_NAMED = 10;

/** What one app puts in the comment, redacted, before the comment is fitted to its length. */
interface AppSection {
  app: string;
  state: CommitStatus['state'];
  row: string;
  /** Its findings listed (planFindings), and the one line that counts them when the list does not fit. */
  findings: string[];
  brief: string[];
  /** Its collapsed diff, or why there is no plan. */
  block?: {
    summary: string;
    lang: 'diff' | 'text';
    text: Lines;
    fence: string;
    /** Characters of the block at the per-app limits: the largest give way first. */
    size: number;
  };
}

/** How much of each app the comment shows. */
interface Shape {
  /** Characters shown per diff (at most `maxDiffChars`). */
  cap: number;
  /** Apps whose diff is left out, whose findings are only counted, and which have no row at all. */
  dropped: ReadonlySet<number>;
  brief: ReadonlySet<number>;
  hidden: ReadonlySet<number>;
}

function appSection(row: PlanRow, options: PlanCommentOptions): AppSection {
  const status = `${ICONS[row.status.state]} ${cell(redactUrls(row.status.description))}`;
  if (!('plan' in row))
    return {
      app: row.app,
      state: row.status.state,
      row: `| \`${row.app}\` | ${status} | | | | | |`,
      findings: [],
      brief: [],
    };
  const { plan } = row;
  const detail = plan.notPlanned ?? plan.error ?? plan.appRefused ?? plan.renderError;
  const c = planCounts(plan);
  const section: AppSection = {
    app: plan.app,
    state: row.status.state,
    row:
      detail === undefined
        ? `| \`${plan.app}\` | ${status} | ${c.create} | ${c.change} | ${c.adopt} | ${c.prune} | ${c.unchanged} |`
        : `| \`${plan.app}\` | ${status} | | | | | |`,
    findings: detail === undefined ? planFindings(plan, options.maxListed).map(redactUrls) : [],
    brief: detail === undefined ? findingsCount(plan) : [],
  };
  // Redacted before any cut: a cut inside a URL could leave its credentials where the pattern no longer finds them.
  const text = redactUrls(detail !== undefined ? detail : planDiff(plan));
  if (text === '') return section;
  const lines = splitLines(text);
  const n = lines.lines.length;
  const block = {
    summary: detail !== undefined ? 'why' : `diff (${n} line${n === 1 ? '' : 's'})`,
    lang: detail !== undefined ? ('text' as const) : ('diff' as const),
    text: lines,
    fence: fence(text),
    size: 0,
  };
  section.block = block;
  block.size = charCount(detailsBlock(section, options.maxDiffLines, options.maxDiffChars).lines.join('\n'));
  return section;
}

/** The one line that counts an app's findings when they are not listed. */
function findingsCount(plan: AppPlan): string[] {
  const counts = [
    [plan.refused?.length ?? 0, 'refused by its project'],
    [plan.conflicts?.length ?? 0, 'another owner manages'],
    [plan.adopt?.length ?? 0, 'would be adopted'],
    [plan.hooks?.length ?? 0, 'hooks a sync would run'],
  ] as const;
  const said = counts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  return said.length > 0 ? ['', `**\`${plan.app}\`** — ${said.join(', ')} (not listed: see below)`] : [];
}

/** An app's collapsed diff with at most `maxLines` lines and `maxChars` characters shown; whether it was cut. */
function detailsBlock(s: AppSection, maxLines: number, maxChars: number): { lines: string[]; cut: boolean } {
  const b = s.block!;
  const shown = cutSplit(b.text, maxLines, maxChars);
  return {
    lines: [
      '',
      `<details><summary><code>${s.app}</code>: ${b.summary}</summary>`,
      '',
      `${b.fence}${b.lang}`,
      shown.text,
      b.fence,
      '',
      '</details>',
    ],
    cut: shown.cut,
  };
}

/** `a`, `b`, … and 3 more. */
function named(apps: readonly string[]): string {
  const shown = apps.slice(0, MAX_NAMED).map((a) => `\`${a}\``);
  return apps.length > MAX_NAMED ? `${shown.join(', ')} and ${apps.length - MAX_NAMED} more` : shown.join(', ');
}

/** The comment with `shape`'s share of each app, and a closing note naming what it leaves out and where it is. */
function composeComment(sections: readonly AppSection[], sha: string, options: PlanCommentOptions, shape: Shape) {
  const out = [
    planMarker(options.cluster),
    `### Tether plan · cluster \`${options.cluster}\``,
    '',
    `What merging \`${sha.slice(0, 7)}\` would do to this cluster, from a server-side dry-run of every object (nothing was written).`,
    '',
    '| App | Plan | Create | Change | Adopt | Prune | Unchanged |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const findings: string[] = [];
  const details: string[] = [];
  const cut: string[] = [];
  const dropped: string[] = [];
  const brief: string[] = [];
  for (const [i, s] of sections.entries()) {
    if (shape.hidden.has(i)) continue;
    out.push(s.row);
    if (shape.brief.has(i) && s.findings.length > 0) {
      findings.push(...s.brief);
      brief.push(s.app);
    } else findings.push(...s.findings);
    if (!s.block) continue;
    if (shape.dropped.has(i)) {
      dropped.push(s.app);
      continue;
    }
    const block = detailsBlock(s, options.maxDiffLines, Math.min(options.maxDiffChars, shape.cap));
    details.push(...block.lines);
    if (block.cut) cut.push(s.app);
  }
  const note: string[] = [];
  if (cut.length > 0) note.push(`- cut short, with a count of the lines left out: ${named(cut)}`);
  if (dropped.length > 0) note.push(`- left out: the diff${dropped.length === 1 ? '' : 's'} of ${named(dropped)}`);
  if (brief.length > 0) note.push(`- counted, not listed: the objects and hooks of ${named(brief)}`);
  if (shape.hidden.size > 0) {
    const failing = [...shape.hidden].filter((i) => sections[i]!.state !== 'success').length;
    note.push(
      `- not in the table: ${shape.hidden.size} more app${shape.hidden.size === 1 ? '' : 's'}${failing > 0 ? ` (${failing} not passing)` : ''}; each app's verdict is its \`${planContext(options.cluster, '<app>')}\` status on \`${sha.slice(0, 7)}\``,
    );
  }
  if (note.length > 0) {
    note.unshift(
      '',
      `**Not everything fits in this comment** (GitHub takes ${GITHUB_COMMENT_LIMIT.toLocaleString('en')} characters at most; long diffs are cut):`,
    );
    if (cut.length + dropped.length > 0)
      note.push(
        '',
        "An app's whole diff: `tether diff --config <file> --app <app>`, with the app's `ref` set to this pull request's branch.",
      );
  }
  // Every piece from outside (descriptions, findings, diffs) lost its URLs' credentials in appSection.
  return [...out, ...findings, ...details, ...note, ''].join('\n');
}

/** The least `n` in `[lo, hi]` for which `ok(n)` holds, `ok` being false then true as `n` grows; undefined if none. */
function least(lo: number, hi: number, ok: (n: number) => boolean): number | undefined {
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) {
      found = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return found;
}

/** Indexes of the sections whose `size` is not 0, largest first (the earlier first among equals). */
function largestFirst(sections: readonly AppSection[], size: (s: AppSection) => number): number[] {
  return sections
    .map((s, i) => ({ i, n: size(s) }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.i - b.i)
    .map((x) => x.i);
}

/** Failing apps keep their rows longest, passing ones give theirs up first (the last listed first). */
const ROW_KEPT: Record<CommitStatus['state'], number> = { failure: 0, error: 1, pending: 2, success: 3 };

/**
 * The PR comment of one agent: its marker, a table of the apps the PR touches (result and counts), and per app its
 * findings and a collapsed diff. Secret values are already masked in the diffs (core/drift.ts), long diffs are cut
 * with a count, and no URL keeps its credentials.
 *
 * The whole comment stays within `maxChars`, as GitHub counts them (code points), or GitHub refuses it and the pull
 * request gets no plan at all. Past it, the largest diffs are cut to a common length, then left out largest first;
 * then findings are only counted, largest first; then rows leave the table, passing apps' first. A closing note names
 * what was left out and where to see it. Cuts are whole lines or characters inside a code block the comment closes
 * itself: a cut never opens a fence it does not close or splits a surrogate pair.
 */
export function planComment(rows: readonly PlanRow[], sha: string, options: PlanCommentOptions): string {
  const sections = rows.map((r) => appSection(r, options));
  const none = new Set<number>();
  const compose = (shape: Shape) => composeComment(sections, sha, options, shape);
  const fits = (shape: Shape) => charCount(compose(shape)) <= options.maxChars;
  const full: Shape = { cap: options.maxDiffChars, dropped: none, brief: none, hidden: none };
  if (fits(full)) return compose(full);
  // Diffs: the fewest left out (largest first) that let the others show at least MIN_SHOWN_DIFF characters each,
  // then the largest length they can all be cut to.
  const byDiff = largestFirst(sections, (s) => s.block?.size ?? 0);
  const dropping = (k: number): Shape => ({ ...full, cap: MIN_SHOWN_DIFF, dropped: new Set(byDiff.slice(0, k)) });
  const k = least(0, byDiff.length, (n) => fits(dropping(n)));
  if (k !== undefined) {
    const lowest = dropping(k);
    const room = options.maxDiffChars - MIN_SHOWN_DIFF;
    const d = least(0, room, (n) => fits({ ...lowest, cap: options.maxDiffChars - n })) ?? room;
    return compose({ ...lowest, cap: options.maxDiffChars - d });
  }
  // Findings: counted instead of listed, largest first.
  const noDiffs = dropping(byDiff.length);
  const byFindings = largestFirst(sections, (s) => charCount(s.findings.join('\n')));
  const briefing = (n: number): Shape => ({ ...noDiffs, brief: new Set(byFindings.slice(0, n)) });
  const j = least(0, byFindings.length, (n) => fits(briefing(n)));
  if (j !== undefined) return compose(briefing(j));
  // Rows: passing apps leave the table first; each app's own status still says its verdict.
  const allBrief = briefing(byFindings.length);
  const byRow = sections
    .map((s, i) => ({ i, kept: ROW_KEPT[s.state] }))
    .sort((a, b) => b.kept - a.kept || b.i - a.i)
    .map((x) => x.i);
  const hiding = (n: number): Shape => ({ ...allBrief, hidden: new Set(byRow.slice(0, n)) });
  return compose(hiding(least(0, byRow.length, (n) => fits(hiding(n))) ?? byRow.length));
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
