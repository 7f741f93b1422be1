// Worker processes for the group scenarios (test/support/group-scenarios.ts,
// limit-scenarios.ts): forks test/fixtures/group-worker.mjs, collects what its handlers report
// over IPC, and reads the queue's events stream.
//
// Two records are read, and each scenario checks what it can on both:
// - the handlers' own, in Redis: every start and end takes a place in one order of all
//   processes (an INCR, in one MULTI with the per-queue and per-group running counters, TIME,
//   and for a start its lease deadline and the events stream's length). A handler starts after
//   its lease and records its end before its ack, so what these counters show running is at
//   most what was leased: a limit they see exceeded was exceeded.
// - the queue's events stream, where the lease, ack, fail and back-off scripts write each job's
//   `started`, `completed`, `failed`, `backed-off` in the order Redis ran them: the order the
//   limits and turns are decided in, which a handler's record only approaches (a busy process
//   starts a leased job late, after other processes started jobs leased after it).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { Queue } from 'kyoo';
import { waitFor, type Scope } from './behaviour.js';
import { cleanupPrefix } from './redis.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/group-worker.mjs', import.meta.url));

/** What the jobs of the group tests carry (see the fixture's header). */
export interface RunData {
  g?: string;
  i: number;
  sleepMs?: number;
  failFirst?: boolean;
  backOffMs?: number;
  backOffScope?: 'queue' | 'group';
}

/** One event reported by a worker process (see the fixture's header), and the process that sent it. */
export interface RunEvent {
  t: 'start' | 'end' | 'completed' | 'retried' | 'dead' | 'failed' | 'backedOff' | 'error';
  id: string;
  g?: string;
  i: number;
  attempt: number;
  /** start: the job's starts so far, this one included. */
  run: number;
  /** start, end: the place in one order of every process's starts and ends. */
  ord: number;
  /** start: the start ordinal (1 for the first start of the test). */
  n: number;
  /** start, end: Redis TIME (ms) when it was recorded. */
  at: number;
  /** start: handlers running in the queue, and in the job's group, this one included. */
  running: number;
  grunning: number;
  /** start: the length of the queue's events stream then (the entries before it were written before this start). */
  xlen: number;
  /** start: Redis's time (ms, floored) when the lease script leased it: the clock the limits are kept on. */
  leasedAt: number;
  /** end: how the run ended. */
  how: 'ok' | 'fail' | 'backoff';
  delayMs: number;
  scope: 'queue' | 'group';
  name: string;
  message: string;
  pid: number;
}

/** A set of worker processes on one queue, and everything they reported. */
export interface Workers {
  readonly events: RunEvent[];
  readonly pids: number[];
  /** The events of kind `t`, in the order they arrived. */
  of(t: RunEvent['t']): RunEvent[];
  /** Asks every process to close (worker.close()) and waits for them to exit; SIGKILL after 15 s. */
  close(): Promise<void>;
}

/** A queue on the scope's queue name, closed with the scope. */
export const openQueue = (s: Scope): Queue<RunData> => s.track(new Queue<RunData>(s.name, { connection: s.url }));

/** The largest of `values` (0 for none). */
export const max = (values: number[]): number => values.reduce((a, b) => Math.max(a, b), 0);

/** The prefix of a scope's record keys (the queue's hash tag in it, so one MULTI may touch them all). */
export const recordPrefix = (s: Scope): string => `grp-rec:{${s.name}}:`;

/**
 * Forks `count` worker processes of `concurrency` slots on the scope's queue and waits until
 * each has its worker. They are killed, and the record keys removed, when the scope is disposed.
 */
export async function startWorkers(s: Scope, count: number, concurrency: number): Promise<Workers> {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name, KYOO_CONCURRENCY: String(concurrency), KYOO_RECORD: recordPrefix(s), KYOO_EVENTS: s.keys.events, KYOO_LEASED: s.keys.leased };
  delete env.NODE_OPTIONS; // vitest's loaders are not for plain JS children
  const events: RunEvent[] = [];
  const children: ChildProcess[] = [];
  const readies: Promise<void>[] = [];
  const closed = new Map<ChildProcess, Promise<void>>();
  s.defer(async () => {
    await Promise.all(children.map((child) => stop(child, 'SIGKILL')));
    await cleanupPrefix(s.admin, recordPrefix(s));
  });
  for (let k = 0; k < count; k++) {
    const child = fork(FIXTURE, [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const pid = child.pid!;
    let closedResolve!: () => void;
    closed.set(child, new Promise<void>((r) => (closedResolve = r)));
    readies.push(new Promise<void>((resolve, reject) => {
      child.on('message', (msg: any) => {
        if (Array.isArray(msg)) for (const e of msg) events.push({ ...e, pid });
        else if (msg?.t === 'ready') resolve();
        else if (msg?.t === 'closed') closedResolve();
      });
      child.once('exit', (code, signal) => reject(new Error(`worker process ${pid} exited (${code ?? signal}) before it was ready`)));
    }));
  }
  await Promise.all(readies);
  return {
    events,
    pids: children.map((c) => c.pid!),
    of: (t) => events.filter((e) => e.t === t),
    async close() {
      await Promise.all(children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.send({ t: 'close' });
        await Promise.race([closed.get(child)!.then(() => exited), exited]);
        clearTimeout(timer);
      }));
    },
  };
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  return exited;
}

/** Waits until `workers` reported `count` events of kind `t` (those `match` accepts). */
export function waitEvents(workers: Workers, t: RunEvent['t'], count: number, timeoutMs: number, match: (e: RunEvent) => boolean = () => true): Promise<void> {
  return waitFor(() => workers.events.filter((e) => e.t === t && match(e)).length >= count, timeoutMs, `${count} '${t}' events (have ${workers.of(t).filter(match).length})`);
}

/** One entry of a queue's events stream: one kind of event, for every job that had it in one script call. */
export interface StreamEntry {
  /** Redis's time (ms) when the script wrote it: the entry id's first part. */
  ms: number;
  e: string;
  ids: string[];
  /** The run each concerns, per job (0 before the first). */
  attempts: number[];
}

/** Every entry of the stream at `key`, oldest first. */
export async function readStream(admin: Redis | Cluster, key: string): Promise<StreamEntry[]> {
  const out: StreamEntry[] = [];
  let from = '-';
  for (;;) {
    const page = (await admin.xrange(key, from, '+', 'COUNT', 5000)) as [string, string[]][];
    for (const [id, f] of page) {
      const field = (name: string): string => f[f.indexOf(name) + 1] ?? '';
      out.push({ ms: Number(id.split('-')[0]), e: field('e'), ids: field('j').split('\n'), attempts: field('a').split(',').map(Number) });
    }
    if (page.length < 5000) return out;
    from = `(${page.at(-1)![0]}`;
  }
}

/** One job's event from the stream: `at` is its entry's place in the stream. */
export interface JobEvent {
  e: string;
  id: string;
  attempt: number;
  ms: number;
  at: number;
}

/** The jobs' events of the kinds in `kinds`, one per job, in the order Redis wrote them. */
export function jobEvents(stream: StreamEntry[], ...kinds: string[]): JobEvent[] {
  const out: JobEvent[] = [];
  stream.forEach((entry, at) => {
    if (kinds.includes(entry.e)) entry.ids.forEach((id, k) => out.push({ e: entry.e, id, attempt: entry.attempts[k]!, ms: entry.ms, at }));
  });
  return out;
}

/** The most of `times` (ms, sorted) that fall in any closed window of `spanMs`. */
export function mostInWindow(times: number[], spanMs: number): number {
  let most = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (j < times.length && times[j]! <= times[i]! + spanMs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}
