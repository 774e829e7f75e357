import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GitHubOps } from '../src/github-ops.ts';
import type { ActionOctokit } from '../src/octokit.ts';

/**
 * A branch whose history is not a line: S changed envs/dev on a side branch, B (on main, not containing S) was
 * synced and carries a success for the old content of envs/dev, then M merged S. Listed newest first, B falls
 * between M and S.
 */
function mergedHistory() {
  // What `git log -- envs/dev` lists from each commit (M is the same as S there, so S is its last change).
  const touching: Record<string, string[]> = { main: ['S', 'A'], M: ['S', 'A'], B: ['A'], S: ['S', 'A'], A: ['A'] };
  const statuses: Record<string, { context: string; state: string; created_at: string }[]> = {
    // The agent has begun syncing M; B's success, about the content before S, is the newer status.
    M: [{ context: 'tether/dev/web', state: 'pending', created_at: '2026-01-01T00:00:30Z' }],
    B: [{ context: 'tether/dev/web', state: 'success', created_at: '2026-01-01T00:01:00Z' }],
  };
  const calls: string[] = [];
  const octokit = {
    rest: {
      repos: {
        listCommits: async (o: { sha: string; path?: string; per_page?: number }) => {
          calls.push(`commits ${o.sha}${o.path ? ` -- ${o.path}` : ''}`);
          const list = o.path ? touching[o.sha]! : ['M', 'B', 'S', 'A'];
          return { data: list.slice(0, o.per_page).map((sha) => ({ sha, commit: { message: sha } })) };
        },
        getCombinedStatusForRef: async (o: { ref: string }) => {
          const list = statuses[o.ref] ?? [];
          return { data: { statuses: list, total_count: list.length } };
        },
      },
    },
  } as unknown as ActionOctokit;
  return { ops: new GitHubOps(octokit, { owner: 'acme', repo: 'env' }), calls };
}

test('a later commit speaks for a commit only when its history holds that commit as the last change to the path', async () => {
  const { ops, calls } = mergedHistory();
  const commits = await ops.commitsTouching('main', 'envs/dev', { relevant: (c) => c.startsWith('tether/dev/') });
  const s = commits.find((c) => c.sha === 'S')!;
  // B never held S's envs/dev, so its success does not speak for S; M, which merged S, does.
  assert.deepEqual(
    s.statuses.map((st) => [st.state, st.on]),
    [['pending', 'M']],
  );
  // Only the later commits that carry a status the gate reads are asked where the path last changed.
  assert.deepEqual(
    calls.filter((c) => !c.startsWith('commits main')),
    ['commits M -- envs/dev', 'commits B -- envs/dev'],
  );
});
