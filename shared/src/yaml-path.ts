// YAML paths as the `location` of a change: `spec.template.spec.containers[0].image`, `images[0].newTag`,
// `metadata.annotations["example.com/image"]`.
import { TetherError } from './errors.ts';

/** One step of a YAML path: a map key or a sequence index. */
export type PathSegment = string | number;

const BARE_KEY = /^[A-Za-z_$][\w$-]*$/;

/** Formats segments as a dotted path; keys that are not identifiers are written as `["…"]`. */
export function formatYamlPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (BARE_KEY.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Parses a path written by formatYamlPath (or by a user: `frontend.image.tag`); throws `input` if malformed. */
export function parseYamlPath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  const fail = (why: string) => new TetherError('input', `YAML path "${text}" is malformed at column ${i + 1}: ${why}`);
  while (i < text.length) {
    const c = text[i]!;
    if (c === '[') {
      const close = /^\[(\d+)\]/.exec(text.slice(i));
      if (close) {
        out.push(Number(close[1]));
        i += close[0].length;
        continue;
      }
      const quoted = /^\["((?:[^"\\]|\\.)*)"\]/.exec(text.slice(i));
      if (!quoted) throw fail('expected [<index>] or ["<key>"]');
      out.push(JSON.parse(`"${quoted[1]}"`) as string);
      i += quoted[0].length;
      continue;
    }
    if (c === '.') {
      if (out.length === 0) throw fail('a path does not start with "."');
      i++;
    }
    const m = /^[^.[\]]+/.exec(text.slice(i));
    if (!m) throw fail('expected a key');
    out.push(m[0]);
    i += m[0].length;
  }
  if (out.length === 0) throw fail('the path is empty');
  return out;
}
