// Every JSON shape the emulator answers with, in one place, built the way api.github.com builds them: URLs from the
// emulator's own base, node ids, user objects, timestamps. The OpenAPI validator checks them on every answer.
import { type CommitInfo, type FileChange, type GitSignature, signatureDate, type TreeEntry } from '../git-ops.ts';
import type {
  CommentRecord,
  GitHubState,
  HookRecord,
  LabelRecord,
  PullRecord,
  RepoRecord,
  StatusRecord,
  TeamRecord,
  UserRecord,
} from './state.ts';
import { nodeId } from './state.ts';

/** The emulator's base URLs: `api` for REST links, `web` (the Git server) for html and clone links. */
export interface Urls {
  api: string;
  web: string;
}

/** Extra facts about a pull request that cost git work, computed by the caller for single-PR answers. */
export interface PullDetails {
  mergeable: boolean | null;
  mergeableState: string;
  commits: number;
  additions: number;
  deletions: number;
  changedFiles: number;
}

type Json = Record<string, unknown>;

const enc = encodeURIComponent;

/** A `simple-user`. */
export function userJson(urls: Urls, u: UserRecord): Json {
  const api = `${urls.api}/users/${enc(u.login)}`;
  return {
    login: u.login,
    id: u.id,
    node_id: u.nodeId,
    avatar_url: `${urls.web}/avatars/u/${u.id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `${urls.web}/${enc(u.login)}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: u.type,
    user_view_type: 'public',
    site_admin: false,
  };
}

/** A `full-repository` (also fits `repository` and `minimal-repository`). `login` sets `permissions`. */
export function repoJson(urls: Urls, state: GitHubState, repo: RepoRecord): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const html = `${urls.web}/${repo.fullName}`;
  const owner = state.user(repo.owner);
  const open = [...repo.pulls.values()].filter((p) => p.state === 'open').length;
  const json: Json = {
    id: repo.id,
    node_id: repo.nodeId,
    name: repo.name,
    full_name: repo.fullName,
    private: repo.private,
    owner: userJson(urls, owner),
    html_url: html,
    description: repo.description,
    fork: false,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: repo.createdAt,
    updated_at: repo.updatedAt,
    pushed_at: repo.pushedAt,
    git_url: `${html.replace(/^https?:/, 'git:')}.git`,
    ssh_url: `git@${new URL(urls.web).host}:${repo.fullName}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: open,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: repo.private ? 'private' : 'public',
    forks: 0,
    open_issues: open,
    watchers: 0,
    default_branch: repo.defaultBranch,
    permissions: { admin: true, maintain: true, push: true, triage: true, pull: true },
    allow_squash_merge: repo.allowSquashMerge,
    allow_merge_commit: repo.allowMergeCommit,
    allow_rebase_merge: repo.allowRebaseMerge,
    allow_auto_merge: repo.allowAutoMerge,
    delete_branch_on_merge: repo.deleteBranchOnMerge,
    allow_update_branch: false,
    use_squash_pr_title_as_default: false,
    squash_merge_commit_title: 'COMMIT_OR_PR_TITLE',
    squash_merge_commit_message: 'COMMIT_MESSAGES',
    merge_commit_title: 'MERGE_MESSAGE',
    merge_commit_message: 'PR_TITLE',
    network_count: 0,
    subscribers_count: 0,
  };
  if (owner.type === 'Organization') json['organization'] = userJson(urls, owner);
  return json;
}

/** A `label`. */
export function labelJson(urls: Urls, repo: RepoRecord, label: LabelRecord): Json {
  return {
    id: label.id,
    node_id: label.nodeId,
    url: `${urls.api}/repos/${repo.fullName}/labels/${enc(label.name)}`,
    name: label.name,
    description: label.description,
    color: label.color,
    default: false,
  };
}

/** A `team-simple`/`team` for requested reviewers. */
export function teamJson(urls: Urls, state: GitHubState, team: TeamRecord): Json {
  const org = state.user(team.org);
  const api = `${urls.api}/organizations/${org.id}/team/${team.id}`;
  return {
    id: team.id,
    node_id: team.nodeId,
    url: api,
    html_url: `${urls.web}/orgs/${enc(team.org)}/teams/${enc(team.slug)}`,
    name: team.slug,
    slug: team.slug,
    description: null,
    privacy: 'closed',
    notification_setting: 'notifications_enabled',
    permission: 'pull',
    members_url: `${api}/members{/member}`,
    repositories_url: `${api}/repos`,
    parent: null,
    type: 'organization',
    organization_id: org.id,
  };
}

/**
 * A `pull-request` (with `details`) or a `pull-request-simple` (without): the list endpoint leaves out the fields
 * that need git work, as GitHub's does.
 */
export function pullJson(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  pr: PullRecord,
  details?: PullDetails,
): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const html = `${urls.web}/${repo.fullName}/pull/${pr.number}`;
  const self = `${api}/pulls/${pr.number}`;
  const owner = state.user(repo.owner);
  const repoObj = repoJson(urls, state, repo);
  const side = (ref: string, sha: string) => ({
    label: `${repo.owner}:${ref}`,
    ref,
    sha,
    user: userJson(urls, owner),
    repo: repoObj,
  });
  const assignees = pr.assignees.map((l) => userJson(urls, state.user(l)));
  const json: Json = {
    url: self,
    id: pr.id,
    node_id: pr.nodeId,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pr.number}`,
    commits_url: `${self}/commits`,
    review_comments_url: `${self}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${pr.number}/comments`,
    statuses_url: `${api}/statuses/${pr.headSha}`,
    number: pr.number,
    state: pr.state,
    locked: false,
    title: pr.title,
    user: userJson(urls, state.user(pr.user)),
    body: pr.body,
    // The description types a pull request's label description as a plain string, unlike an issue's.
    labels: pr.labels
      .map((n) => repo.labels.get(n.toLowerCase()))
      .flatMap((l) => (l ? [{ ...labelJson(urls, repo, l), description: l.description ?? '' }] : [])),
    milestone: null,
    active_lock_reason: null,
    created_at: pr.createdAt,
    updated_at: pr.updatedAt,
    closed_at: pr.closedAt,
    merged_at: pr.mergedAt,
    merge_commit_sha: pr.mergeCommitSha,
    assignee: assignees[0] ?? null,
    assignees,
    requested_reviewers: pr.requestedReviewers.map((l) => userJson(urls, state.user(l))),
    requested_teams: pr.requestedTeams.map((slug) => teamJson(urls, state, state.team(repo.owner, slug))),
    head: side(pr.headRef, pr.headSha),
    base: side(pr.baseRef, pr.baseSha),
    _links: {
      self: { href: self },
      html: { href: html },
      issue: { href: `${api}/issues/${pr.number}` },
      comments: { href: `${api}/issues/${pr.number}/comments` },
      review_comments: { href: `${self}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${self}/commits` },
      statuses: { href: `${api}/statuses/${pr.headSha}` },
    },
    author_association: 'MEMBER',
    auto_merge: pr.autoMerge
      ? {
          enabled_by: userJson(urls, state.user(pr.autoMerge.enabledBy)),
          merge_method: pr.autoMerge.method,
          commit_title: pr.autoMerge.title,
          commit_message: pr.autoMerge.message,
        }
      : null,
    draft: pr.draft,
  };
  if (details) {
    Object.assign(json, {
      merged: pr.mergedAt !== null,
      mergeable: details.mergeable,
      rebaseable: details.mergeable,
      mergeable_state: details.mergeableState,
      merged_by: pr.mergedBy ? userJson(urls, state.user(pr.mergedBy)) : null,
      comments: 0,
      review_comments: 0,
      maintainer_can_modify: pr.maintainerCanModify,
      commits: details.commits,
      additions: details.additions,
      deletions: details.deletions,
      changed_files: details.changedFiles,
    });
  }
  return json;
}

/** The `issue` view of a pull request (labels and assignees endpoints answer with it). */
/** An issue comment as the REST API answers it. */
export function commentJson(urls: Urls, state: GitHubState, repo: RepoRecord, pr: PullRecord, c: CommentRecord): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    id: c.id,
    node_id: nodeId('IC', c.id),
    url: `${api}/issues/comments/${c.id}`,
    html_url: `${urls.web}/${repo.fullName}/pull/${pr.number}#issuecomment-${c.id}`,
    body: c.body,
    user: userJson(urls, state.user(c.user)),
    created_at: c.createdAt,
    updated_at: c.updatedAt ?? c.createdAt,
    issue_url: `${api}/issues/${pr.number}`,
    author_association: 'MEMBER',
  };
}

/** An issue as the REST API answers it. */
export function issueJson(urls: Urls, state: GitHubState, repo: RepoRecord, pr: PullRecord): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const self = `${api}/issues/${pr.number}`;
  const assignees = pr.assignees.map((l) => userJson(urls, state.user(l)));
  return {
    id: pr.issueId,
    node_id: nodeId('I', pr.issueId),
    url: self,
    repository_url: api,
    labels_url: `${self}/labels{/name}`,
    comments_url: `${self}/comments`,
    events_url: `${self}/events`,
    html_url: `${urls.web}/${repo.fullName}/pull/${pr.number}`,
    number: pr.number,
    state: pr.state,
    state_reason: null,
    title: pr.title,
    body: pr.body,
    user: userJson(urls, state.user(pr.user)),
    labels: pr.labels
      .map((n) => repo.labels.get(n.toLowerCase()))
      .flatMap((l) => (l ? [labelJson(urls, repo, l)] : [])),
    assignee: assignees[0] ?? null,
    assignees,
    milestone: null,
    locked: false,
    active_lock_reason: null,
    comments: 0,
    pull_request: {
      url: `${api}/pulls/${pr.number}`,
      html_url: `${urls.web}/${repo.fullName}/pull/${pr.number}`,
      diff_url: `${urls.web}/${repo.fullName}/pull/${pr.number}.diff`,
      patch_url: `${urls.web}/${repo.fullName}/pull/${pr.number}.patch`,
      merged_at: pr.mergedAt,
    },
    closed_at: pr.closedAt,
    created_at: pr.createdAt,
    updated_at: pr.updatedAt,
    draft: pr.draft,
    closed_by: null,
    author_association: 'MEMBER',
    reactions: {
      url: `${self}/reactions`,
      total_count: 0,
      '+1': 0,
      '-1': 0,
      laugh: 0,
      confused: 0,
      heart: 0,
      hooray: 0,
      eyes: 0,
      rocket: 0,
    },
  };
}

/** A `git-ref`. */
export function refJson(urls: Urls, repo: RepoRecord, ref: string, sha: string, type: string): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    ref,
    node_id: nodeId('REF', repo.id, ref),
    url: `${api}/git/${ref}`,
    object: { type, sha, url: `${api}/git/${type}s/${sha}` },
  };
}

function gitPerson(sig: GitSignature): Json {
  return { name: sig.name, email: sig.email, date: signatureDate(sig) };
}

const UNSIGNED = { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null };

/** A `git-commit` (the Git database API's view of a commit). */
export function gitCommitJson(urls: Urls, repo: RepoRecord, c: CommitInfo): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    sha: c.sha,
    node_id: nodeId('C', repo.id, c.sha),
    url: `${api}/git/commits/${c.sha}`,
    html_url: `${urls.web}/${repo.fullName}/commit/${c.sha}`,
    author: gitPerson(c.author),
    committer: gitPerson(c.committer),
    tree: { sha: c.tree, url: `${api}/git/trees/${c.tree}` },
    message: c.message,
    parents: c.parents.map((p) => ({
      sha: p,
      url: `${api}/git/commits/${p}`,
      html_url: `${urls.web}/${repo.fullName}/commit/${p}`,
    })),
    verification: UNSIGNED,
  };
}

/** The user a commit email belongs to: GitHub's `<id>+<login>@users.noreply.github.com` form, or none. */
export function userForEmail(state: GitHubState, email: string): UserRecord | undefined {
  const m = /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/i.exec(email);
  return m ? state.user(m[1]!) : undefined;
}

/** A `commit` (the REST commits API's view), with `files` and `stats` when given. */
export function commitJson(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  c: CommitInfo,
  files?: readonly FileChange[],
): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const author = userForEmail(state, c.author.email);
  const committer = userForEmail(state, c.committer.email);
  const json: Json = {
    url: `${api}/commits/${c.sha}`,
    sha: c.sha,
    node_id: nodeId('C', repo.id, c.sha),
    html_url: `${urls.web}/${repo.fullName}/commit/${c.sha}`,
    comments_url: `${api}/commits/${c.sha}/comments`,
    commit: {
      url: `${api}/git/commits/${c.sha}`,
      author: gitPerson(c.author),
      committer: gitPerson(c.committer),
      message: c.message.replace(/\n+$/, ''),
      comment_count: 0,
      tree: { sha: c.tree, url: `${api}/git/trees/${c.tree}` },
      verification: UNSIGNED,
    },
    author: author ? userJson(urls, author) : null,
    committer: committer ? userJson(urls, committer) : null,
    parents: c.parents.map((p) => ({
      sha: p,
      url: `${api}/commits/${p}`,
      html_url: `${urls.web}/${repo.fullName}/commit/${p}`,
    })),
  };
  if (files) {
    const additions = files.reduce((n, f) => n + f.additions, 0);
    const deletions = files.reduce((n, f) => n + f.deletions, 0);
    json['stats'] = { total: additions + deletions, additions, deletions };
    json['files'] = files.map((f) => ({
      sha: f.sha,
      filename: f.path,
      status: f.status,
      additions: f.additions,
      deletions: f.deletions,
      changes: f.additions + f.deletions,
      blob_url: `${urls.web}/${repo.fullName}/blob/${c.sha}/${f.path}`,
      raw_url: `${urls.web}/${repo.fullName}/raw/${c.sha}/${f.path}`,
      contents_url: `${api}/contents/${f.path.split('/').map(enc).join('/')}?ref=${c.sha}`,
    }));
  }
  return json;
}

/** A `git-tree`. */
export function treeJson(urls: Urls, repo: RepoRecord, sha: string, entries: readonly TreeEntry[]): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    sha,
    url: `${api}/git/trees/${sha}`,
    tree: entries.map((e) => {
      const item: Json = { path: e.path, mode: e.mode, type: e.type, sha: e.sha };
      if (e.type === 'blob') {
        item['size'] = e.size ?? 0;
        item['url'] = `${api}/git/blobs/${e.sha}`;
      } else if (e.type === 'tree') item['url'] = `${api}/git/trees/${e.sha}`;
      return item;
    }),
    truncated: false,
  };
}

/** Base64 the way GitHub sends file contents: wrapped at 60 characters, each line ending in a newline. */
export function githubBase64(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  return b64.replace(/.{1,60}/g, '$&\n');
}

/** A `blob`. */
export function blobJson(urls: Urls, repo: RepoRecord, sha: string, content: Uint8Array): Json {
  return {
    sha,
    node_id: nodeId('B', repo.id, sha),
    size: content.length,
    url: `${urls.api}/repos/${repo.fullName}/git/blobs/${sha}`,
    content: githubBase64(content),
    encoding: 'base64',
  };
}

/** A `content-file` (with `content`) or a directory item (without). */
export function contentJson(
  urls: Urls,
  repo: RepoRecord,
  ref: string,
  entry: TreeEntry,
  path: string,
  content?: Uint8Array,
): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const type = entry.type === 'tree' ? 'dir' : entry.type === 'commit' ? 'submodule' : 'file';
  const encPath = path.split('/').map(enc).join('/');
  const self = `${api}/contents/${encPath}?ref=${enc(ref)}`;
  const git = `${api}/git/${entry.type === 'tree' ? 'trees' : 'blobs'}/${entry.sha}`;
  const html = `${urls.web}/${repo.fullName}/${type === 'dir' ? 'tree' : 'blob'}/${enc(ref)}/${encPath}`;
  const json: Json = {
    type,
    size: entry.size ?? 0,
    name: path.slice(path.lastIndexOf('/') + 1),
    path,
    sha: entry.sha,
    url: self,
    git_url: git,
    html_url: html,
    download_url: type === 'file' ? `${urls.web}/${repo.fullName}/raw/${enc(ref)}/${encPath}` : null,
    _links: { self, git, html },
  };
  if (content !== undefined) {
    json['content'] = githubBase64(content);
    json['encoding'] = 'base64';
  }
  return json;
}

/** A `status`. */
export function statusJson(urls: Urls, state: GitHubState, repo: RepoRecord, s: StatusRecord): Json {
  const creator = state.user(s.creator);
  return {
    url: `${urls.api}/repos/${repo.fullName}/statuses/${s.sha}`,
    avatar_url: `${urls.web}/avatars/u/${creator.id}?v=4`,
    id: s.id,
    node_id: s.nodeId,
    state: s.state,
    description: s.description,
    target_url: s.targetUrl,
    context: s.context,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    creator: userJson(urls, creator),
  };
}

/**
 * The combined status of a commit: failure if any latest status is failure or error, pending if any is pending
 * or there is none, success otherwise (GitHub's rule).
 */
export function combinedState(latest: readonly StatusRecord[]): 'failure' | 'pending' | 'success' {
  if (latest.some((s) => s.state === 'failure' || s.state === 'error')) return 'failure';
  if (latest.length === 0 || latest.some((s) => s.state === 'pending')) return 'pending';
  return 'success';
}

/** A `combined-commit-status`. */
export function combinedStatusJson(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  sha: string,
  latest: readonly StatusRecord[],
): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    state: combinedState(latest),
    statuses: latest.map((s) => {
      const { creator: _creator, ...simple } = statusJson(urls, state, repo, s);
      return simple;
    }),
    sha,
    total_count: latest.length,
    repository: repoJson(urls, state, repo),
    commit_url: `${api}/commits/${sha}`,
    url: `${api}/commits/${sha}/status`,
  };
}

/** A `hook`. */
export function hookJson(urls: Urls, repo: RepoRecord, h: HookRecord): Json {
  const api = `${urls.api}/repos/${repo.fullName}/hooks/${h.id}`;
  const config: Json = { url: h.url, content_type: h.contentType, insecure_ssl: '0' };
  if (h.secret) config['secret'] = '********';
  return {
    type: 'Repository',
    id: h.id,
    name: 'web',
    active: h.active,
    events: h.events,
    config,
    updated_at: h.updatedAt,
    created_at: h.createdAt,
    url: api,
    test_url: `${api}/test`,
    ping_url: `${api}/pings`,
    deliveries_url: `${api}/deliveries`,
    last_response: h.lastResponse,
  };
}

/** GitHub's error body. */
export function errorJson(message: string, status: number, documentationUrl: string, extra: Json = {}): Json {
  return { message, documentation_url: documentationUrl, status: String(status), ...extra };
}

/** One commit of a `push` webhook, with the paths it touched. */
export interface PushedCommit {
  commit: CommitInfo;
  files: readonly FileChange[];
}

function pushPerson(state: GitHubState, sig: GitSignature): Json {
  const user = userForEmail(state, sig.email);
  const person: Json = { name: sig.name, email: sig.email, date: signatureDate(sig) };
  if (user) person['username'] = user.login;
  return person;
}

function pushCommitJson(urls: Urls, state: GitHubState, repo: RepoRecord, p: PushedCommit): Json {
  const c = p.commit;
  return {
    id: c.sha,
    tree_id: c.tree,
    distinct: true,
    message: c.message.replace(/\n+$/, ''),
    timestamp: signatureDate(c.committer),
    url: `${urls.web}/${repo.fullName}/commit/${c.sha}`,
    author: pushPerson(state, c.author),
    committer: pushPerson(state, c.committer),
    added: p.files.filter((f) => f.status === 'added').map((f) => f.path),
    removed: p.files.filter((f) => f.status === 'removed').map((f) => f.path),
    modified: p.files.filter((f) => f.status === 'modified').map((f) => f.path),
  };
}

/** The repository as webhooks show it: times as epoch seconds and the organization as a login. */
export function webhookRepoJson(urls: Urls, state: GitHubState, repo: RepoRecord): Json {
  const json = repoJson(urls, state, repo);
  const owner = state.user(repo.owner);
  json['created_at'] = Math.floor(Date.parse(repo.createdAt) / 1000);
  json['pushed_at'] = Math.floor(Date.parse(repo.pushedAt) / 1000);
  json['owner'] = { ...userJson(urls, owner), name: owner.login, email: null };
  json['stargazers'] = 0;
  json['master_branch'] = repo.defaultBranch;
  if (owner.type === 'Organization') json['organization'] = owner.login;
  return json;
}

/** The body of a `push` webhook. */
export function pushPayloadJson(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  event: { ref: string; before: string; after: string; pusher: string; forced: boolean },
  commits: readonly PushedCommit[],
  head: PushedCommit | undefined,
): Json {
  const zero = /^0+$/;
  const pusher = state.user(event.pusher);
  return {
    ref: event.ref,
    before: event.before,
    after: event.after,
    repository: webhookRepoJson(urls, state, repo),
    pusher: { name: pusher.login, email: `${pusher.id}+${pusher.login}@users.noreply.github.com` },
    sender: userJson(urls, pusher),
    created: zero.test(event.before),
    deleted: zero.test(event.after),
    forced: event.forced,
    base_ref: null,
    compare: zero.test(event.before)
      ? `${urls.web}/${repo.fullName}/commit/${event.after.slice(0, 12)}`
      : `${urls.web}/${repo.fullName}/compare/${event.before.slice(0, 12)}...${event.after.slice(0, 12)}`,
    commits: commits.map((c) => pushCommitJson(urls, state, repo, c)),
    head_commit: head ? pushCommitJson(urls, state, repo, head) : null,
  };
}

/** One file of a pull request's diff (`GET …/pulls/{n}/files`); no `patch`, which GitHub omits for large files too. */
export function fileChangeJson(urls: Urls, repo: RepoRecord, headSha: string, f: FileChange): Json {
  const path = f.path.split('/').map(encodeURIComponent).join('/');
  return {
    sha: f.sha,
    filename: f.path,
    status: f.status,
    additions: f.additions,
    deletions: f.deletions,
    changes: f.additions + f.deletions,
    blob_url: `${urls.web}/${repo.fullName}/blob/${headSha}/${path}`,
    raw_url: `${urls.web}/${repo.fullName}/raw/${headSha}/${path}`,
    contents_url: `${urls.api}/repos/${repo.fullName}/contents/${path}?ref=${headSha}`,
  };
}

/** The body of a `pull_request` webhook: the action, the full pull request, and `before`/`after` on a synchronize. */
export function pullRequestPayloadJson(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  pr: PullRecord,
  details: PullDetails,
  event: { action: string; sender: string; before?: string; after?: string },
): Json {
  const pull = pullJson(urls, state, repo, pr, details);
  // GitHub's description types `head.repo.organization` of a synchronize as the login, unlike the other actions'
  // (and the REST API's) organization object: follow it, so the payload is what a receiver is promised.
  if (event.action === 'synchronize') {
    for (const side of ['head', 'base'] as const) {
      const r = (pull[side] as Json)['repo'] as Json;
      if (r['organization']) r['organization'] = repo.owner;
    }
  }
  return {
    action: event.action,
    number: pr.number,
    ...(event.before !== undefined ? { before: event.before, after: event.after } : {}),
    pull_request: pull,
    // Unlike `push`, these payloads carry the repository as the REST API shows it (ISO times, organization object).
    repository: repoJson(urls, state, repo),
    sender: userJson(urls, state.user(event.sender)),
  };
}

/** The body of the `ping` webhook GitHub sends when a hook is created. */
export function pingPayloadJson(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  hook: HookRecord,
  sender: string,
): Json {
  return {
    zen: 'Keep it logically awesome.',
    hook_id: hook.id,
    hook: hookJson(urls, repo, hook),
    repository: webhookRepoJson(urls, state, repo),
    sender: userJson(urls, state.user(sender)),
  };
}
