// The GitHub emulator's memory: users, repository metadata, pull requests, labels, statuses, hooks and branch
// protection. Git objects and refs are not kept here: they live in the bare repositories the Git server serves, so
// what the API shows and what `git fetch` sees are always the same.
import { TetherError } from '../../../shared/src/errors.ts';
import type { BareRepo } from '../git-ops.ts';
import type { CreateRepoOptions, GitServer } from '../git-server.ts';
import { parseFullName } from '../git-server.ts';
import type { TokenMap } from '../tokens.ts';

/** A user, organization or bot known to the emulator. */
export interface UserRecord {
  id: number;
  login: string;
  nodeId: string;
  type: 'User' | 'Organization' | 'Bot';
}

/** A team that can be asked for review. */
export interface TeamRecord {
  id: number;
  nodeId: string;
  org: string;
  slug: string;
}

/** A label of a repository. */
export interface LabelRecord {
  id: number;
  nodeId: string;
  name: string;
  color: string;
  description: string | null;
}

/** A commit status (`POST /repos/{owner}/{repo}/statuses/{sha}`). */
export interface StatusRecord {
  id: number;
  nodeId: string;
  sha: string;
  state: 'error' | 'failure' | 'pending' | 'success';
  description: string | null;
  targetUrl: string | null;
  context: string;
  creator: string;
  createdAt: string;
  updatedAt: string;
}

/** A repository webhook. */
export interface HookRecord {
  id: number;
  url: string;
  secret: string | undefined;
  contentType: 'json' | 'form';
  events: string[];
  active: boolean;
  createdAt: string;
  updatedAt: string;
  lastResponse: { code: number | null; status: string | null; message: string | null };
}

/** Merge methods of the REST API (lower case) and of auto-merge. */
export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** A pull request; `headSha`/`baseSha` are live while open and frozen once closed. */
export interface PullRecord {
  number: number;
  id: number;
  issueId: number;
  nodeId: string;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  draft: boolean;
  user: string;
  headRef: string;
  baseRef: string;
  headSha: string;
  baseSha: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  mergedBy: string | null;
  labels: string[];
  assignees: string[];
  requestedReviewers: string[];
  requestedTeams: string[];
  maintainerCanModify: boolean;
  autoMerge: { enabledBy: string; method: MergeMethod; title: string; message: string; enabledAt: string } | null;
  /** Conversation comments (the issue side of the PR), oldest first. */
  comments?: CommentRecord[];
}

/** An issue comment. */
export interface CommentRecord {
  id: number;
  user: string;
  body: string;
  createdAt: string;
  /** Set when the comment was edited. */
  updatedAt?: string;
}

/** Branch protection the emulator enforces on merges: required status contexts. */
export interface ProtectionRecord {
  requiredContexts: string[];
}

/** Repository settings that change how merges behave. */
export interface RepoSettings {
  private: boolean;
  description: string | null;
  allowMergeCommit: boolean;
  allowSquashMerge: boolean;
  allowRebaseMerge: boolean;
  allowAutoMerge: boolean;
  deleteBranchOnMerge: boolean;
}

/** A repository: metadata here, objects and refs in `bare`. */
export interface RepoRecord extends RepoSettings {
  id: number;
  nodeId: string;
  owner: string;
  name: string;
  fullName: string;
  defaultBranch: string;
  createdAt: string;
  updatedAt: string;
  pushedAt: string;
  bare: BareRepo;
  nextNumber: number;
  pulls: Map<number, PullRecord>;
  /** Keyed by lower-case name; GitHub's label names are case-insensitive. */
  labels: Map<string, LabelRecord>;
  /** In creation order (ids ascending). */
  statuses: StatusRecord[];
  hooks: HookRecord[];
  protection: Map<string, ProtectionRecord>;
}

/** Options of `GitHubState.createRepo`. */
export interface CreateGitHubRepoOptions extends CreateRepoOptions, Partial<RepoSettings> {}

/** Options of `GitHubState.addHook`. */
export interface AddHookOptions {
  url: string;
  secret?: string;
  /** Default `['push']`; `'*'` takes every event. */
  events?: string[];
  /** Default `json` (the REST API's default is `form`, as on GitHub). */
  contentType?: 'json' | 'form';
}

/** Current time as GitHub shows it: ISO 8601 without milliseconds. */
export function isoNow(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A node id in GitHub's style (`PR_…`, `R_…`): a prefix and an opaque base64url body. */
export function nodeId(prefix: string, ...parts: Array<string | number>): string {
  return `${prefix}_${Buffer.from(parts.join(':')).toString('base64url')}`;
}

const DEFAULT_SETTINGS: RepoSettings = {
  private: true,
  description: null,
  allowMergeCommit: true,
  allowSquashMerge: true,
  allowRebaseMerge: true,
  allowAutoMerge: true,
  deleteBranchOnMerge: false,
};

/** Everything the emulator remembers. Tests reach it as `github.state` to set up or inspect the world. */
export class GitHubState {
  readonly git: GitServer;
  readonly tokens: TokenMap;
  readonly users = new Map<string, UserRecord>();
  readonly teams = new Map<string, TeamRecord>();
  readonly repos = new Map<string, RepoRecord>();
  /** Pull requests by node id, for GraphQL. */
  readonly pullNodes = new Map<string, { repo: RepoRecord; number: number }>();
  #nextId = 1000;

  constructor(options: { git: GitServer; tokens: TokenMap }) {
    this.git = options.git;
    this.tokens = options.tokens;
  }

  /** A fresh numeric id; ids grow, so newer objects sort after older ones. */
  nextId(): number {
    this.#nextId += 1;
    return this.#nextId;
  }

  /** The user `login`, created on first mention. Logins ending in `[bot]` are bots. */
  user(login: string, type?: UserRecord['type']): UserRecord {
    const key = login.toLowerCase();
    let u = this.users.get(key);
    if (!u) {
      const id = this.nextId();
      const kind = type ?? (login.endsWith('[bot]') ? 'Bot' : this.#isTokenLogin(login) ? 'User' : 'Organization');
      u = { id, login, nodeId: nodeId(kind === 'Organization' ? 'O' : kind === 'Bot' ? 'BOT' : 'U', id), type: kind };
      this.users.set(key, u);
    }
    return u;
  }

  /** The team `org/slug`, created on first mention. */
  team(org: string, slug: string): TeamRecord {
    const key = `${org}/${slug}`.toLowerCase();
    let t = this.teams.get(key);
    if (!t) {
      const id = this.nextId();
      t = { id, nodeId: nodeId('T', id), org, slug };
      this.teams.set(key, t);
    }
    return t;
  }

  /**
   * The repository `owner/name`, or undefined. Repositories created on the Git server directly are adopted here on
   * first use, so either way of creating one works.
   */
  async repo(fullName: string): Promise<RepoRecord | undefined> {
    const known = this.repos.get(fullName.toLowerCase());
    if (known) return known;
    try {
      parseFullName(fullName);
    } catch {
      return undefined;
    }
    if (!(await this.git.hasRepo(fullName))) return undefined;
    const bare = this.git.repo(fullName);
    return this.#adopt(fullName, bare, await bare.headBranch(), {});
  }

  /** The repository `owner/name`; throws when it does not exist. */
  async requireRepo(fullName: string): Promise<RepoRecord> {
    const repo = await this.repo(fullName);
    if (!repo) throw new TetherError('input', `repository ${fullName} does not exist`);
    return repo;
  }

  /** Creates a repository on the Git server and its metadata here. */
  async createRepo(fullName: string, options: CreateGitHubRepoOptions = {}): Promise<RepoRecord> {
    const bare = await this.git.createRepo(fullName, options);
    return this.#adopt(fullName, bare, options.defaultBranch ?? 'main', options);
  }

  /** Registers a webhook on a repository. */
  async addHook(fullName: string, options: AddHookOptions): Promise<HookRecord> {
    const repo = await this.requireRepo(fullName);
    const now = isoNow();
    const hook: HookRecord = {
      id: this.nextId(),
      url: options.url,
      secret: options.secret,
      contentType: options.contentType ?? 'json',
      events: options.events ?? ['push'],
      active: true,
      createdAt: now,
      updatedAt: now,
      lastResponse: { code: null, status: 'unused', message: null },
    };
    repo.hooks.push(hook);
    return hook;
  }

  /** Requires `requiredContexts` to be `success` on a PR's head before it merges into `branch`. */
  async protectBranch(fullName: string, branch: string, protection: ProtectionRecord): Promise<void> {
    const repo = await this.requireRepo(fullName);
    repo.protection.set(branch, { requiredContexts: [...protection.requiredContexts] });
  }

  /** Changes repository settings (merge methods, auto-merge, visibility). */
  async configureRepo(fullName: string, settings: Partial<RepoSettings>): Promise<void> {
    Object.assign(await this.requireRepo(fullName), settings);
  }

  /** The latest status per context on `sha`, newest first. */
  latestStatuses(repo: RepoRecord, sha: string): StatusRecord[] {
    const seen = new Set<string>();
    const latest: StatusRecord[] = [];
    for (let i = repo.statuses.length - 1; i >= 0; i--) {
      const s = repo.statuses[i]!;
      if (s.sha !== sha || seen.has(s.context)) continue;
      seen.add(s.context);
      latest.push(s);
    }
    return latest;
  }

  #adopt(fullName: string, bare: BareRepo, defaultBranch: string, options: Partial<RepoSettings>): RepoRecord {
    const { owner, name } = parseFullName(fullName);
    const id = this.nextId();
    const now = isoNow();
    const settings: RepoSettings = { ...DEFAULT_SETTINGS };
    for (const k of Object.keys(DEFAULT_SETTINGS) as Array<keyof RepoSettings>) {
      if (options[k] !== undefined) (settings as unknown as Record<string, unknown>)[k] = options[k];
    }
    this.user(owner);
    const repo: RepoRecord = {
      ...settings,
      id,
      nodeId: nodeId('R', id),
      owner,
      name,
      fullName,
      defaultBranch,
      createdAt: now,
      updatedAt: now,
      pushedAt: now,
      bare,
      nextNumber: 1,
      pulls: new Map(),
      labels: new Map(),
      statuses: [],
      hooks: [],
      protection: new Map(),
    };
    this.repos.set(fullName.toLowerCase(), repo);
    return repo;
  }

  #isTokenLogin(login: string): boolean {
    return Object.values(this.tokens).some((g) => g.login.toLowerCase() === login.toLowerCase());
  }
}
