// Finds every place a file uses an image, without markers: full references under `image:` and any key ending in
// `image` (container images of any workload, Pod image volumes' `reference`), kustomize `images:` entries (and Argo
// CD's `kustomize.images` strings), Helm-style `{registry, repository, tag|version, digest}` and `{name, tag}` maps at
// any depth, `# tether:image=<repository>[:part]` marker comments, and YAML paths the user names. Values that name an
// image but are not valid references are noted, never used.
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { globToRegExp } from './glob.ts';
import {
  checkDigest,
  checkTag,
  explainInvalidReference,
  type ImageVersion,
  normalizeRepository,
  repositoryPrefix,
  tryNormalizeRepository,
  tryParseImageRef,
} from './image-ref.ts';
import { keyOf, lookupOwned, mergedMaps, type Place } from './value-readers.ts';
import type { ParsedFile } from './yaml-file.ts';
import { formatYamlPath, type PathSegment, parseYamlPath } from './yaml-path.ts';

/** Which rule found a use. */
export type ImageUseSource = 'container' | 'image' | 'helm' | 'kustomize' | 'marker' | 'field';

/** Which part of a reference a scalar holds: all of it, or one field of a split value. */
export type ImagePart = 'ref' | 'tag' | 'digest' | 'name';

/** One scalar that holds an image reference or part of one, at the place it is defined (its anchor, if aliased). */
export interface ScalarSite {
  node: Scalar;
  path: PathSegment[];
  /** The value as text: a string as read, other scalars (`1.10`) as written. */
  value: string;
  /** The places the rule read it at (a map key or list index, through aliases and merges). */
  readAt: Place[];
}

/** A map whose keys hold the parts of a split reference; missing keys can be inserted, stale ones removed. */
export interface SplitMap {
  node: YAMLMap;
  tagKey: string;
  digestKey: string;
  /** May a missing digest key be added? Only where the format defines one (kustomize), not in arbitrary values. */
  canAddDigest: boolean;
  /** May a stale digest pair be deleted (kustomize), or only emptied (Helm values keep their keys)? */
  canRemoveDigest: boolean;
  /**
   * How the renderer joins the parts: `kustomize` renders `newName` (or the manifest's name) with `@digest` when a
   * digest is set and `:newTag` otherwise, so a digest replaces the tag (as `kustomize edit set image` does);
   * `helm` renders `[registry/]repository[:tag][@digest]`, the way the widely used charts join them.
   */
  render: 'kustomize' | 'helm';
  /** The scalar holding the repository name (`repository`, `name`; `newName` or `name` for kustomize). */
  name?: ScalarSite;
  /** The registry scalar of a `{registry, repository}` map. */
  registry?: ScalarSite;
}

/** One use of an image in a file: a full-reference scalar, or the tag/digest scalars of a split value. */
export interface ImageUse {
  file: string;
  /** 0-based index of the YAML document in the file. */
  document: number;
  source: ImageUseSource;
  /** YAML path of the reference scalar, or of the map that holds the split value. */
  location: string;
  /** The normalized repositories this use answers to (a kustomize entry answers to `name` and `newName`). */
  repositories: string[];
  /** The version the file holds now. */
  version: ImageVersion;
  /** The full reference scalar, with the name as written there (kept when the version changes). */
  ref?: ScalarSite & {
    name: string;
    /** Text before the reference in the same scalar, kept as written: `web=` in Argo CD's `web=ghcr.io/acme/web:1`. */
    prefix?: string;
  };
  /** The tag scalar holds `tag@digest` (`tag: 11.5.0@sha256:…`, which charts join as `repository:tag`). */
  tagWithDigest?: boolean;
  tag?: ScalarSite;
  digest?: ScalarSite;
  split?: SplitMap;
}

/** A YAML path the user names as holding (part of) an image, for values no rule recognises. */
export interface FieldSpec {
  /** YAML path in the file, e.g. `frontend.imageTag`. */
  path: string;
  /** The repository the value belongs to. */
  image: string;
  /** Which part the value holds; `ref` (a full reference) by default. */
  part?: ImagePart;
  /** Glob of the files it applies to; all files when absent. */
  files?: string;
}

/** Something the scan saw but could not use, with the reason (e.g. a marker on a value that is no reference). */
export interface ScanNote {
  location: string;
  reason: string;
  /** For an invalid current value: the repository it seems to name, so the planner reports it when requested. */
  repository?: string;
}

/** A place where a rule read (part of) an image: the planner's record of who uses a shared value. */
export interface ImageClaim {
  node: Scalar;
  place: Place;
  document: number;
  repositories: string[];
}

/** What a scan of one file found. */
export interface ImageScan {
  uses: ImageUse[];
  notes: ScanNote[];
  /** Every place a rule read an image value at, including places of uses merged as duplicates. */
  claims: ImageClaim[];
}

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);
/** Keys whose value is an image: `image`, and any key ending in it (`sidecarImage`, `inline_image`), as Renovate. */
const IMAGE_KEY = /image$/i;
const MARKER = /(?:^|[ \t])#[^\n]*?tether:image=([^\s]+)/g;
const KUSTOMIZE_FILE = /(^|\/)(kustomization\.ya?ml|Kustomization)$/;

interface Marker {
  lineStart: number;
  offset: number;
  repository: string;
  part: ImagePart;
  best?: { node: Scalar; path: PathSegment[]; at: number; readAt: Place };
}

/** Finds every image use in a parsed file. Pure: reads the parsed documents, changes nothing. */
export function findImageUses(file: ParsedFile, fields: readonly FieldSpec[] = []): ImageScan {
  const scan: ImageScan = { uses: [], notes: [], claims: [] };
  const markers = findMarkers(file.text, scan);
  const applicableFields = fields.filter((f) => f.files === undefined || globToRegExp(f.files).test(file.path));
  file.docs.forEach((doc, index) => {
    scanDocument(file, doc, index, markers, applicableFields, scan);
  });
  return scan;
}

function findMarkers(text: string, scan: ImageScan): Marker[] {
  if (!text.includes('tether:image=')) return [];
  const out: Marker[] = [];
  for (const m of text.matchAll(MARKER)) {
    const offset = m.index! + m[0].length - m[1]!.length - 'tether:image='.length;
    let spec = m[1]!;
    let part: ImagePart = 'ref';
    const suffix = /:(tag|digest|name)$/.exec(spec);
    if (suffix) {
      part = suffix[1] as ImagePart;
      spec = spec.slice(0, -suffix[0].length);
    }
    const repository = tryNormalizeRepository(spec);
    if (repository === undefined) {
      scan.notes.push({ location: `marker "${m[1]}"`, reason: `"${spec}" is not a repository name` });
      continue;
    }
    out.push({ lineStart: text.lastIndexOf('\n', offset) + 1, offset, repository, part });
  }
  return out;
}

/** The text of a scalar's value: strings as read, anything else as written in the source (`1.10`, not 1.1). */
export function scalarText(node: Scalar, text: string): string {
  if (typeof node.value === 'string') return node.value;
  if (node.value === null) return '';
  return node.range ? text.slice(node.range[0], node.range[1]) : String(node.value);
}

/** Looks a key up in a map, then in the maps it merges with `<<`, resolving aliases. */
function lookup(map: YAMLMap, key: string, doc: Document.Parsed): Pair | undefined {
  return lookupOwned(map, key, doc)?.pair;
}

function scanDocument(
  file: ParsedFile,
  doc: Document.Parsed,
  document: number,
  markers: Marker[],
  fields: readonly FieldSpec[],
  scan: ImageScan,
): void {
  const { text } = file;
  const anchorPaths = new Map<Node, PathSegment[]>();
  const found: ImageUse[] = [];
  const path: PathSegment[] = [];
  const parents: Node[] = [];

  /**
   * The scalar under `key` of the map being visited (or of a map it merges), with the path where that scalar is
   * defined: its anchor's path when reached through an alias, the merged map's path when inherited with `<<`.
   */
  const siteAt = (map: YAMLMap, key: string): ScalarSite | undefined => {
    const hit = lookupOwned(map, key, doc);
    if (!hit) return undefined;
    const value = hit.pair.value;
    const target = isAlias(value) ? value.resolve(doc) : value;
    if (!isScalar(target) || !target.range) return undefined;
    const ownerPath = hit.owner === map ? path : (anchorPaths.get(hit.owner) ?? path);
    const where = target === value ? [...ownerPath, key] : (anchorPaths.get(target) ?? [...ownerPath, key]);
    const readAt: Place = { parent: map, key, path: [...path, key], direct: hit.owner === map && target === value };
    return { node: target, path: where, value: scalarText(target, text), readAt: [readAt] };
  };

  const onImageKey = (map: YAMLMap, key: string) => {
    const site = siteAt(map, key);
    if (!site || typeof site.node.value !== 'string') return;
    const ref = tryParseImageRef(site.value);
    if (!ref) {
      invalidValue(site, site.value);
      return;
    }
    const n = path.length;
    const container =
      key === 'image' && n >= 2 && typeof path[n - 1] === 'number' && CONTAINER_LISTS.has(String(path[n - 2]));
    found.push({
      file: file.path,
      document,
      source: container ? 'container' : 'image',
      location: formatYamlPath(site.path),
      repositories: [ref.repository],
      version: versionOf(ref.tag, ref.digest),
      ref: { ...site, path: site.path, name: ref.name },
    });
  };

  /** A value that names an image but is no valid reference (`web:{GENERATED_TAG}`): reported, never edited. */
  const invalidValue = (site: ScalarSite, value: string) => {
    const why = explainInvalidReference(value);
    const repository = repositoryPrefix(value);
    if (why === undefined || repository === undefined) return;
    scan.notes.push({
      location: formatYamlPath(site.path),
      reason: `"${value}" is not a valid image reference (${why}); not edited`,
      repository,
    });
  };

  /**
   * A map of split parts: `{[registry,] repository, tag|version[, digest]}` (Helm charts, Bitnami's with a
   * registry), or, under a key ending in `image`, `{name, tag}`.
   */
  const onSplitMap = (map: YAMLMap, nameKey: 'repository' | 'name' | 'image') => {
    const repoSite = siteAt(map, nameKey);
    if (!repoSite || typeof repoSite.node.value !== 'string' || repoSite.value === '') return;
    const tagKey = !lookup(map, 'tag', doc) && lookup(map, 'version', doc) ? 'version' : 'tag';
    const tagPair = lookup(map, tagKey, doc);
    const digestPair = lookup(map, 'digest', doc);
    if (!tagPair && !digestPair && !IMAGE_KEY.test(String(path[path.length - 1]))) return;
    const registrySite = siteAt(map, 'registry');
    const full = registrySite && registrySite.value !== '' ? `${registrySite.value}/${repoSite.value}` : repoSite.value;
    const repository = tryNormalizeRepository(full);
    if (!repository) return;
    const use: ImageUse = {
      file: file.path,
      document,
      source: 'helm',
      location: formatYamlPath(path),
      repositories: [repository],
      version: {},
      split: {
        node: map,
        tagKey,
        digestKey: 'digest',
        canAddDigest: false,
        canRemoveDigest: false,
        render: 'helm',
        name: repoSite,
        ...(registrySite ? { registry: registrySite } : {}),
      },
    };
    const tag = siteAt(map, tagKey);
    const digest = siteAt(map, 'digest');
    if ((tagPair && !tag) || (digestPair && !digest)) return;
    if (tag) use.tag = tag;
    if (digest) use.digest = digest;
    // `tag: 11.5.0@sha256:…` (no digest key): the tag field holds both, and the chart renders repository:tag.
    const at = tag && !digest ? tag.value.indexOf('@') : -1;
    if (tag && at > 0 && !checkTag(tag.value.slice(0, at)) && !checkDigest(tag.value.slice(at + 1))) {
      use.tagWithDigest = true;
      use.version = versionOf(tag.value.slice(0, at), tag.value.slice(at + 1));
      found.push(use);
      return;
    }
    // A placeholder another tool fills in (`{GENERATED_TAG}`) or a broken digest: reported, and left alone.
    if (tag && tag.value !== '' && checkTag(tag.value)) return invalidValue(tag, `${full}:${tag.value}`);
    if (digest && digest.value !== '' && checkDigest(digest.value))
      return invalidValue(digest, `${full}@${digest.value}`);
    use.version = versionOf(tag?.value, digest?.value);
    found.push(use);
  };

  /**
   * Argo CD's `kustomize.images` (an Application's source, or the `.argocd-source-<app>.yaml` argocd-image-updater
   * writes): strings `[<name>=]<reference>`, which kustomize applies as `edit set image`.
   */
  const onArgoImages = (seq: YAMLSeq) => {
    seq.items.forEach((item, i) => {
      if (!isScalar(item) || typeof item.value !== 'string' || !item.range) return;
      const value = item.value;
      const eq = value.indexOf('=');
      const prefix = eq >= 0 ? value.slice(0, eq + 1) : '';
      const ref = tryParseImageRef(value.slice(prefix.length));
      const at = [...path, i];
      const readAt: Place = { parent: seq, key: i, path: at, direct: true };
      const site: ScalarSite = { node: item, path: at, value, readAt: [readAt] };
      if (!ref) {
        invalidValue(site, value.slice(prefix.length));
        return;
      }
      const alias = prefix ? tryNormalizeRepository(prefix.slice(0, -1)) : undefined;
      found.push({
        file: file.path,
        document,
        source: 'kustomize',
        location: formatYamlPath(at),
        repositories: [...new Set([ref.repository, ...(alias ? [alias] : [])])],
        version: versionOf(ref.tag, ref.digest),
        ref: { ...site, name: ref.name, ...(prefix ? { prefix } : {}) },
      });
    });
  };

  /** Which rules a map may hold: keys ending in `image`, a repository map, or a map under an `*image` key. */
  const onMap = (map: YAMLMap) => {
    const imageKeys: string[] = [];
    let repository = false;
    let merges = false;
    for (const pair of map.items) {
      const k = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof k === 'symbol' || k === '<<') merges = true;
      else if (k === 'repository') repository = true;
      else if (typeof k === 'string' && IMAGE_KEY.test(k)) imageKeys.push(k);
    }
    if (merges) {
      // Keys inherited with `<<` count as the map's own, unless the map overrides them.
      for (const m of mergedMaps(map, doc))
        for (const pair of m.items) {
          const k = keyOf(pair.key);
          if (k === 'repository') repository = true;
          else if (k !== undefined && IMAGE_KEY.test(k) && !imageKeys.includes(k)) imageKeys.push(k);
        }
    }
    // `{image: nginx, tag: 1.25}`: a bare repository under `image` with a tag beside it is a split value (Renovate's
    // helm-values heuristic), not a reference without a version.
    const bareImage =
      !repository && imageKeys.includes('image') && (lookup(map, 'tag', doc) || lookup(map, 'version', doc))
        ? siteAt(map, 'image')
        : undefined;
    const splitImage = bareImage !== undefined && tryNormalizeRepository(bareImage.value) !== undefined;
    for (const k of imageKeys) if (!(splitImage && k === 'image')) onImageKey(map, k);
    if (splitImage) onSplitMap(map, 'image');
    if (repository) onSplitMap(map, 'repository');
    else if (IMAGE_KEY.test(String(path[path.length - 1] ?? ''))) {
      // Under an `*image` key: a Pod image volume's `{reference}`, or a `{name, tag}` map.
      // GitLab CI's `image: {name: <reference>, entrypoint: […]}` holds a full reference under `name`.
      const named = lookup(map, 'tag', doc) || lookup(map, 'version', doc) ? undefined : siteAt(map, 'name');
      const namedRef = named && typeof named.node.value === 'string' ? tryParseImageRef(named.value) : undefined;
      const reference = siteAt(map, 'reference') ?? (namedRef?.tag || namedRef?.digest ? named : undefined);
      if (reference) {
        const ref = typeof reference.node.value === 'string' ? tryParseImageRef(reference.value) : undefined;
        if (!ref) invalidValue(reference, reference.value);
        else
          found.push({
            file: file.path,
            document,
            source: 'image',
            location: formatYamlPath(reference.path),
            repositories: [ref.repository],
            version: versionOf(ref.tag, ref.digest),
            ref: { ...reference, name: ref.name },
          });
      } else onSplitMap(map, 'name');
    }
  };

  const markerCandidate = (value: unknown) => {
    const start = (value as Node).range?.[0];
    if (start === undefined) return;
    for (const m of markers) {
      if (start < m.lineStart || start >= m.offset) continue;
      const target = isAlias(value) ? value.resolve(doc) : value;
      if (!isScalar(target)) continue;
      if (!m.best || start > m.best.at) {
        const where = target === value ? [...path] : (anchorPaths.get(target) ?? [...path]);
        const parent = parents[parents.length - 1]!;
        const readAt: Place = { parent, key: path[path.length - 1]!, path: [...path], direct: target === value };
        m.best = { node: target, path: where, at: start, readAt };
      }
    }
  };

  const visit = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    if ((node as Node).anchor) anchorPaths.set(node as Node, [...path]);
    if (markers.length > 0 && (isScalar(node) || isAlias(node))) markerCandidate(node);
    if (isMap(node)) {
      onMap(node);
      parents.push(node);
      for (const pair of node.items) {
        const k = keyOf(pair.key);
        if (k === undefined) continue;
        path.push(k);
        visit(pair.value);
        path.pop();
      }
      parents.pop();
    } else if (isSeq(node)) {
      if (path[path.length - 1] === 'images' && path[path.length - 2] === 'kustomize') onArgoImages(node);
      parents.push(node);
      for (let i = 0; i < node.items.length; i++) {
        path.push(i);
        visit(node.items[i]);
        path.pop();
      }
      parents.pop();
    }
  };
  visit(doc.contents);

  scanKustomization(file, doc, document, found);
  const claimed = new Set<Node>();
  const explicit: ImageUse[] = [];
  splitGroups(
    file,
    document,
    'marker',
    markers.filter((m) => m.best).map((m) => ({ ...m.best!, repository: m.repository, part: m.part })),
    explicit,
    scan,
  );
  splitGroups(file, document, 'field', resolveFields(doc, fields, anchorPaths, scan), explicit, scan);
  for (const m of markers) m.best = undefined;
  for (const use of explicit) for (const s of sitesOf(use)) claimed.add(s.node);
  scan.uses.push(...explicit);
  // Every place a rule read a value at, including uses dropped below as duplicates: the planner checks a shared
  // value's other places against these.
  for (const use of [...explicit, ...found])
    for (const s of sitesOf(use))
      for (const place of s.readAt) scan.claims.push({ node: s.node, place, document, repositories: use.repositories });
  // The same scalar reached twice (through an alias, or by two rules) is one use; but one scalar shared by two
  // different images stays two uses, so that the planner can see they disagree.
  const seen = new Map<Node, string>();
  for (const use of found) {
    const sites = sitesOf(use);
    const identity = use.repositories.join(' ');
    if (sites.some((s) => claimed.has(s.node))) continue;
    if (sites.length > 0 && sites.every((s) => seen.get(s.node) === identity)) continue;
    for (const s of sites) seen.set(s.node, identity);
    scan.uses.push(use);
  }
}

function sitesOf(use: ImageUse): ScalarSite[] {
  return [use.ref, use.tag, use.digest].filter((s): s is NonNullable<typeof s> => s !== undefined);
}

function versionOf(tag: string | undefined, digest: string | undefined): ImageVersion {
  const v: ImageVersion = {};
  if (tag) v.tag = tag;
  if (digest) v.digest = digest;
  return v;
}

/** Kustomize `images:` entries (and Flux's `spec.images`), matched by `name` or `newName`. */
function scanKustomization(file: ParsedFile, doc: Document.Parsed, document: number, found: ImageUse[]): void {
  const root = doc.contents;
  if (!isMap(root)) return;
  const kind = lookup(root, 'kind', doc);
  const apiVersion = lookup(root, 'apiVersion', doc);
  const kindText = isScalar(kind?.value) ? String(kind.value.value) : undefined;
  const api = isScalar(apiVersion?.value) ? String(apiVersion.value.value) : '';
  let images: unknown;
  let base: PathSegment[] = [];
  // Flux's Kustomization first: a file of that kind may well be named kustomization.yaml.
  if (kindText === 'Kustomization' && api.startsWith('kustomize.toolkit.fluxcd.io/')) {
    const spec = lookup(root, 'spec', doc)?.value;
    if (isMap(spec)) images = lookup(spec, 'images', doc)?.value;
    base = ['spec'];
  } else if (
    KUSTOMIZE_FILE.test(file.path) ||
    (kindText === 'Kustomization' && api.startsWith('kustomize.config.k8s.io/'))
  )
    images = lookup(root, 'images', doc)?.value;
  if (isAlias(images)) images = images.resolve(doc);
  if (!isSeq(images)) return;
  images.items.forEach((item, i) => {
    const entry = isAlias(item) ? item.resolve(doc) : item;
    if (!isMap(entry)) return;
    const at = [...base, 'images', i];
    const site = (key: string): ScalarSite | undefined => {
      const hit = lookupOwned(entry, key, doc);
      const v = hit?.pair.value;
      const s = isAlias(v) ? v.resolve(doc) : v;
      if (!isScalar(s) || !s.range) return undefined;
      const readAt: Place = { parent: entry, key, path: [...at, key], direct: hit!.owner === entry && s === v };
      return { node: s, path: [...at, key], value: scalarText(s, file.text), readAt: [readAt] };
    };
    const name = site('name');
    const newName = site('newName');
    // `name` only matches (a tag there is ignored, as Renovate does); `newName` is rendered as written, so one
    // carrying a tag or digest (`newName: awesome/postgres:11`) holds the version itself.
    const nameRef = name && name.value !== '' ? tryParseImageRef(name.value) : undefined;
    const newRef = newName && newName.value !== '' ? tryParseImageRef(newName.value) : undefined;
    const repositories = [nameRef, newRef].map((r) => r?.repository).filter((r): r is string => r !== undefined);
    if (repositories.length === 0) return;
    const split: SplitMap = {
      node: entry,
      tagKey: 'newTag',
      digestKey: 'digest',
      canAddDigest: true,
      canRemoveDigest: true,
      render: 'kustomize',
    };
    const renderedName = newName && newRef ? newName : name;
    if (renderedName) split.name = renderedName;
    const use: ImageUse = {
      file: file.path,
      document,
      source: 'kustomize',
      location: formatYamlPath(at),
      repositories: [...new Set(repositories.reverse())],
      version: {},
      split,
    };
    if (newName && newRef && (newRef.tag !== undefined || newRef.digest !== undefined)) {
      use.ref = { ...newName, name: newRef.name };
      use.version = versionOf(newRef.tag, newRef.digest);
    }
    const tag = site('newTag');
    const digest = site('digest');
    if (tag) use.tag = tag;
    if (digest) use.digest = digest;
    if (!use.ref) use.version = versionOf(tag?.value, digest?.value);
    found.push(use);
  });
}

interface ExplicitSite {
  node: Scalar;
  path: PathSegment[];
  repository: string;
  part: ImagePart;
  readAt: Place;
}

function resolveFields(
  doc: Document.Parsed,
  fields: readonly FieldSpec[],
  anchorPaths: Map<Node, PathSegment[]>,
  scan: ImageScan,
): ExplicitSite[] {
  const out: ExplicitSite[] = [];
  for (const f of fields) {
    const segments = parseYamlPath(f.path);
    let node: unknown = doc.contents;
    let parent: Node | undefined;
    let direct = true;
    for (const seg of segments) {
      if (isAlias(node)) node = node.resolve(doc);
      parent = node as Node;
      if (typeof seg === 'number') node = isSeq(node) ? node.items[seg] : undefined;
      else if (isMap(node)) {
        const hit = lookupOwned(node, seg, doc);
        direct = hit?.owner === node;
        node = hit?.pair.value;
      } else node = undefined;
      if (node === undefined) break;
    }
    if (isAlias(node)) {
      direct = false;
      node = node.resolve(doc);
    }
    if (node === undefined) continue;
    if (!isScalar(node) || !node.range) {
      scan.notes.push({ location: f.path, reason: 'the path names a map or list, not a scalar' });
      continue;
    }
    out.push({
      node,
      path: anchorPaths.get(node) ?? segments,
      repository: normalizeRepository(f.image),
      part: f.part ?? 'ref',
      readAt: { parent: parent!, key: segments[segments.length - 1]!, path: segments, direct },
    });
  }
  return out;
}

/** Turns marker or field sites into uses: a `ref` site alone, tag/digest/name sites grouped by image and parent. */
function splitGroups(
  file: ParsedFile,
  document: number,
  source: 'marker' | 'field',
  sites: ExplicitSite[],
  out: ImageUse[],
  scan: ImageScan,
): void {
  // Several tag or digest sites of one image may sit under one parent (three `--field` paths, two markers): each
  // is a site of its own. The i-th tag and the i-th digest of a parent form one use, so that a tag and its digest
  // still move together.
  const groups = new Map<
    string,
    { parent: PathSegment[]; repository: string; tags: ScalarSite[]; digests: ScalarSite[] }
  >();
  for (const s of sites) {
    const value = scalarText(s.node, file.text);
    const location = formatYamlPath(s.path);
    if (s.part === 'ref') {
      const ref = tryParseImageRef(value);
      if (!ref) {
        scan.notes.push({ location, reason: `"${value}" is not an image reference` });
        continue;
      }
      out.push({
        file: file.path,
        document,
        source,
        location,
        repositories: [s.repository],
        version: versionOf(ref.tag, ref.digest),
        ref: { node: s.node, path: s.path, value, name: ref.name, readAt: [s.readAt] },
      });
      continue;
    }
    if (s.part === 'name') continue;
    const parent = s.path.slice(0, -1);
    const key = `${s.repository}\u0000${formatYamlPath(parent)}`;
    let group = groups.get(key);
    if (!group) {
      group = { parent, repository: s.repository, tags: [], digests: [] };
      groups.set(key, group);
    }
    const site = { node: s.node, path: s.path, value, readAt: [s.readAt] };
    if (s.part === 'tag' && !group.tags.some((t) => t.node === s.node)) group.tags.push(site);
    if (s.part === 'digest' && !group.digests.some((d) => d.node === s.node)) group.digests.push(site);
  }
  for (const g of groups.values()) {
    for (let i = 0; i < Math.max(g.tags.length, g.digests.length); i++) {
      const use: ImageUse = {
        file: file.path,
        document,
        source,
        location: formatYamlPath(g.parent),
        repositories: [g.repository],
        version: versionOf(g.tags[i]?.value, g.digests[i]?.value),
      };
      if (g.tags[i]) use.tag = g.tags[i];
      if (g.digests[i]) use.digest = g.digests[i];
      out.push(use);
    }
  }
}
