// How commits reach the environment repo, one implementation per `commit-method`: the Git Data API (commits GitHub
// marks verified for App and workflow tokens) or a push with isomorphic-git. The direct push and the PR lifecycle
// see only this interface.
import type { EnvRepo } from '../../shared/src/env-repo.ts';
import { TetherError } from '../../shared/src/errors.ts';
import type { GitHubOps } from './github-ops.ts';

/** A file's full new text. */
export interface FileWrite {
  path: string;
  text: string;
}

/** A fast-forward landed, or why it was refused: another writer moved the base, or something else refused it. */
export type FastForwardResult = 'ok' | { refused: string };

/** Writes commits and moves branches of the environment repo. */
export interface CommitWriter {
  /** Makes a commit on `parent` with `files` replaced; returns its sha. */
  commit(parent: string, files: readonly FileWrite[], message: string): Promise<string>;
  /** Points Tether's own PR branch at `sha`, created when missing, forced (the branch is Tether's). */
  setBranch(branch: string, sha: string, exists: boolean): Promise<void>;
  /** Moves `base` to `sha` only as a fast-forward; refused (with the server's reason) when that was refused. */
  fastForward(base: string, sha: string): Promise<FastForwardResult>;
}

const author = { name: 'tether[bot]', email: 'tether[bot]@users.noreply.github.com' };

/**
 * Commits through the Git Data API, branches through the refs API. The API sets the mode it is given, so each file
 * is given its mode at the parent: an executable file stays executable.
 */
export function apiWriter(gh: GitHubOps, env: EnvRepo): CommitWriter {
  return {
    commit: async (parent, files, message) => {
      const withModes = await Promise.all(
        files.map(async (f) => ({ ...f, executable: (await env.fileMode(parent, f.path)) === '100755' })),
      );
      return (await gh.commitViaApi({ parent, baseTree: await env.treeOf(parent), files: withModes, message })).commit;
    },
    setBranch: (branch, sha, exists) => gh.setPrBranch(branch, sha, exists),
    fastForward: (base, sha) => gh.fastForward(base, sha),
  };
}

/** Commits written locally by isomorphic-git and pushed over smart HTTP. */
export function gitWriter(env: EnvRepo): CommitWriter {
  return {
    commit: async (parent, files, message) => (await env.writeCommit({ parent, files, message, author })).commit,
    setBranch: async (branch, sha) => {
      const pushed = await env.push(sha, branch, { force: true });
      if (!pushed.ok) throw new TetherError('git', `push ${branch}: ${pushed.error}`);
    },
    fastForward: async (base, sha) => {
      const pushed = await env.push(sha, base, { force: false });
      return pushed.ok ? 'ok' : { refused: pushed.error ?? 'push rejected' };
    },
  };
}
