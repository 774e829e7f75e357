// A small glob matcher for repository-relative paths (`**`, `*`, `?`, `[abc]`); Node 20's path.matchesGlob is
// experimental and prints a warning, and fs.glob is Node 22+.

/** Compiles a glob over '/'-separated paths: `**` spans directories, `*` and `?` stay within one. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (atStart && atEnd) {
          // `**/` matches zero or more whole directories; a trailing `**` matches everything below.
          if (i + 2 === glob.length) re += '.*';
          else {
            re += '(?:[^/]*/)*';
            i++;
          }
          i++;
          continue;
        }
      }
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Builds a predicate from globs; a glob also matches everything below it, so `envs/dev` means that directory. */
export function pathMatcher(globs: readonly string[]): (path: string) => boolean {
  if (globs.length === 0) return () => true;
  const res = globs.map((g) => {
    const clean = g.replace(/^\.\//, '').replace(/\/+$/, '');
    return [globToRegExp(clean), globToRegExp(`${clean}/**`)] as const;
  });
  return (path) => res.some(([exact, below]) => exact.test(path) || below.test(path));
}
