// Apart from github.ts so that reading a repository's name does not load Octokit (the agent loads it only when it
// has GitHub settings).

/** `owner/name` of a GitHub clone URL (`https://host/owner/name(.git)`), or undefined when it has no such path. */
export function repoFromUrl(url: string): { owner: string; repo: string } | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    const m = /^[^@]+@[^:]+:(.+)$/.exec(url); // git@github.com:owner/name.git
    if (!m) return undefined;
    path = `/${m[1]}`;
  }
  const parts = path
    .replace(/\.git$/, '')
    .split('/')
    .filter(Boolean);
  if (parts.length < 2) return undefined;
  return { owner: parts[parts.length - 2]!, repo: parts[parts.length - 1]! };
}
