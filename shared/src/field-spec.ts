// The text form of a FieldSpec, for `--field` and the Action: `[<file glob>#]<yaml path>=<repository>[:part]`,
// e.g. `frontend.imageTag=ghcr.io/acme/web:tag` or `envs/*/values.yaml#web.image=ghcr.io/acme/web`.
import { TetherError } from './errors.ts';
import { normalizeRepository } from './image-ref.ts';
import type { FieldSpec, ImagePart } from './image-uses.ts';
import { parseYamlPath } from './yaml-path.ts';

/** Parses `[<glob>#]<yaml path>=<repository>[:tag|:digest|:name|:ref]`; throws `input` naming the text. */
export function parseFieldSpec(text: string): FieldSpec {
  const eq = text.lastIndexOf('=');
  if (eq <= 0) throw new TetherError('input', `field "${text}" is not [<file glob>#]<yaml path>=<repository>[:part]`);
  let left = text.slice(0, eq);
  let image = text.slice(eq + 1);
  let files: string | undefined;
  const hash = left.indexOf('#');
  if (hash >= 0 && !/["[]/.test(left.slice(0, hash))) {
    files = left.slice(0, hash);
    left = left.slice(hash + 1);
  }
  let part: ImagePart = 'ref';
  const suffix = /:(tag|digest|name|ref)$/.exec(image);
  if (suffix) {
    part = suffix[1] as ImagePart;
    image = image.slice(0, -suffix[0].length);
  }
  try {
    parseYamlPath(left);
    normalizeRepository(image);
  } catch (err) {
    throw new TetherError('input', `field "${text}": ${(err as Error).message}`, { cause: err });
  }
  const spec: FieldSpec = { path: left, image, part };
  if (files !== undefined) spec.files = files;
  return spec;
}
