// The editing engine: given files and a semantic request ("set these images to these versions"), compute every edit,
// verify each edited file by parsing it again, and return the new texts and the changes as data. Nothing is written
// here; callers write only after the whole plan succeeded, and can re-run the same request on a newer base.
import { isScalar, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { TetherError } from './errors.ts';
import { DEFAULT_MAX_FILE_BYTES, type FileText, type Skipped } from './file-text.ts';
import { globToRegExp, type PathScope, pathMatcher } from './glob.ts';
import { formatImageRef, type ImageRef, parseImageRef, tryParseImageRef } from './image-ref.ts';
import { type FieldSpec, findImageUses, type ImageClaim, type ImageUse, type ScalarSite } from './image-uses.ts';
import {
  applyTextEdits,
  insertPairsEdit,
  removePairEdit,
  type ScalarContext,
  setScalarEdit,
  type TextEdit,
} from './text-edits.ts';
import { lookupOwned, type Place, type ValueReaders, valueReaders } from './value-readers.ts';
import { emptyIntent, verifyEdit } from './verify-edits.ts';
import { formatVersion, newerThanRequested } from './version-order.ts';
import { defaultParseLimits, isYamlOrJsonPath, type ParsedFile, type ParseLimits, parseYamlFile } from './yaml-file.ts';
import { formatYamlPath } from './yaml-path.ts';

/** One changed value: the same shape is the CLI's `--json` output and the Action's `changes` output. */
export interface Change {
  /** The file, as the caller named it (repository-relative). */
  file: string;
  /** 0-based YAML document in the file. */
  document: number;
  /** YAML path of the value: `spec.template.spec.containers[0].image`, `images[0].newTag`. */
  location: string;
  /** The normalized repository the value belongs to. */
  image: string;
  /** The value before, as written; null when the key was inserted. */
  old: string | null;
  /** The value after; null when the key was removed (a stale digest). */
  new: string | null;
}

/** A file's new text. */
export interface FileEdit {
  path: string;
  newText: string;
}

/** The result of planning: new texts to write, what changed, what was skipped, requested images found nowhere. */
export interface EditPlan {
  edits: FileEdit[];
  changes: Change[];
  skipped: Skipped[];
  /** Requested images (as given) that no file uses. */
  unmatched: string[];
}

/** A semantic edit, independent of any file's bytes: re-plan it on a newer base and it means the same. */
export interface EditRequest {
  /** Full references, each with a tag and/or a digest (`ghcr.io/acme/web:1.2`, `nginx@sha256:…`), or already parsed. */
  images: readonly string[] | ImageRequest;
  /** Globs of files to consider (repository-relative), or already compiled; all YAML/JSON files when empty. */
  paths?: readonly string[] | PathScope;
  /** Extra YAML paths that hold images, for values no rule recognises. */
  fields?: readonly FieldSpec[];
  /**
   * Never downgrade: a use whose current tag is newer by semver than the requested one is kept and reported in
   * `skipped` with `kept` set (see newerThanRequested). Off by default: the requested version wins.
   */
  onlyNewer?: boolean;
}

/** Limits for planning. */
export interface PlanOptions {
  /** Files with more characters are skipped with a reason. */
  maxFileBytes: number;
  parseLimits: ParseLimits;
  /**
   * Skip parsing files whose raw text cannot name a requested image (see mayNameRequested). Changes no edit; off
   * only to prove that.
   */
  prefilter: boolean;
}

/** The defaults for planOptions. */
export function defaultPlanOptions(): PlanOptions {
  return { maxFileBytes: DEFAULT_MAX_FILE_BYTES, parseLimits: defaultParseLimits(), prefilter: true };
}

/** A requested image: the reference as given and parsed. */
export interface RequestedImage {
  input: string;
  ref: ImageRef;
}

/** Requested images keyed by normalized repository, as parseImageRequest returns them. */
export type ImageRequest = ReadonlyMap<string, RequestedImage>;

/**
 * Validates requested images: each must be a reference with a tag or digest, and one repository gets one version.
 * `label` names the input in messages (`--image`, `Input 'images' line 2`).
 */
export function parseImageRequest(
  images: readonly string[],
  label: (index: number) => string = (i) => `image ${i + 1}`,
): Map<string, RequestedImage> {
  const out = new Map<string, RequestedImage>();
  images.forEach((input, i) => {
    let ref: ImageRef;
    try {
      ref = parseImageRef(input.trim());
    } catch (err) {
      throw new TetherError('invalid-reference', `${label(i)}: ${(err as Error).message}`, { cause: err });
    }
    if (ref.tag === undefined && ref.digest === undefined)
      throw new TetherError('invalid-reference', `${label(i)}: "${input}" names no tag or digest to set`);
    const prior = out.get(ref.repository);
    if (prior && (prior.ref.tag !== ref.tag || prior.ref.digest !== ref.digest))
      throw new TetherError('input', `${label(i)}: "${input}" conflicts with "${prior.input}" (same repository)`);
    out.set(ref.repository, { input, ref });
  });
  return out;
}

/** What scanning one file found; the parsed documents are only valid during the callback. */
export interface ScannedFile {
  file: ParsedFile;
  uses: ImageUse[];
  /** Every place a rule read an image value at (for the shared-value check). */
  claims: ImageClaim[];
}

/**
 * Selects the YAML/JSON files matching `paths`, skips what cannot or must not be read (Helm chart templates, binary,
 * oversized), parses the rest and hands each with its image uses to `visit`, one at a time, so that a large tree's
 * syntax trees are never all held at once. Returns the skipped files.
 *
 * When images are requested (a bump, or the target side of a promotion), a file whose raw text cannot name any of
 * them is not parsed at all (mayNameRequested): it cannot produce an edit, and parsing is most of a large
 * repository's planning time. The rules below apply to the files that could matter.
 *
 * A file that does not parse (a CI file with repeated `<<:` keys, a Go-templated manifest) is skipped with a
 * warning, since by default every YAML file is in scope: one stray file must not block every edit. It is refused
 * only when its raw text mentions a requested repository, since an edit there might be missing; then one `parse`
 * error names every such file (`file:line:col`, and the line that mentions the image), after looking at all of
 * them, so that nothing is planned from a partial view. Alias bombs that are parsed are refused whatever they
 * mention.
 */
export function scanFiles(
  files: readonly FileText[],
  paths: readonly string[] | PathScope,
  fields: readonly FieldSpec[],
  options: Partial<PlanOptions>,
  visit: (scanned: ScannedFile) => void,
  requested: ReadonlyMap<string, RequestedImage> = new Map(),
): Skipped[] {
  const opts = { ...defaultPlanOptions(), ...options };
  const matches = 'matches' in paths ? paths.matches : pathMatcher(paths);
  // Helm chart templates are Go templates, not YAML; a chart is a directory holding Chart.yaml.
  const chartDirs = new Set(
    files.filter((f) => /(^|\/)Chart\.ya?ml$/.test(f.path)).map((f) => f.path.replace(/\/?Chart\.ya?ml$/, '')),
  );
  const isTemplate = (p: string) => {
    for (let i = p.indexOf('/templates/'); i >= 0; i = p.indexOf('/templates/', i + 1))
      if (chartDirs.has(p.slice(0, i))) return true;
    return p.startsWith('templates/') && chartDirs.has('');
  };
  const skipped: Skipped[] = [];
  const errors: string[] = [];
  const needles = opts.prefilter ? requestedNeedles(requested) : [];
  const fieldFiles = fields.map((f) =>
    f.files === undefined ? () => true : (p: string) => globToRegExp(f.files!).test(p),
  );
  for (const f of files) {
    if (!isYamlOrJsonPath(f.path) || !matches(f.path)) continue;
    if (isTemplate(f.path)) {
      skipped.push({ path: f.path, reason: 'Helm chart template (not YAML until rendered)' });
      continue;
    }
    if (f.text.length > opts.maxFileBytes) {
      skipped.push({ path: f.path, reason: `larger than ${opts.maxFileBytes} bytes` });
      continue;
    }
    if (f.text.includes('\u0000')) {
      skipped.push({ path: f.path, reason: 'binary (contains NUL bytes)' });
      continue;
    }
    if (needles.length > 0 && !fieldFiles.some((m) => m(f.path)) && !mayNameRequested(f.text, needles)) continue;
    let file: ParsedFile;
    try {
      file = parseYamlFile(f.path, f.text, opts.parseLimits);
    } catch (err) {
      if (err instanceof TetherError && err.code === 'parse') {
        // parseYamlFile's alias-bomb refusals end so; those files are hostile, not merely unparseable.
        const hostile = /refusing to expand it$/m.test(err.message);
        const mention = hostile ? undefined : mentionOf(f.text, requested);
        if (hostile) errors.push(err.message);
        else if (mention)
          errors.push(
            `${err.message}\n  ${f.path}:${mention.line} names ${mention.name}: an edit there may be missing`,
          );
        else
          skipped.push({
            path: f.path,
            reason: `does not parse, so it was not searched: ${err.message.split('\n')[0]}`,
            warning: true,
          });
        continue;
      }
      throw err;
    }
    // Once a file failed, the rest are only checked for parse errors: no plan will be returned.
    if (errors.length > 0) continue;
    const found = findImageUses(file, fields);
    for (const n of found.notes)
      skipped.push({
        path: f.path,
        location: n.location,
        reason: n.reason,
        ...(n.repository !== undefined ? { repository: n.repository } : {}),
      });
    visit({ file, uses: found.uses, claims: found.claims });
  }
  if (errors.length > 0)
    throw new TetherError(
      'parse',
      `${errors.length} file(s) do not parse and cannot be skipped; nothing was changed:\n${errors.slice(0, 20).join('\n')}`,
    );
  return skipped;
}

/**
 * What every spelling of a requested repository contains, as patterns: its last path segment (`web` for ghcr.io/acme/web,
 * `nginx` for docker.io/library/nginx). A reference written whole, a kustomize `name`/`newName`, an Argo CD
 * `name=ref`, a marker and a Helm `{registry, repository}` split (joined at a `/`, so the segment is in
 * `repository`) all hold it verbatim.
 */
function requestedNeedles(requested: ReadonlyMap<string, RequestedImage>): RegExp[] {
  const segments = new Set([...requested.values()].map(({ ref }) => ref.path.slice(ref.path.lastIndexOf('/') + 1)));
  // As a whole path component: `web` in `acme/web:1` or `name: web`, not in `web-admin` or `webapp`, which are
  // other names (a component is `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes; an upper-case letter cannot
  // touch it in a valid reference either).
  return [...segments].map((s) => new RegExp(`(?<![\\w.-])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.-])`));
}

/**
 * Whether a file's raw text could hold a use of a requested image, so that it must be parsed: it matches one of
 * the `needles` (requestedNeedles), a backslash (a quoted scalar's escape such as `\/` or `\u0077` can spell any
 * character), or a `tether:image=` marker (whose notes are reported whatever image it names). Files a `fields` entry
 * applies to are parsed by the caller regardless, since a field names its image outside the file. Path components
 * are lower-case by the reference grammar, so a case-sensitive search misses no spelling.
 */
export function mayNameRequested(text: string, needles: readonly RegExp[]): boolean {
  if (text.includes('\\') || text.includes('tether:image=')) return true;
  return needles.some((n) => n.test(text));
}

/**
 * The first line of a file's raw text that names one of the requested repositories, in any spelling the file might
 * use (`ghcr.io/acme/web`, `acme/web` beside a `registry:`, `nginx`, `library/nginx`, `docker.io/library/nginx`).
 */
export function mentionOf(
  text: string,
  requested: ReadonlyMap<string, RequestedImage>,
): { line: number; name: string } | undefined {
  let best: { index: number; name: string } | undefined;
  for (const { ref } of requested.values()) {
    const forms = new Set([ref.name, ref.repository, ref.path]);
    if (ref.domain === 'docker.io') forms.add(ref.path.replace(/^library\//, ''));
    for (const form of forms) {
      const escaped = form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const m = new RegExp(`(?<![\\w./-])${escaped}(?![\\w/-])`).exec(text);
      if (m && (!best || m.index < best.index)) best = { index: m.index, name: ref.repository };
    }
  }
  if (!best) return undefined;
  return { line: text.slice(0, best.index).split('\n').length, name: best.name };
}

/**
 * Plans a bump: sets every use of each requested image to exactly the requested tag and/or digest, removing a
 * stale digest when only a tag is given (and, in kustomize, a stale newTag when only a digest is). A value shared
 * with something not requested, or an edit that would render a wrong reference, refuses the plan. Every edited
 * file is parsed again and compared with the intent. Pure: files in, new texts and changes out; nothing is returned
 * unless every edited file verified (files that do not parse are skipped with a warning, see scanFiles).
 */
export function planEdits(
  files: readonly FileText[],
  request: EditRequest,
  options: Partial<PlanOptions> = {},
): EditPlan {
  const images = request.images;
  const requested = 'size' in images ? images : parseImageRequest(images);
  const plan: EditPlan = { edits: [], changes: [], skipped: [], unmatched: [] };
  const used = new Set<string>();
  const notes: Skipped[] = [];
  const skipped = scanFiles(
    files,
    request.paths ?? [],
    request.fields ?? [],
    options,
    ({ file, uses, claims }) => {
      let fp: FilePlanner | undefined;
      for (const use of uses) {
        const want = use.repositories.map((r) => requested.get(r)).find((r) => r !== undefined);
        if (!want) continue;
        used.add(want.ref.repository);
        const newer = request.onlyNewer ? newerThanRequested(use.version, want.ref) : undefined;
        if (newer !== undefined) {
          notes.push({
            path: file.path,
            location: use.location,
            reason: `already at ${newer}, newer than the requested ${formatVersion(want.ref)} (only-newer)`,
            kept: newer,
          });
          continue;
        }
        fp ??= new FilePlanner(file);
        fp.apply(use, want.ref);
      }
      if (!fp) return;
      notes.push(...fp.skipped);
      if (fp.edits.length === 0) return;
      fp.checkShared(uses, claims, requested);
      fp.checkRendered();
      const newText = applyTextEdits(file.text, fp.edits);
      verifyEdit(file, newText, fp.intent);
      plan.edits.push({ path: file.path, newText });
      plan.changes.push(...fp.changes.sort((a, b) => a.at - b.at).map(({ at: _, ...c }) => c));
    },
    requested,
  );
  // An invalid current value matters only for the images requested; for those it is a warning, not a silent skip.
  const relevant = skipped.filter((s) => s.repository === undefined || requested.has(s.repository));
  for (const s of relevant) if (s.repository !== undefined) s.warning = true;
  plan.skipped.push(...relevant, ...notes);
  for (const r of requested.values()) if (!used.has(r.ref.repository)) plan.unmatched.push(r.input);
  return plan;
}

/** Collects the text edits, intent and changes for one file. */
class FilePlanner {
  readonly edits: TextEdit[] = [];
  readonly intent = emptyIntent();
  readonly changes: (Change & { at: number })[] = [];
  readonly skipped: Skipped[] = [];
  private readonly ctx: ScalarContext;
  private readonly touchedMaps = new Set<YAMLMap>();
  /** Each edited scalar (set or removed) and each map given new keys, with the use that edited it. */
  private readonly edited = new Map<Scalar, { use: ImageUse; site: ScalarSite; image: string }>();
  private readonly extended = new Map<YAMLMap, { use: ImageUse; keys: string[]; image: string }>();
  private readonly applied: { use: ImageUse; want: ImageRef }[] = [];

  constructor(private readonly file: ParsedFile) {
    this.ctx = { text: file.text, json: file.json };
  }

  /** Plans setting one use to the requested reference; changes name the repository as requested. */
  apply(use: ImageUse, want: ImageRef): void {
    const image = want.repository;
    this.applied.push({ use, want });
    if (use.ref) {
      const value = formatImageRef({ name: use.ref.name, tag: want.tag, digest: want.digest });
      this.setScalar(use, use.ref, `${use.ref.prefix ?? ''}${value}`, image);
      return;
    }
    if (use.tagWithDigest && use.tag) {
      // One scalar holds `tag@digest`: a digest-only request keeps the tag, a tag-only one drops the stale digest.
      const tag = want.tag ?? use.tag.value.slice(0, use.tag.value.indexOf('@'));
      this.setScalar(use, use.tag, want.digest ? `${tag}@${want.digest}` : tag, image);
      return;
    }
    const split = use.split;
    const inserts: [string, string][] = [];
    if (want.tag !== undefined) {
      if (use.tag) this.setScalar(use, use.tag, want.tag, image);
      else if (split) inserts.push([split.tagKey, want.tag]);
      else this.skip(use, `has no tag field to set ${want.tag} in`);
    }
    if (want.digest !== undefined) {
      if (use.digest) this.setScalar(use, use.digest, want.digest, image);
      else if (split?.canAddDigest) inserts.push([split.digestKey, want.digest]);
      else this.skip(use, `has no digest field; ${want.digest} is not pinned there`);
      // `kustomize edit set image name@digest` drops newTag: a digest replaces the tag there.
      if (want.tag === undefined && split?.render === 'kustomize' && use.tag && use.tag.value !== '')
        this.removeSite(use, use.tag, image);
    } else if (use.digest && use.digest.value !== '') {
      // A pinned digest outlives a new tag: the old image would keep running. Remove it, and say so.
      this.removeSite(use, use.digest, image);
    }
    if (inserts.length > 0 && split) this.insert(use, split.node, inserts, image);
  }

  /** The value a site reads after the planned edits: set, removed (undefined) or unchanged. */
  private after(site: ScalarSite | undefined): string | undefined {
    if (!site) return undefined;
    const set = this.intent.scalars.get(site.node);
    if (set !== undefined) return set;
    for (const p of this.intent.removed) if (p.value === site.node) return undefined;
    return site.value;
  }

  /**
   * Renders every edited use the way its consumer will (kustomize's images transformer, a chart's image helper, the
   * reference itself) and refuses the plan unless the result is a valid reference carrying the requested version:
   * `newName: awesome/postgres:11` with a `newTag` would render as `awesome/postgres:11:9.9.9`.
   */
  checkRendered(): void {
    for (const { use, want } of this.applied) {
      const sites = [use.ref, use.tag, use.digest, use.split?.name, use.split?.registry];
      const touched =
        sites.some((s) => s && this.edited.has(s.node)) || (use.split && this.intent.inserted.has(use.split.node));
      if (!touched) continue;
      const rendered = this.render(use);
      if (rendered === undefined) continue;
      const ref = tryParseImageRef(rendered);
      let why: string | undefined;
      if (!ref) why = 'which is not a valid image reference';
      // A marker or field may name a mirror of the image (`reg.local/web` for ghcr.io/acme/web): its name is the
      // user's word; only rule-found uses must render under the repository they matched.
      else if (use.source !== 'marker' && use.source !== 'field' && !use.repositories.includes(ref.repository))
        why = `which names ${ref.repository}, not ${want.repository}`;
      else if (want.digest !== undefined && ref.digest !== undefined && ref.digest !== want.digest)
        why = `whose digest is not ${want.digest}`;
      else if (want.digest === undefined && ref.digest !== undefined) why = 'which still pins the old digest';
      else if (ref.digest === undefined && want.tag !== undefined && ref.tag !== want.tag)
        why = `whose tag is not ${want.tag}`;
      if (why)
        throw new TetherError(
          'edit',
          `${this.file.path}: ${use.location || '(root)'} would render as "${rendered}", ${why}; nothing was changed`,
        );
    }
  }

  /** The reference a use renders as after the edits, or undefined when it cannot be known from this file. */
  private render(use: ImageUse): string | undefined {
    const split = use.split;
    const inserted = split ? this.intent.inserted.get(split.node) : undefined;
    const tag = inserted?.get(split?.tagKey ?? '') ?? this.after(use.tag);
    const digest = inserted?.get(split?.digestKey ?? '') ?? this.after(use.digest);
    if (split?.render === 'kustomize') {
      // The images transformer: newName (or the manifest's own name) as written, then @digest or :newTag.
      const written = use.ref ? this.after(use.ref) : this.after(split.name);
      if (written === undefined) return undefined;
      // `name` only matches: the manifest's image is renamed to its repository, never to a tag written there.
      const name = use.ref ? written : (tryParseImageRef(written)?.name ?? written);
      if (digest) return `${name}@${digest}`;
      return tag ? `${name}:${tag}` : name;
    }
    if (use.ref) return this.after(use.ref)?.slice(use.ref.prefix?.length ?? 0);
    if (split?.render === 'helm') {
      const repository = this.after(split.name);
      const registry = this.after(split.registry);
      if (!repository) return undefined;
      const name = registry ? `${registry}/${repository}` : repository;
      // An empty tag falls back to the chart's appVersion, which this file does not say.
      if (!tag && !digest) return undefined;
      return `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
    }
    // Marker and field sites: the repository they were declared for, with the tag and digest they hold.
    if (!tag && !digest) return undefined;
    return `${use.repositories[0]}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  }

  /**
   * Refuses to edit a value that something the request does not cover also reads. An anchored scalar is read at its
   * anchor and at every alias (and through `<<` merges); editing it for one image changes all of them. Each place
   * must be read by a requested image (whose plan, applied to the same node, already agreed on the value). The place
   * where the anchor is written counts only when a rule reads an image there: `v: &v 1.0` alone is a definition.
   */
  checkShared(
    uses: readonly ImageUse[],
    claims: readonly ImageClaim[],
    requested: ReadonlyMap<string, RequestedImage>,
  ): void {
    // Without an alias every value is read at exactly the one place it is written.
    if (!this.file.text.includes('*')) return;
    const readers = new Map<number, ValueReaders>();
    const readersOf = (document: number) => {
      let r = readers.get(document);
      if (!r) {
        r = valueReaders(this.file.docs[document]!);
        readers.set(document, r);
      }
      return r;
    };
    const byPlace = new Map<unknown, Map<string, ImageClaim[]>>();
    for (const c of claims) {
      let m = byPlace.get(c.place.parent);
      if (!m) {
        m = new Map();
        byPlace.set(c.place.parent, m);
      }
      const k = String(c.place.key);
      m.set(k, [...(m.get(k) ?? []), c]);
    }
    const isRequested = (repositories: readonly string[]) => repositories.some((r) => requested.has(r));
    for (const [node, { use, site, image }] of this.edited) {
      const places = readersOf(use.document).places.get(node) ?? [];
      if (places.length <= 1) continue;
      for (const place of places) {
        const here = (byPlace.get(place.parent)?.get(String(place.key)) ?? []).filter((c) => c.node === node);
        if (here.length === 0 && place.direct) continue;
        const other = here.find((c) => !isRequested(c.repositories));
        if (here.length > 0 && !other) continue;
        const who = other
          ? `by ${other.repositories[0]}, which this request does not set`
          : 'by something that is not an image this request sets';
        throw this.sharedError(formatYamlPath(site.path), use, image, place, who);
      }
    }
    for (const [map, { use, keys, image }] of this.extended) {
      for (const reader of readersOf(use.document).mergedInto.get(map) ?? []) {
        for (const key of keys) {
          if (lookupOwned(reader, key, this.file.docs[use.document]!)) continue;
          const covered = uses.some((u) => u.split?.node === reader && isRequested(u.repositories));
          if (covered) continue;
          const readerPath = readersOf(use.document).places.get(reader)?.[0]?.path ?? [];
          const place: Place = { parent: reader, key, path: [...readerPath, key], direct: false };
          const defined = use.location ? `${use.location}.${key}` : key;
          throw this.sharedError(defined, use, image, place, 'through a `<<` merge');
        }
      }
    }
  }

  private sharedError(defined: string, use: ImageUse, image: string, place: Place, who: string): TetherError {
    const at = formatYamlPath(place.path) || '(root)';
    return new TetherError(
      'edit',
      `${this.file.path}: ${defined} holds ${image} (used at ${use.location}) and is also read at ${at} ${who}; ` +
        `editing it would change both. Split the anchor: give ${at} its own value instead of an alias, then run again.`,
    );
  }

  private skip(use: ImageUse, reason: string): void {
    this.skipped.push({ path: this.file.path, location: use.location, reason: `${use.repositories[0]} ${reason}` });
  }

  private setScalar(use: ImageUse, site: ScalarSite, value: string, image: string): void {
    const node = site.node;
    const prior = this.intent.scalars.get(node);
    if (prior !== undefined) {
      // The same anchored scalar reached through an alias: edited once, unless two images disagree about it.
      if (prior === value) return;
      throw new TetherError(
        'edit',
        `${this.file.path}: ${formatYamlPath(site.path)} is shared by images that need "${prior}" and "${value}"`,
      );
    }
    if (site.value === value && typeof node.value === 'string') return;
    const edit = setScalarEdit(node, value, this.ctx);
    if (typeof edit === 'string') {
      this.skip(use, `at ${formatYamlPath(site.path)}: ${edit}`);
      return;
    }
    this.edits.push(edit);
    this.intent.scalars.set(node, value);
    this.edited.set(node, { use, site, image });
    this.record(use, site, image, site.value, value);
  }

  /** Removes a stale tag or digest pair where the format allows, else sets it to an empty string. */
  private removeSite(use: ImageUse, site: ScalarSite, image: string): void {
    const split = use.split;
    if (split?.canRemoveDigest) {
      const pair = split.node.items.find((p: Pair) => p.value === site.node);
      const edit = pair ? removePairEdit(split.node, pair, this.ctx) : 'the digest is inherited';
      if (typeof edit !== 'string') {
        this.edits.push(edit);
        this.intent.removed.add(pair!);
        this.edited.set(site.node, { use, site, image });
        this.record(use, site, image, site.value, null);
        return;
      }
    }
    // Helm values keep their keys (charts document `digest: ""`); an empty value is no value.
    this.setScalar(use, site, '', image);
  }

  private insert(use: ImageUse, map: YAMLMap, entries: [string, string][], image: string): void {
    if (this.touchedMaps.has(map)) return;
    this.touchedMaps.add(map);
    // After the tag when there is one, else after the last scalar pair that stays (not a digest being removed).
    const own = map.items.filter((p) => isScalar(p.key) && isScalar(p.value) && !this.intent.removed.has(p));
    const tagKey = use.split!.tagKey;
    const after = own.find((p) => (p.key as Scalar).value === tagKey) ?? own[own.length - 1];
    const edit = after ? insertPairsEdit(map, after, entries, this.ctx) : 'the map has no pair to insert after';
    if (typeof edit === 'string') {
      this.skip(use, `cannot add ${entries.map((e) => e[0]).join(', ')}: ${edit}`);
      return;
    }
    this.edits.push(edit);
    this.intent.inserted.set(map, new Map(entries));
    this.extended.set(map, { use, keys: entries.map((e) => e[0]), image });
    for (const [key, value] of entries) {
      this.changes.push({
        file: this.file.path,
        document: use.document,
        location: use.location ? `${use.location}.${key}` : key,
        image,
        old: null,
        new: value,
        at: edit.start,
      });
    }
  }

  private record(use: ImageUse, site: ScalarSite, image: string, old: string | null, value: string | null): void {
    this.changes.push({
      file: this.file.path,
      document: use.document,
      location: formatYamlPath(site.path),
      image,
      old,
      new: value,
      at: site.node.range![0],
    });
  }
}
