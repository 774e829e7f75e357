// Promotion: read the versions of the images used in one environment (the source file set) and set the same images
// to those versions in another (the target file set). Only image versions move; replicas, resources and every
// other per-environment value in the target stay. The source and target are separate file sets so that the Action
// can read the source at the commit that passed its checks and the target at the newest base.
import { TetherError } from './errors.ts';
import type { FileText, Skipped } from './file-text.ts';
import { formatImageRef, type ImageVersion } from './image-ref.ts';
import type { FieldSpec, ImageUseSource } from './image-uses.ts';
import { type EditPlan, type EditRequest, type PlanOptions, planEdits, scanFiles } from './plan-edits.ts';

/** The version of one image in the source, and every place it was read from. */
export interface SourceVersion {
  /** Normalized repository. */
  image: string;
  version: ImageVersion;
  /** The full reference to set in the target (`ghcr.io/acme/web:1.2@sha256:…`). */
  ref: string;
  from: { file: string; location: string }[];
}

/** A promotion: the versions read from the source, the bump request they make, and its plan on the target. */
export interface PromotionPlan extends EditPlan {
  versions: SourceVersion[];
  /** The same promotion as a semantic bump: re-plan it with planEdits on a newer target base. */
  request: EditRequest;
}

/** Where to look in each file set, and extra image fields. */
export interface PromotionOptions extends Partial<PlanOptions> {
  /** Globs selecting the source files among `source` (all when empty). */
  sourcePaths?: readonly string[];
  /** Globs selecting the target files among `target` (all when empty); carried into `request.paths`. */
  targetPaths?: readonly string[];
  fields?: readonly FieldSpec[];
}

/**
 * Reads the version of every image used in the source files. A kustomize `images:` entry overrides the manifests it
 * applies to, so its version wins over a container's; two different versions at the same rank are an `input` error
 * naming every place, since copying either would be a guess.
 */
export function collectSourceVersions(
  source: readonly FileText[],
  options: Pick<PromotionOptions, 'sourcePaths' | 'fields' | 'maxFileBytes' | 'parseLimits'> = {},
  skipped: Skipped[] = [],
): SourceVersion[] {
  // Only the facts are kept from each file, not its syntax tree.
  type Found = { file: string; location: string; source: ImageUseSource; version: ImageVersion };
  const byImage = new Map<string, Found[]>();
  const sourceSkipped = scanFiles(source, options.sourcePaths ?? [], options.fields ?? [], options, ({ uses }) => {
    for (const use of uses) {
      if (use.version.tag === undefined && use.version.digest === undefined) continue;
      const image = use.repositories[0]!;
      const found = { file: use.file, location: use.location, source: use.source, version: use.version };
      byImage.set(image, [...(byImage.get(image) ?? []), found]);
    }
  });
  // Source files that do not parse were not read: the plan says so (a version there would not be promoted).
  skipped.push(...sourceSkipped.filter((x) => x.warning));
  const out: SourceVersion[] = [];
  for (const [image, all] of [...byImage].sort(([a], [b]) => a.localeCompare(b))) {
    const top = all.some((u) => u.source === 'kustomize') ? all.filter((u) => u.source === 'kustomize') : all;
    const key = (v: ImageVersion) => formatImageRef({ name: '', ...v });
    const versions = new Set(top.map((u) => key(u.version)));
    if (versions.size > 1) {
      const places = top.map((u) => `${u.file} ${u.location} = ${key(u.version).replace(/^:/, '')}`);
      throw new TetherError(
        'input',
        `${image} has ${versions.size} different versions in the source; promote one version per image:\n  ${places.join('\n  ')}`,
      );
    }
    const version = top[0]!.version;
    out.push({
      image,
      version,
      ref: formatImageRef({ name: image, ...version }),
      from: top.map((u) => ({ file: u.file, location: u.location })),
    });
  }
  return out;
}

/** Plans a promotion: the source's image versions applied to the target files, as a bump. Pure. */
export function planPromotion(
  source: readonly FileText[],
  target: readonly FileText[],
  options: PromotionOptions = {},
): PromotionPlan {
  const sourceSkipped: Skipped[] = [];
  const versions = collectSourceVersions(source, options, sourceSkipped);
  const request: EditRequest = {
    images: versions.map((v) => v.ref),
    paths: [...(options.targetPaths ?? [])],
    fields: [...(options.fields ?? [])],
  };
  const plan = planEdits(target, request, options);
  plan.skipped.unshift(...sourceSkipped);
  return { ...plan, versions, request };
}
