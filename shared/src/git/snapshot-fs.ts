// A read-only view of a bare object store for one batch of reads. isomorphic-git looks every object up the same
// way: a stat of the gitdir, an attempt to open it as a loose object, then a listing of `objects/pack`. After a
// fetch nearly every object is packed, so for 1,000 blobs that is ~3,000 file-system calls, most of them failing;
// they were most of the 1.6 s such a read took. The view lists the loose objects and the pack directory once and
// answers those calls from memory; every other call goes to the real file system.
import type { PromiseFsClient } from 'isomorphic-git';

const LOOSE = /^[0-9a-f]{2}\/[0-9a-f]{38}$/;

// isomorphic-git only looks at the code of a failed loose-object read; one error object serves every miss (building
// an Error with its stack per miss cost ~0.1 ms each).
const NOT_LOOSE = Object.assign(new Error('ENOENT: not a loose object of this store'), { code: 'ENOENT' });

// isomorphic-git probes whether `readFile()` returns a promise on every call; answering that probe without a path
// costs nothing when the rejection is made once.
const PROBE = Promise.reject(new TypeError('path required'));
PROBE.catch(() => {});

function once(memo: Map<string, Promise<unknown>>, key: string, call: () => Promise<unknown>): Promise<never> {
  let r = memo.get(key);
  if (!r) {
    r = call();
    memo.set(key, r);
  }
  return r as Promise<never>;
}

/** `fs` seen through a snapshot of `gitdir`'s object lists, taken now; use it only for reads. */
export async function snapshotFs(fs: PromiseFsClient, gitdir: string): Promise<PromiseFsClient> {
  const p = fs.promises;
  const objects = `${gitdir}/objects`;
  const loose = new Set<string>();
  const entries = (await p.readdir(objects).catch(() => [])) as string[];
  for (const dir of entries) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    for (const name of (await p.readdir(`${objects}/${dir}`)) as string[]) loose.add(`${dir}/${name}`);
  }
  const listings = new Map<string, Promise<unknown>>();
  const stats = new Map<string, Promise<unknown>>();
  const promises: PromiseFsClient['promises'] = {
    ...p,
    readFile: (path: string, options?: unknown) => {
      if (typeof path !== 'string') return PROBE;
      if (path.startsWith(`${objects}/`)) {
        const rel = path.slice(objects.length + 1);
        if (LOOSE.test(rel) && !loose.has(rel)) return Promise.reject(NOT_LOOSE);
      }
      return p.readFile(path, options as never);
    },
    readdir: (path: string, options?: unknown) => once(listings, path, () => p.readdir(path, options as never)),
    stat: (path: string, options?: unknown) => once(stats, path, () => p.stat(path, options as never)),
  };
  return { promises };
}
