// An app's Git source against a real smart-HTTP server: a fetch shared by several callers stops only once every one
// of them gave it up.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type GitServer, startGitServer } from '../../testenv/src/git-server.ts';
import { GitSource } from '../src/edges/git/git-source.ts';

const TOKEN = 'ghs_source_reader';
let server: GitServer;
let tmp: string;

before(async () => {
  server = await startGitServer({ tokens: { [TOKEN]: { login: 'reader', repos: '*' } } });
  tmp = await mkdtemp(join(tmpdir(), 'tether-git-source-'));
  await server.createRepo('acme/env', { files: { 'envs/dev/web/cm.yaml': 'kind: ConfigMap\n' } });
});
after(async () => {
  await server.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function source(name: string): Promise<GitSource> {
  return GitSource.create({
    url: server.cloneUrl('acme/env'),
    ref: 'main',
    cacheDir: join(tmp, name),
    credentials: () => ({ username: 'x-access-token', password: TOKEN }),
  });
}

/** Pack requests (the fetch past its ref listing) the server received since `since`. */
const packsSince = (since: number) =>
  server.received.filter((r) => r.method === 'POST' && r.path.endsWith('/git-upload-pack') && r.at >= since).length;

test('a fetch every caller gave up stops at once; one another caller still waits for runs on', async () => {
  server.faults.latencyMs = 300;
  try {
    // Given up by its only caller during its ref listing: it fails with the abort and asks for no pack.
    const alone = await source('alone');
    const since = performance.now();
    const giveUp = new AbortController();
    const fetching = alone.fetch({ signal: giveUp.signal });
    setTimeout(() => giveUp.abort(), 100);
    await assert.rejects(fetching, /abort/i);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(packsSince(since), 0, 'pack requests after the fetch was given up');

    // Shared with a caller that passed no signal: the fetch runs on for it, and every caller has the commit.
    const shared = await source('shared');
    const prefetch = new AbortController();
    const first = shared.fetch({ signal: prefetch.signal });
    const second = shared.fetch();
    setTimeout(() => prefetch.abort(), 100);
    const [a, b] = await Promise.all([first, second]);
    assert.match(a, /^[0-9a-f]{40}$/);
    assert.equal(a, b);
  } finally {
    server.faults.latencyMs = 0;
  }
});
