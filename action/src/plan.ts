// Planning: what a run changes, from files already read. Pure: the run reads the environment repo and the
// statuses, these functions decide, and the push or the PR lifecycle writes.
import { TetherError } from '../../shared/src/errors.ts';
import type { FileText } from '../../shared/src/file-text.ts';
import type { PathScope } from '../../shared/src/glob.ts';
import type { ImageVersion } from '../../shared/src/image-ref.ts';
import type { FieldSpec } from '../../shared/src/image-uses.ts';
import { type EditPlan, type ImageRequest, planEdits } from '../../shared/src/plan-edits.ts';
import { planPromotion } from '../../shared/src/promote.ts';
import { newerThanRequested } from '../../shared/src/version-order.ts';
import { bumpTarget } from './change-key.ts';
import type { Mode } from './inputs.ts';
import type { Evidence } from './pr-text.ts';
import type { CommitWithStatuses, StatusEntry, StatusGate } from './status-gate.ts';

/** A plan, the change key it belongs to, and how to make it again on a newer base. */
export interface Planned {
  plan: EditPlan;
  /** The images of the change key: those requested (bump) or read from the source (promote, rollback). */
  images: string[];
  /** The target environment directory ('' when neither `paths` nor a change names one). */
  target: string;
  /** Whether the target came from the inputs, so that the change key does not depend on what changed. */
  targetFromInputs: boolean;
  /** What the versions come from, for texts: the source directory, or the target at the commit restored. */
  from?: string;
  evidence?: Evidence;
  /** The files the plan reads from the target base. */
  reads: (path: string) => boolean;
  /** The same semantic edit on another base's files (direct-push retries). */
  replan: (files: readonly FileText[]) => EditPlan;
}

/** Whether `path` is `dir` or below it (`''` is the whole repository). */
export function under(dir: string): (path: string) => boolean {
  const d = dir.replace(/^\.?\/+|\/+$/g, '');
  return (p) => d === '' || p === d || p.startsWith(`${d}/`);
}

/** Plans a bump: the requested images set in the files `paths` selects. */
export function planBump(
  files: readonly FileText[],
  request: { images: ImageRequest; paths: PathScope; fields?: readonly FieldSpec[]; onlyNewer?: boolean },
): Planned {
  const edit = {
    images: request.images,
    paths: request.paths,
    ...(request.fields ? { fields: request.fields } : {}),
    ...(request.onlyNewer ? { onlyNewer: true } : {}),
  };
  const plan = planEdits(files, edit);
  return {
    plan,
    images: [...request.images.keys()],
    target: bumpTarget(request.paths.globs, plan.changes),
    targetFromInputs: request.paths.globs.length > 0,
    reads: request.paths.matches,
    replan: (next) => planEdits(next, edit),
  };
}

/** A version as only-newer reports it (`<tag>[@<digest>]`), for ordering by its tag. */
function reportedVersion(v: string): ImageVersion {
  return { tag: v.split('@')[0] };
}

/**
 * only-newer with an open PR of the change key: the values the PR proposes at a newer version than both the request
 * and the base. `head` is the request planned on the PR head's files: a value kept there is newer than requested,
 * and it is the PR's own when the base does not hold it as new. Reported as `skipped: <file> already at <version> in
 * #<n>`; when the request would raise other values of the PR, each is named `not applied`, as the PR is left whole.
 */
export function newerInPullRequest(base: EditPlan, head: EditPlan, pr: number): string[] {
  const key = (s: { path: string; location?: string }) => `${s.path}\0${s.location ?? ''}`;
  const atBase = new Map(base.skipped.flatMap((s) => (s.kept ? [[key(s), s.kept] as const] : [])));
  const newer = head.skipped.filter((s) => {
    if (!s.kept) return false;
    const b = atBase.get(key(s));
    return b === undefined || newerThanRequested(reportedVersion(s.kept), reportedVersion(b)) !== undefined;
  });
  if (newer.length === 0) return [];
  return [
    ...new Set(newer.map((s) => `skipped: ${s.path} already at ${s.kept} in #${pr}`)),
    ...head.changes.map(
      (c) =>
        `not applied: ${c.file} ${c.location} → ${c.new ?? '∅'}, as #${pr} proposes newer versions and is left as it is`,
    ),
  ];
}

/** The refusal when no commit passes the gate: which commits were looked at and what the newest had. */
export function gateRefusal(
  mode: Exclude<Mode, 'bump'>,
  dir: string,
  gate: StatusGate,
  newest: { sha: string; summary: string } | undefined,
): TetherError {
  const pattern = gate.patterns.join(', ') || 'any status';
  const which = mode === 'rollback' ? `no earlier commit touching ${dir}` : `no commit touching ${dir}`;
  const seen = newest ? `; newest is ${newest.sha.slice(0, 7)}: ${newest.summary}` : '';
  return new TetherError('input', `${which} has success for ${pattern}${seen}`);
}

/**
 * Plans a promotion or rollback: the versions in `source` (the source directory at the commit that passed the
 * gate) set on the same images in `target` (the target directory at the newest base).
 */
export function planRestore(o: {
  mode: Exclude<Mode, 'bump'>;
  sourceDir: string;
  to: string;
  /** How source and target read in texts and the change key when they are on different branches. */
  labels?: { source: string; target: string };
  source: readonly FileText[];
  target: readonly FileText[];
  commit: CommitWithStatuses;
  matched: readonly StatusEntry[];
  /** Web URL of the source commit, when the server is known. */
  commitUrl?: string;
  /** Extra YAML paths that hold images (the `fields` input). */
  fields?: readonly FieldSpec[];
}): Planned {
  const plan = planPromotion(o.source, o.target, {
    sourcePaths: [`${o.sourceDir}/**`],
    targetPaths: [`${o.to}/**`],
    ...(o.fields ? { fields: o.fields } : {}),
  });
  const inTarget = under(o.to);
  const source = o.labels?.source ?? o.sourceDir;
  const target = o.labels?.target ?? o.to;
  return {
    plan,
    images: plan.versions.map((v) => v.image),
    target,
    targetFromInputs: true,
    reads: inTarget,
    from: o.mode === 'promote' ? source : `${target}@${o.commit.sha.slice(0, 7)}`,
    evidence: {
      from: source,
      sha: o.commit.sha,
      ...(o.commitUrl ? { commitUrl: o.commitUrl } : {}),
      statuses: o.matched,
    },
    replan: (files) =>
      planEdits(
        files.filter((f) => inTarget(f.path)),
        plan.request,
      ),
  };
}
