// Worker processes for the process-level tests: forks test/fixtures/worker-process.mjs,
// collects what it reports over IPC, and makes sure no child outlives the test file.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/worker-process.mjs', import.meta.url));

/** One event reported by a worker process (see the fixture's header), plus who sent it and when it arrived. */
export interface WorkerEvent {
  t: 'start' | 'finish' | 'abort' | 'completed' | 'failed' | 'retried' | 'dead' | 'error';
  id?: string;
  attempt?: number;
  seq?: number;
  at?: number;
  message?: string;
  name?: string;
  code?: string;
  reason?: string;
  /** Pid of the worker process that sent it. */
  pid: number;
  /** Date.now() in the parent when it arrived. */
  received: number;
  /** For 'completed': what the run returned. */
  result?: { by: number; attempt: number };
}

export interface WorkerProcessOptions {
  redisUrl: string;
  queue: string;
  concurrency?: number;
  leaseMs?: number;
  sleepMs?: number;
  sleepJitterMs?: number;
  keepCompleted?: boolean;
  /** After worker.close() resolves, the process waits this long (a timer) before it exits. */
  lingerMs?: number;
  /** false: the handler is `async (job) => ...` and runs to its end even after its lease is lost. @defaultValue true */
  useSignal?: boolean;
  /** Called for every event as it arrives. */
  onEvent?: (e: WorkerEvent) => void;
}

export interface WorkerProcess {
  readonly pid: number;
  /** Whether its handler takes the AbortSignal (see {@link WorkerProcessOptions.useSignal}). */
  readonly useSignal: boolean;
  readonly child: ChildProcess;
  /** Every event received so far, in order. */
  readonly events: WorkerEvent[];
  /** Resolves once the worker is constructed (it starts leasing at once). */
  readonly ready: Promise<void>;
  /** Resolves with the exit code / signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Asks for worker.close() over IPC and waits for the exit; SIGKILL after `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) try { child.kill('SIGKILL'); } catch { /* gone */ }
});

/** Forks one worker process. Call {@link killAll} (or close/kill each) in afterAll/finally. */
export function startWorkerProcess(o: WorkerProcessOptions): WorkerProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS; // vitest's loaders are not for plain JS children
  Object.assign(env, {
    REDIS_URL: o.redisUrl,
    KYOO_QUEUE: o.queue,
    KYOO_CONCURRENCY: String(o.concurrency ?? 1),
    KYOO_LEASE_MS: o.leaseMs === undefined ? '' : String(o.leaseMs),
    KYOO_SLEEP_MS: String(o.sleepMs ?? 0),
    KYOO_SLEEP_JITTER_MS: String(o.sleepJitterMs ?? 0),
    KYOO_KEEP_COMPLETED: o.keepCompleted ? '1' : '0',
    KYOO_REPORT: 'all',
    KYOO_LINGER_MS: String(o.lingerMs ?? 0),
    KYOO_USE_SIGNAL: (o.useSignal ?? true) ? '1' : '0',
  });
  const child = fork(FIXTURE, [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child);
  const pid = child.pid!;
  const events: WorkerEvent[] = [];
  let closedResolve: (() => void) | undefined;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (msg: any) => {
      if (Array.isArray(msg)) {
        const received = Date.now();
        for (const raw of msg) {
          const e = { ...raw, pid, received } as WorkerEvent;
          events.push(e);
          o.onEvent?.(e);
        }
      } else if (msg?.t === 'ready') resolve();
      else if (msg?.t === 'closed') closedResolve?.();
    });
    void exited.then(({ code, signal }) => reject(new Error(`worker process ${pid} exited (${code ?? signal}) before it was ready`)));
  });
  ready.catch(() => undefined);
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    pid,
    useSignal: o.useSignal ?? true,
    child,
    events,
    ready,
    exited,
    kill,
    async close(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ t: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await Promise.race([closed.then(() => exited), exited]);
      clearTimeout(timer);
    },
  };
}

/** SIGKILLs every worker process this file started that is still running. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
}

/** Polls `check` every `everyMs` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
