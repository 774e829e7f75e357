// One call for the whole local world (issue 3, part 4): Kubernetes clusters, the Git server and the GitHub emulator,
// on loopback, with one token that works for `git push` and the REST API alike. Tests, the demo and the benchmarks
// start it the same way.
import { randomBytes } from 'node:crypto';
import { type GitServer, startGitServer } from './git-server.ts';
import { type GitHubEmulator, startGitHub } from './github/server.ts';
import { type KubeMode, type LocalKube, startKube } from './kube.ts';
import type { TokenMap } from './tokens.ts';

/** What to start. `kube` may name several clusters (the demo runs `dev` and `staging`). */
export interface WorldOptions {
  kube?: KubeMode | false | Record<string, KubeMode>;
  git?: boolean;
  github?: boolean | { validate?: boolean };
}

/** A running world. */
export interface World {
  /** The first (or only) cluster. */
  kube?: LocalKube;
  /** Every cluster by name (`default` when one was asked for by mode). */
  clusters: Record<string, LocalKube>;
  git?: GitServer;
  github?: GitHubEmulator;
  /** A token with access to every repository (`x-access-token:<token>` for Git, `token <token>` for REST). */
  token: string;
  /** The token map both servers read: add tokens with narrower grants here. */
  tokens: TokenMap;
  /** Stops everything; no process or port is left. */
  stop(): Promise<void>;
}

/** Starts the world: clusters, Git server and GitHub emulator in parallel where they are independent. */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  const tokens: TokenMap = { [token]: { login: 'tether-bot', repos: '*' } };
  const wantGit = options.git !== false || Boolean(options.github);
  const kubeSpec: Record<string, KubeMode> =
    options.kube === undefined || options.kube === false
      ? {}
      : typeof options.kube === 'string'
        ? { default: options.kube }
        : options.kube;
  const clusters: Record<string, LocalKube> = {};
  let git: GitServer | undefined;
  let github: GitHubEmulator | undefined;
  const stop = async () => {
    await github?.stop();
    await Promise.all([git?.stop(), ...Object.values(clusters).map((k) => k.stop())]);
  };
  try {
    const kubeStarts = Object.entries(kubeSpec).map(async ([name, mode]) => {
      clusters[name] = await startKube({ mode });
    });
    const gitStart = (async () => {
      if (!wantGit) return;
      git = await startGitServer({ tokens });
      if (options.github) {
        const validate = typeof options.github === 'object' ? (options.github.validate ?? true) : true;
        github = await startGitHub({ git, tokens, validate });
      }
    })();
    const results = await Promise.allSettled([...kubeStarts, gitStart]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ...(Object.values(clusters)[0] ? { kube: Object.values(clusters)[0] } : {}),
    clusters,
    ...(git ? { git } : {}),
    ...(github ? { github } : {}),
    token,
    tokens,
    stop,
  };
}
