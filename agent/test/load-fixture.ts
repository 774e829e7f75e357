import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { K8sObject } from '../src/core/types.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A fixture object from agent/test/fixtures (captured from a real apiserver), parsed fresh on every call. */
export function fixture(name: string): K8sObject {
  return parse(readFileSync(join(dir, name), 'utf8')) as K8sObject;
}
