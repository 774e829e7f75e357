import { cutChars } from '../../shared/src/chars.ts';
import { tryParseImageRef } from '../../shared/src/image-ref.ts';
import type { Change } from '../../shared/src/plan-edits.ts';
import { imageShortName } from './change-key.ts';
import type { Mode } from './inputs.ts';
import type { StatusEntry } from './status-gate.ts';

/** Where the run that built the image is, from the runner's environment. */
export interface RunLink {
  url: string;
  label: string;
}

/** The workflow run link from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID` (undefined outside Actions). */
export function runLink(env: NodeJS.ProcessEnv): RunLink | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: id } = env;
  if (!server || !repo || !id) return undefined;
  return { url: `${server.replace(/\/+$/, '')}/${repo}/actions/runs/${id}`, label: `${repo} run ${id}` };
}

/** Evidence for a promotion or rollback: the source commit and the statuses that let it through. */
export interface Evidence {
  from: string;
  sha: string;
  commitUrl?: string;
  statuses: readonly StatusEntry[];
}

/** What the texts are made from. */
export interface ChangeSummary {
  mode: Mode;
  target: string;
  from?: string;
  changes: readonly Change[];
  run?: RunLink;
  evidence?: Evidence;
  branch?: string;
  /** The PR head commit the text describes (named in the body's marker). */
  head?: string;
  /** Files skipped because they do not parse, and invalid current values of the requested images. */
  warnings?: readonly string[];
}

/** A change's value as a version: the tag/digest part of a reference, or the value itself. */
function versionOf(value: string | null): string {
  if (value === null) return '∅';
  const ref = tryParseImageRef(value);
  if (ref && (ref.tag || ref.digest))
    return [ref.tag, ref.digest ? `@${ref.digest.slice(0, 19)}…` : ''].filter(Boolean).join('');
  return cutChars(value, 40);
}

/** The new version per image, for titles: `web 1.4.2, api 2.0.0`. */
export function versionList(changes: readonly Change[]): string {
  const byImage = new Map<string, string>();
  for (const c of changes) {
    if (c.new === null) continue;
    const v = versionOf(c.new);
    if (!byImage.has(c.image) || c.location.endsWith('newTag') || c.location.endsWith('tag')) byImage.set(c.image, v);
  }
  return [...byImage].map(([image, v]) => `${imageShortName(image)} ${v}`).join(', ');
}

/** GitHub refuses a pull request whose title or body is longer than this (422 "is too long"). */
const MAX_TITLE = 256;
const MAX_BODY = 65_536;

/** The default PR title (and first commit line), cut to what GitHub accepts (it counts code points). */
export function defaultTitle(s: ChangeSummary): string {
  const versions = versionList(s.changes);
  const title =
    s.mode === 'promote'
      ? `Promote ${s.from} → ${s.target}: ${versions}`
      : s.mode === 'rollback'
        ? `Roll back ${s.target}: ${versions}`
        : `Bump ${versions}${s.target ? ` in ${s.target}` : ''}`;
  return cutChars(title, MAX_TITLE);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The Markdown table of changes: image, file, old → new, digest, run; the first `rows` of them when given. */
export function changeTable(s: ChangeSummary, rows = s.changes.length): string {
  const listed = s.changes.slice(0, rows).map((c) => {
    const digest = c.new && /@?(sha\d+:[a-f0-9]+)/.exec(c.new)?.[1];
    const removed = c.new === null ? ' (stale digest removed)' : '';
    return `| \`${cell(c.image)}\` | \`${cell(c.file)}\` \`${cell(c.location)}\` | \`${cell(c.old ?? '∅')}\` → \`${cell(c.new ?? '∅')}\`${removed} | ${digest ? `\`${digest.slice(0, 19)}…\`` : ''} | ${s.run ? `[${cell(s.run.label)}](${s.run.url})` : ''} |`;
  });
  const more = s.changes.length - listed.length;
  if (more > 0) listed.push(`| … | ${more} more values, listed in the commit message | | | |`);
  return ['| Image | File | Old → New | Digest | Built by |', '|---|---|---|---|---|', ...listed].join('\n');
}

/**
 * The PR body: the user's text, the change table, the evidence, and a marker naming the change key and head. A
 * change too large for GitHub's limit lists as many changes and warnings as fit (the commit message lists every
 * change); the marker is always kept.
 */
export function prBody(s: ChangeSummary, userBody?: string): string {
  const whole = Math.max(s.changes.length, s.warnings?.length ?? 0);
  const full = bodyListing(s, userBody, whole);
  if (full.length <= MAX_BODY) return full;
  // The most items per list that fit.
  let fits = 0;
  for (let lo = 0, hi = whole - 1; lo <= hi; ) {
    const mid = (lo + hi) >> 1;
    if (bodyListing(s, userBody, mid).length <= MAX_BODY) {
      fits = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return bodyListing(s, userBody, fits);
}

/** The PR body with at most `items` changes and warnings listed. */
function bodyListing(s: ChangeSummary, userBody: string | undefined, items: number): string {
  const parts: string[] = [];
  if (userBody) parts.push(userBody.trim(), '');
  const what =
    s.mode === 'promote'
      ? `Promotes \`${s.from}\` → \`${s.target}\``
      : s.mode === 'rollback'
        ? `Rolls \`${s.target}\` back`
        : `Bumps images${s.target ? ` in \`${s.target}\`` : ''}`;
  parts.push(
    `${what} (${s.changes.length} value${s.changes.length === 1 ? '' : 's'} changed, nothing else).`,
    '',
    changeTable(s, items),
  );
  if (s.evidence) {
    const e = s.evidence;
    const sha = e.commitUrl ? `[\`${e.sha.slice(0, 7)}\`](${e.commitUrl})` : `\`${e.sha.slice(0, 7)}\``;
    parts.push('', `### Evidence`, '', `Versions read from \`${e.from}\` at ${sha}, whose statuses were:`, '');
    if (e.statuses.length === 0) parts.push('- (no status required)');
    for (const st of e.statuses) {
      const link = st.target_url ? ` ([details](${st.target_url}))` : '';
      const on = st.on ? ` (posted on \`${st.on.slice(0, 7)}\`, a later commit that did not change \`${e.from}\`)` : '';
      parts.push(
        `- \`${st.context}\`: **${st.state}**${st.description ? ` — ${cell(st.description)}` : ''}${link}${on}`,
      );
    }
  }
  if (s.warnings?.length) {
    parts.push('', '### Warnings', '');
    for (const w of s.warnings.slice(0, items)) parts.push(`- ${cell(w)}`);
    if (s.warnings.length > items) parts.push(`- … and ${s.warnings.length - items} more`);
  }
  parts.push('', `<!-- tether:${s.mode}${s.branch ? ` branch=${s.branch}` : ''}${s.head ? ` head=${s.head}` : ''} -->`);
  return parts.join('\n');
}

/** The default commit message: the title, then one line per change. */
export function defaultCommitMessage(s: ChangeSummary): string {
  const lines = s.changes.map((c) => `- ${c.file} ${c.location}: ${c.old ?? '∅'} → ${c.new ?? '∅'}`);
  const trailer = s.run ? [`\nBuilt-by: ${s.run.url}`] : [];
  const evidence = s.evidence ? [`\nSource: ${s.evidence.from}@${s.evidence.sha}`] : [];
  return [defaultTitle(s), '', ...lines, ...evidence, ...trailer].join('\n');
}
