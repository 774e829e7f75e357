// Which of two image versions is newer, for `only-newer`: tags are ordered by semantic versioning
// (https://semver.org, as npm's `semver` reads them, a leading `v` allowed); anything else — a tag that is not a
// version (`latest`, a commit sha), a digest alone — has no order, and then the requested version is not refused.
import semver from 'semver';
import type { ImageVersion } from './image-ref.ts';

/** `1.2.3`, `1.2.3@sha256:…`, `@sha256:…`: a version as the messages show it. */
export function formatVersion(v: ImageVersion): string {
  return `${v.tag ?? ''}${v.digest !== undefined ? `@${v.digest}` : ''}`;
}

/**
 * The current version when it is strictly newer than the requested one by semver order of their tags; undefined
 * when it is older, equal, or the two cannot be ordered (either tag missing or not a version). Digests are not
 * ordered: `1.3.0@sha256:a` is newer than `1.2.0@sha256:b`, but two digests alone never are.
 */
export function newerThanRequested(current: ImageVersion, requested: ImageVersion): string | undefined {
  const have = current.tag !== undefined ? semver.valid(current.tag) : null;
  const want = requested.tag !== undefined ? semver.valid(requested.tag) : null;
  if (have === null || want === null) return undefined;
  return semver.gt(have, want) ? formatVersion(current) : undefined;
}
