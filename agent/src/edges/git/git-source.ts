import { TetherError } from '../../../../shared/src/errors.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../../../../shared/src/file-text.ts';
import { type GitCredentials, GitRepo } from '../../../../shared/src/git/git-repo.ts';

export type { GitCredentials } from '../../../../shared/src/git/git-repo.ts';

/** Where an app's desired state comes from. */
export interface GitSourceOptions {
  url: string;
  ref: string;
  /** A directory of its own for this source's bare object store, reused across restarts. */
  cacheDir: string;
  /** Called for each fetch, so rotated tokens are picked up. */
  credentials?: () => Promise<GitCredentials | undefined> | GitCredentials | undefined;
  /** Files larger than this are refused unread (the parser's single-file limit unless told). */
  maxFileBytes?: number;
}

/** One file of the desired state, read from the object store. */
export interface SourceFile {
  /** Path relative to the repository root. */
  path: string;
  content: Uint8Array;
}

/** A fetch in flight and how many of the callers sharing it still want it. */
interface SharedFetch {
  done: Promise<string>;
  abort: AbortController;
  wanted: number;
}

/**
 * An app's Git source: the shared Git adapter bound to one URL and ref, fetched shallow into a bare cache directory
 * that survives restarts; files are read from the object store, never checked out.
 */
export class GitSource {
  /** The fetch in flight: apps sharing this source (one repository and ref) wait for it instead of starting theirs. */
  private fetching: SharedFetch | undefined;

  private constructor(
    private readonly repo: GitRepo,
    private readonly ref: string,
    private readonly maxFileBytes: number,
  ) {}

  /** Prepares the cache directory (no network). */
  static async create(options: GitSourceOptions): Promise<GitSource> {
    const repo = await GitRepo.open({
      gitdir: options.cacheDir,
      url: options.url,
      defaultBranch: options.ref,
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    return new GitSource(repo, options.ref, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  }

  /**
   * Fetches the newest commit of the ref (depth 1; later fetches send only what is new) and returns its id. Calls
   * while a fetch runs share it (one store must not be fetched into twice at once). A caller whose `signal` aborts
   * gives up its share: once every caller sharing the fetch gave up (one without a signal never does), its requests
   * are aborted and it fails. Until then it runs on for the others, and settles every caller's promise alike.
   */
  fetch(options: { signal?: AbortSignal } = {}): Promise<string> {
    let shared = this.fetching;
    if (!shared) {
      const abort = new AbortController();
      const started: SharedFetch = { abort, wanted: 0, done: this.repo.fetch(this.ref, { signal: abort.signal }) };
      started.done = started.done.finally(() => {
        if (this.fetching === started) this.fetching = undefined;
      });
      this.fetching = shared = started;
    }
    const f = shared;
    f.wanted++;
    const { signal } = options;
    if (signal) {
      const giveUp = () => {
        if (--f.wanted === 0) f.abort.abort(signal.reason);
      };
      if (signal.aborted) giveUp();
      else {
        signal.addEventListener('abort', giveUp, { once: true });
        void f.done.catch(() => undefined).finally(() => signal.removeEventListener('abort', giveUp));
      }
    }
    return f.done;
  }

  /** The commit the ref points at on the remote now, from its ref listing alone: nothing is fetched. */
  head(options: { credentials: boolean }): Promise<string> {
    return this.repo.remoteTip(this.ref, options);
  }

  /**
   * Fetches the newest commit of another branch of the same repository (a pull request's head) into this store and
   * returns its id. A plan uses a store of its own for this, so the synced state's store never sees PR heads.
   */
  fetchBranch(branch: string): Promise<string> {
    return this.repo.fetch(branch);
  }

  /**
   * Makes `commit`, an older commit of the ref, readable: the store is shallow, so history is fetched deeper until the
   * commit is in it (none is fetched when it already is). Throws when the ref's history no longer holds it.
   */
  ensureCommit(commit: string): Promise<void> {
    return this.repo.ensureCommit(commit, this.ref);
  }

  /** The tree id of `path` at `commit` (undefined when the path does not exist): equal ids mean equal content. */
  treeHash(commit: string, path: string): Promise<string | undefined> {
    return this.repo.treeHash(commit, path);
  }

  /**
   * Every file under `path` at `commit`, recursively, in byte-wise path order. Symbolic links are not followed:
   * their target could leave the app's path. A file over the size limit of a manifest is refused by its size, read
   * from the object's header, before it is inflated: a 50 MB file would otherwise be held (and copied) in full just
   * to be refused by the parser with the same message.
   */
  async readFiles(commit: string, path: string): Promise<SourceFile[]> {
    const read = await this.repo.readFiles(commit, { under: path, maxFileBytes: this.maxFileBytes });
    const over = read.oversized[0];
    if (over) {
      throw new TetherError(
        'render',
        `${over.path}: ${over.size} bytes is more than the ${this.maxFileBytes} a file may have`,
      );
    }
    return read.files;
  }
}
