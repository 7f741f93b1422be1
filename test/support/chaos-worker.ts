// Worker processes for the chaos tests: forks test/fixtures/chaos-worker.mjs (which reports the
// attempt and result with every completion, and can run a handler that ignores its signal),
// collects what it reports over IPC, and makes sure no child outlives the test file.
// Same shape as test/support/worker-process.ts, whose helpers fork the other fixture.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerEvent } from './worker-process.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/chaos-worker.mjs', import.meta.url));

/** One event of a chaos worker: a {@link WorkerEvent}, and for 'completed' the run's result. */
export interface ChaosEvent extends WorkerEvent {
  result?: { by: number; attempt: number };
}

export interface ChaosWorkerOptions {
  redisUrl: string;
  queue: string;
  concurrency?: number;
  leaseMs?: number;
  sleepMs?: number;
  sleepJitterMs?: number;
  keepCompleted?: boolean;
  /** false: the handler is `async (job) => ...` and runs to its end even after its lease is lost. @defaultValue true */
  useSignal?: boolean;
  /** Called for every event as it arrives. */
  onEvent?: (e: ChaosEvent) => void;
}

export interface ChaosWorker {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly useSignal: boolean;
  /** Every event received so far, in order. */
  readonly events: ChaosEvent[];
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

/** Forks one chaos worker process. Call {@link killAllChaosWorkers} (or close/kill each) in afterAll/finally. */
export function startChaosWorker(o: ChaosWorkerOptions): ChaosWorker {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS; // vitest's loaders are not for plain JS children
  const useSignal = o.useSignal ?? true;
  Object.assign(env, {
    REDIS_URL: o.redisUrl,
    KYOO_QUEUE: o.queue,
    KYOO_CONCURRENCY: String(o.concurrency ?? 1),
    KYOO_LEASE_MS: o.leaseMs === undefined ? '' : String(o.leaseMs),
    KYOO_SLEEP_MS: String(o.sleepMs ?? 0),
    KYOO_SLEEP_JITTER_MS: String(o.sleepJitterMs ?? 0),
    KYOO_KEEP_COMPLETED: o.keepCompleted ? '1' : '0',
    KYOO_USE_SIGNAL: useSignal ? '1' : '0',
  });
  const child = fork(FIXTURE, [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child);
  const pid = child.pid!;
  const events: ChaosEvent[] = [];
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
          const e = { ...raw, pid, received } as ChaosEvent;
          events.push(e);
          o.onEvent?.(e);
        }
      } else if (msg?.t === 'ready') resolve();
      else if (msg?.t === 'closed') closedResolve?.();
    });
    void exited.then(({ code, signal }) => reject(new Error(`chaos worker ${pid} exited (${code ?? signal}) before it was ready`)));
  });
  ready.catch(() => undefined);
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    pid,
    child,
    useSignal,
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

/** SIGKILLs every chaos worker process this file started that is still running. */
export async function killAllChaosWorkers(): Promise<void> {
  await Promise.all([...live].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
}
