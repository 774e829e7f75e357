// Parsing rendered YAML off the agent's event loop. A 6 MB render within every limit takes ~1.5 s of js-yaml on this
// repository's machine; on the main thread that is 1.5 s in which /healthz, webhooks, heals and SIGTERM wait. So the
// one safe parse (shared/src/yaml-safe.ts, with its size, document and alias limits) runs in a worker thread with
// its own heap limit: an input that still gets past the limits kills the worker, not the agent, and the render fails
// naming the file being parsed. One worker serves every app in turn (parses queue; memory stays bounded), and is
// started again after it dies.
import { isMainThread, type MessagePort, Worker, workerData } from 'node:worker_threads';
import { TetherError, type TetherErrorCode } from '../../../../shared/src/errors.ts';
import { type YamlLimits, yamlBudget } from '../../../../shared/src/yaml-safe.ts';
import type { SourcedObject } from '../../core/types.ts';
import { parseDocuments, parseManifests } from './parse.ts';

/** What one parse asks: plain manifest files (one budget for them all), or one renderer's whole output. */
export type ParseJob =
  | { kind: 'files'; files: { path: string; text: string | Uint8Array }[]; limits?: YamlLimits }
  | { kind: 'output'; text: string; file: string; maxFileBytes: number; limits?: YamlLimits };

/** Marks the worker's `workerData`, so that an entry loaded as a worker knows to serve parses. */
export const PARSE_WORKER_MARK = 'tether-parse-worker';

/**
 * `progress` is shared memory in which the worker keeps the index of the file it is parsing, so that a worker that
 * dies names the file it died on. A message per file did the same at the cost of one message to the agent's thread
 * for every file (1,000 messages for a 1,000-file app).
 */
type Request = { id: number; job: ParseJob; progress: Int32Array };
type Reply =
  | { id: number; type: 'done'; objects: SourcedObject[] }
  | { id: number; type: 'error'; code?: TetherErrorCode; message: string };

/**
 * Runs one job on this thread: what the worker does, and the fallback where no worker can start. `onFile` is told the
 * index in `files` of each file before it is parsed.
 */
export function runParseJob(job: ParseJob, onFile: (index: number) => void = () => {}): SourcedObject[] {
  const budget = yamlBudget(job.limits);
  if (job.kind === 'output') return parseDocuments(job.text, job.file, { budget, maxFileBytes: job.maxFileBytes });
  return parseManifests(job.files, budget, onFile);
}

/** Serves parse requests on `port` until the thread ends (the worker side). */
export function serveParses(port: MessagePort): void {
  port.on('message', ({ id, job, progress }: Request) => {
    let reply: Reply;
    try {
      reply = { id, type: 'done', objects: runParseJob(job, (index) => Atomics.store(progress, 0, index)) };
    } catch (err) {
      const e = err as Error & { code?: TetherErrorCode };
      reply = { id, type: 'error', message: e.message, ...(e instanceof TetherError ? { code: e.code } : {}) };
    }
    port.postMessage(reply);
  });
}

/** True when this thread was started as a parse worker (parse-worker-entry.ts then serves parses). */
export function isParseWorker(): boolean {
  return !isMainThread && (workerData as { mark?: string } | null)?.mark === PARSE_WORKER_MARK;
}

/** Options of the parse worker. */
export interface ParseWorkerOptions {
  /** The worker's V8 heap limit: an input that needs more kills the worker, and its render fails. */
  maxHeapMb: number;
  /** The module the worker runs; it must call serveParses when isParseWorker() (see parse-worker-entry.ts). */
  entry: URL;
}

/**
 * The worker's module: parse-worker-entry.ts from source (tsx); in the bundle, where this module sits in one of the
 * files in dist/, the entry scripts/build.mjs writes beside them, dist/parse-worker.mjs.
 */
export function workerEntry(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('./parse-worker-entry.ts', import.meta.url)
    : new URL('./parse-worker.mjs', import.meta.url);
}

/** The defaults: 128 MB of heap (the agent's limit is 256 Mi for everything) and the entry. */
export function defaultParseWorkerOptions(): ParseWorkerOptions {
  return { maxHeapMb: 128, entry: workerEntry() };
}

/**
 * One worker thread parsing YAML for every app, one job at a time. The thread lives only while it has work: a parse
 * queued or running, or a parse announced by prepare() and not yet done. Once neither is left it is stopped at once,
 * and the next parse starts another (~30 ms). Its heap grows to the size of the largest parse (~18 MB of RSS for
 * 3,000 objects) and stays so while the thread lives: kept for a few idle seconds, it stayed resident through the
 * apply that follows every render, and an agent whose apps are in sync parses nothing between Git changes.
 */
export class ParseWorker {
  private worker: Worker | undefined;
  private queue: Promise<void> = Promise.resolve();
  private nextId = 0;
  private closed = false;
  /** Parses asked for and not yet answered. */
  private pending = 0;
  /** Parses announced by prepare() whose caller has not yet said they are done (or will not come). */
  private announced = 0;
  private readonly options: ParseWorkerOptions;

  constructor(options: Partial<ParseWorkerOptions> = {}) {
    this.options = { ...defaultParseWorkerOptions(), ...options };
  }

  /** True while a worker thread is running (started by a parse or prepare(), stopped when idle or closed). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Parses `job` in the worker; rejects with a `render` error naming the file when the worker dies on it. */
  parse(job: ParseJob): Promise<SourcedObject[]> {
    this.pending++;
    const run = this.queue.then(() => this.runOne(job));
    // The queue keeps only the turn, not the result: every parsed object of the last render would otherwise stay
    // reachable from here until the next parse.
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.pending--;
      this.stopWhenIdle();
    });
  }

  /** Stops the worker, giving its heap back, when no parse is queued, running or announced. */
  private stopWhenIdle(): void {
    const w = this.worker;
    if (this.pending > 0 || this.announced > 0 || !w) return;
    this.worker = undefined;
    void w.terminate();
  }

  /**
   * Announces a parse: starts the worker ahead of it, so that its start-up (loading the parser's code into a new
   * isolate) overlaps the Git fetch instead of following it, and keeps the worker until the returned function is
   * called, which the caller does once its parse is done or will not come (a failed fetch). Apps that sync together
   * so share one worker instead of each starting its own after the last one's parse.
   */
  prepare(): () => void {
    if (this.closed) return () => {};
    this.worker ??= this.start();
    this.announced++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.announced--;
      this.stopWhenIdle();
    };
  }

  /** Stops the worker at once, even mid-parse (shutdown); later parses are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private start(): Worker {
    const entry = this.options.entry;
    const options = {
      workerData: { mark: PARSE_WORKER_MARK },
      // No process flags: heap flags such as --max-old-space-size are the process's; the worker has resourceLimits.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb, maxYoungGenerationSizeMb: 16 },
    };
    // From source, a worker does not inherit tsx's loader (Node 20 loads a worker's entry before `--import` hooks
    // apply), so a small script registers tsx and then imports the entry. The bundle needs no loader.
    const w = entry.pathname.endsWith('.ts')
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`,
          { ...options, eval: true },
        )
      : new Worker(entry, options);
    // An idle worker must not keep the agent (or a CLI command) alive.
    w.unref();
    // A worker that dies while idle (started by prepare, before any parse listens) is forgotten, not thrown: the
    // next parse starts another one, and reports its own failure if that one dies too.
    w.on('error', () => {});
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
    });
    return w;
  }

  private runOne(job: ParseJob): Promise<SourcedObject[]> {
    if (this.closed) return Promise.reject(new TetherError('render', 'the agent is shutting down; not parsed'));
    this.worker ??= this.start();
    const w = this.worker;
    const id = ++this.nextId;
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const current = () =>
      job.kind === 'output' ? job.file : (job.files[Atomics.load(progress, 0)]?.path ?? '(no files)');
    return new Promise<SourcedObject[]>((resolve, reject) => {
      const cleanup = () => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const onMessage = (m: Reply) => {
        if (m.id !== id) return;
        cleanup();
        if (m.type === 'done') resolve(m.objects);
        else reject(m.code ? new TetherError(m.code, m.message) : new Error(m.message));
      };
      const died = (why: string) => {
        cleanup();
        if (this.worker === w) this.worker = undefined;
        reject(new TetherError('render', `${current()}: ${why}; refused`));
      };
      const onError = (err: Error & { code?: string }) =>
        died(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `parsing it needed more than the parser's ${this.options.maxHeapMb} MB of memory`
            : `the parser failed: ${err.message}`,
        );
      const onExit = (code: number) =>
        died(this.closed ? 'parsing was stopped by shutdown' : `the parser exited (code ${code})`);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.ref();
      w.postMessage({ id, job, progress } satisfies Request);
    }).finally(() => {
      w.unref();
    });
  }
}
