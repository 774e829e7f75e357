// Container image references by the distribution reference grammar
// (https://github.com/distribution/reference/blob/main/reference.go), with Docker Hub normalization
// (`nginx` ≡ `docker.io/library/nginx`) so that every spelling of one repository matches.
import { TetherError } from './errors.ts';

/** A parsed image reference: where it lives, how it was spelled, and which version it names. */
export interface ImageRef {
  /** The name as written, without tag or digest (`nginx`, `localhost:5000/app`). */
  name: string;
  /** Registry host with optional port, normalized: `docker.io` for Docker Hub. */
  domain: string;
  /** Repository path inside the registry, normalized: `library/nginx` for an official Docker Hub image. */
  path: string;
  /** `domain/path`: the identity images are matched by. */
  repository: string;
  /** The tag, if any (`1.2`). */
  tag?: string;
  /** The digest, if any (`sha256:…`). */
  digest?: string;
}

/** The version part of a reference: tag and/or digest. */
export interface ImageVersion {
  tag?: string;
  digest?: string;
}

const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const DIGEST = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$/;
// go-digest checks the length and lower-case hex of the algorithms it knows; others only by the grammar.
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX = 255;

/** Parses a full reference (`[domain/]path[:tag][@digest]`); throws `invalid-reference` saying what is wrong. */
export function parseImageRef(text: string): ImageRef {
  const why = explainInvalid(text);
  if (typeof why === 'string') throw invalid(text, why);
  return why;
}

/** Like parseImageRef, but returns undefined instead of throwing (for scanning values that may not be images). */
export function tryParseImageRef(text: string): ImageRef | undefined {
  const r = explainInvalid(text);
  return typeof r === 'string' ? undefined : r;
}

/** Why a text is not a valid reference, or undefined when it is one. */
export function explainInvalidReference(text: string): string | undefined {
  const r = explainInvalid(text);
  return typeof r === 'string' ? r : undefined;
}

/**
 * The normalized repository a text seems to name even when its version is invalid (`web:{GENERATED_TAG}`,
 * `web@sha256:<18 hex digits>`): the part before `@`, and before a `:` that follows the last `/`.
 */
export function repositoryPrefix(text: string): string | undefined {
  let rest = text;
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) rest = rest.slice(0, colon);
  return tryNormalizeRepository(rest);
}

/** Normalizes a repository name without tag or digest (`nginx` → `docker.io/library/nginx`); throws if invalid. */
export function normalizeRepository(name: string): string {
  const r = explainInvalid(name);
  if (typeof r === 'string') throw invalid(name, r);
  if (r.tag !== undefined || r.digest !== undefined) throw invalid(name, 'a repository name has no tag or digest');
  return r.repository;
}

/** Like normalizeRepository, but undefined for anything that is not a bare repository name. */
export function tryNormalizeRepository(name: string): string | undefined {
  const r = explainInvalid(name);
  return typeof r === 'string' || r.tag !== undefined || r.digest !== undefined ? undefined : r.repository;
}

/** Formats `name[:tag][@digest]`, keeping the name as it was written. */
export function formatImageRef(ref: { name: string } & ImageVersion): string {
  return `${ref.name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Checks a tag by the grammar; returns why it is invalid, or undefined. */
export function checkTag(tag: string): string | undefined {
  if (tag === '') return 'the tag is empty';
  if (!TAG.test(tag)) return `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
  return undefined;
}

/** Checks a digest (`algorithm:hex`); returns why it is invalid, or undefined. */
export function checkDigest(digest: string): string | undefined {
  const m = DIGEST.exec(digest);
  if (!m) return `digest "${digest}" must be <algorithm>:<hex, at least 32 digits>`;
  const want = DIGEST_HEX_LENGTH[m[1]!];
  if (want !== undefined && (m[2]!.length !== want || /[A-F]/.test(m[2]!)))
    return `a ${m[1]} digest has ${want} lower-case hex digits, "${digest}" has ${m[2]!.length}`;
  return undefined;
}

function invalid(text: string, why: string): TetherError {
  return new TetherError('invalid-reference', `"${text}" is not an image reference: ${why}`);
}

/** The parsed reference, or a sentence saying why the text is not one. */
function explainInvalid(text: string): ImageRef | string {
  if (text === '') return 'it is empty';
  if (/\s/.test(text)) return 'it contains whitespace';
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const bad = checkDigest(digest);
    if (bad) return bad;
  }
  let tag: string | undefined;
  // A tag follows the last ':' that comes after the last '/'; an earlier ':' is a registry port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const bad = checkTag(tag);
    if (bad) return bad;
  }
  const name = rest;
  if (name === '') return 'the repository name is empty';
  if (name.length > NAME_MAX) return `the repository name is longer than ${NAME_MAX} characters`;
  const slash = name.indexOf('/');
  let domain = 'docker.io';
  let path = name;
  // The first component is a registry when it looks like a host: has '.' or ':', is localhost, or has upper case
  // (docker's splitDockerDomain).
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase()) {
      const bad = checkDomain(first);
      if (bad) return bad;
      domain = first === 'index.docker.io' ? 'docker.io' : first;
      path = name.slice(slash + 1);
    }
  }
  for (const component of path.split('/')) {
    if (component === '') return 'the repository path has an empty component';
    if (!PATH_COMPONENT.test(component)) {
      if (component !== component.toLowerCase()) return 'the repository name must be lower-case';
      return `path component "${component}" may hold only a-z, 0-9 and single separators (., _, __, -)`;
    }
  }
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const ref: ImageRef = { name, domain, path, repository: `${domain}/${path}` };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function checkDomain(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0 || !/^[0-9a-fA-F:.]+$/.test(host.slice(1, end))) return `registry "${domain}" is not a valid IPv6 host`;
    port = host.slice(end + 1);
    if (port !== '' && !port.startsWith(':')) return `registry "${domain}" is not host[:port]`;
    port = port === '' ? undefined : port.slice(1);
    host = '';
  } else {
    const c = host.indexOf(':');
    if (c >= 0) {
      port = host.slice(c + 1);
      host = host.slice(0, c);
    }
  }
  if (port !== undefined && !/^[0-9]+$/.test(port)) return `registry port "${port}" is not a number`;
  if (host !== '' && !host.split('.').every((c) => DOMAIN_COMPONENT.test(c)))
    return `registry "${domain}" is not a valid host name`;
  return undefined;
}
