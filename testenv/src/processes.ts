import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A long-running child process of the local world, with its log file. */
export interface WorldProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  /** True while the process runs. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The last `lines` lines of its log, for error messages. */
  tail(lines?: number): string;
}

// Every process the world started, so that an abrupt exit of the test process still kills them.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killAll);
  // A signal's default action ends the process without 'exit': the test runner stops a file that ran past its
  // timeout with SIGTERM, and its etcd and apiserver would run on, holding CPU and ports for the rest of the suite.
  // The children go first, then the signal is raised again with its default action. A process that handles the
  // signal itself (the demo stops its world on it) is left to do so; 'exit' kills whatever is left after.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      if (process.listenerCount(signal) > 0) return;
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Starts `command args`, logging stdout and stderr to `logFile`. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): WorldProcess {
  installExitHook();
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  live.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      live.delete(child);
      log.write(`spawn error: ${err.message}\n`);
      resolve('spawn-error');
    });
  }).finally(() => log.end());
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    exited,
    running: () => !done,
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    tail(lines = 20) {
      try {
        return readFileSync(options.logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** True when something accepts connections on 127.0.0.1:port. */
export async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * True when an etcd answers on 127.0.0.1:port: its `/health` JSON names a `health` field. An open port alone is not
 * enough: freePort() releases a port before etcd binds it, so another world's HTTP server can hold it by then, and the
 * apiserver would dial that server as its etcd until it gives up.
 */
export async function etcdAnswers(port: number): Promise<boolean> {
  const { get } = await import('node:http');
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => {
        try {
          const parsed: unknown = JSON.parse(body);
          resolve(typeof parsed === 'object' && parsed !== null && 'health' in parsed);
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes; throws `describe()` on timeout. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; intervalMs?: number; describe: () => string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms: ${options.describe()}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** Something of the local world that can be stopped. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts two parts of the world at once. When either fails, the one that started is stopped before the error is
 * thrown: a test whose setup failed must not leave a server listening, or its process never exits.
 */
export async function startTogether<A extends Stoppable, B extends Stoppable>(
  a: Promise<A>,
  b: Promise<B>,
): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  await Promise.allSettled([ra, rb].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}
