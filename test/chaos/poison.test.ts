// Poison jobs: each one ends in the dead-letter queue with a readable reason once its
// attempts are used up, while the same worker keeps serving a stream of healthy jobs that
// all complete. (a) records that cannot be decoded, written straight into Redis; (b) handlers
// that throw things that are not Errors; (c) handlers that never settle (per-job timeoutMs);
// (d) a job that kills its worker process on every run, with a supervisor restarting it.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encode } from '@kyoo/core';
import { Queue, Worker, type JobInfo } from 'kyoo';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Scope, sleep, waitFor } from '../support/behaviour.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/poison-worker.mjs', import.meta.url));
const FAST = { type: 'fixed', delayMs: 5, jitter: 0 } as const;

let s: Scope | undefined;
const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  await s?.dispose();
  s = undefined;
});
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Adds `n` healthy jobs, one every `everyMs`, while the poison is being handled; resolves
 * with their ids. Healthy jobs get generous attempts so that a crash of a worker that
 * happened to hold one does not kill them too.
 */
async function healthyStream(queue: Queue, n: number, everyMs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(await queue.add({ healthy: i }, { attempts: 10, backoff: { type: 'fixed', delayMs: 0 } }));
    await sleep(everyMs);
  }
  return ids;
}

/** The queue is drained: nothing ready, delayed or leased. */
async function drained(queue: Queue): Promise<boolean> {
  const c = await queue.counts();
  return c.ready + c.delayed + c.leased === 0;
}

/** The job is in the dead-letter queue; returns it. */
async function deadJob(queue: Queue, id: string): Promise<JobInfo> {
  const job = await queue.dead.get(id);
  expect(job, `job ${id} should be in the dead-letter queue`).not.toBeNull();
  expect(job!.state).toBe('dead');
  // its reason: the last entry of its history, from its last attempt
  expect(job!.errors.length, `job ${id} should carry its reason`).toBeGreaterThan(0);
  expect(job!.lastError).toEqual(job!.errors[job!.errors.length - 1]);
  expect(job!.lastError!.attempt).toBe(job!.attemptsMade);
  return job!;
}

describe('a record that cannot be decoded (written directly into Redis)', () => {
  // header length byte, then a msgpack header, then payload bytes (see lua/includes/record.lua)
  const header = (h: unknown): Buffer => {
    const b = encode(h);
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  const validHeader = header([1, 3, 0, 0, 0, 0, Date.now(), 0]);
  const GARBAGE: [string, Buffer][] = [
    ['random text', Buffer.from('this is not a kyoo record \xff\x00\xfe', 'latin1')],
    ['an empty string', Buffer.alloc(0)],
    ['a header length past the end', Buffer.from([200, 0x93, 1, 2])],
    ['a header that is msgpack but not an array', Buffer.concat([header('hello'), encode(1)])],
    ['a version-2 header in the version-1 framing', Buffer.concat([header([2, 3, 0, 0, 0, 0, 0, 0]), encode('x')])],
    ['a valid header with a truncated payload', Buffer.concat([validHeader, Buffer.from([0x92, 0x01])])],
    ['a valid header with trailing bytes after the payload', Buffer.concat([validHeader, Buffer.from([0x01, 0x02])])],
    // a real record whose payload is a 10 MB string header with 3 bytes behind it
    ['a payload that claims more bytes than it has', Buffer.concat([validHeader, Buffer.from([0xdb, 0x00, 0x98, 0x96, 0x80, 0x61, 0x62, 0x63])])],
  ];

  test('each goes to the dead-letter queue with a DecodeError on its first run; healthy jobs all complete', async () => {
    s = new Scope('poison-decode');
    const queue = s.track(new Queue(s.name, { connection: s.url }));
    const completed = new Set<string>();
    const deadEvents = new Map<string, string>();
    const worker = s.trackWorker(new Worker(s.name, async () => 'ok', { connection: s.url, concurrency: 4 }));
    worker.on('completed', (job) => completed.add(job.id));
    worker.on('dead', (job, err) => deadEvents.set(job.id, `${err.name}: ${err.message}`));

    const stream = healthyStream(queue, 40, 5);
    const poisonIds: string[] = [];
    for (const [i, [, bytes]] of GARBAGE.entries()) {
      const id = `garbage-${i}`;
      poisonIds.push(id);
      await s.admin.multi().hset(s.keys.jobs, id, bytes).rpush(s.keys.ready, id).rpush(s.keys.wake, '1').exec();
      await sleep(7);
    }
    const healthy = await stream;
    await waitFor(async () => completed.size === healthy.length && deadEvents.size === poisonIds.length && (await drained(queue)), 10_000,
      'every healthy job completed and every garbage record dead-lettered');

    for (const [i, [what]] of GARBAGE.entries()) {
      const id = poisonIds[i]!;
      const job = await deadJob(queue, id);
      expect(job.lastError!.name, what).toBe('DecodeError');
      expect(job.lastError!.message, what).toMatch(/^could not decode job (record|payload)/);
      // retrying cannot make bytes decodable: one run, then the DLQ
      expect(job.attemptsMade, what).toBe(1);
      expect(job.errors, what).toHaveLength(1);
      expect(job.decodeError, what).toMatch(/could not decode/);
      expect(deadEvents.get(id), what).toMatch(/^DecodeError: could not decode/);
    }
    expect([...completed].sort()).toEqual([...healthy].sort());
    expect((await queue.counts()).dead).toBe(GARBAGE.length);
  });
});

describe('a handler that throws something that is not an Error', () => {
  // what the handler throws, and the readable text the dead letter must carry
  const THROWN: [string, () => unknown, string][] = [
    ['a string', () => 'disk on fire', 'disk on fire'],
    ['a plain object', () => ({ code: 42, why: 'nope' }), '{"code":42,"why":"nope"}'],
    ['undefined', () => undefined, 'undefined'],
    ['null', () => null, 'null'],
    ['a number', () => 404, '404'],
    ['a symbol', () => Symbol('gone'), 'Symbol(gone)'],
    ['an array', () => [1, 'two'], '[1,"two"]'],
    ['a circular object', () => { const o: Record<string, unknown> = { a: 1 }; o.self = o; return o; }, '[object Object]'],
  ];

  test.each([['async (rejects)', true], ['sync (throws)', false]] as const)(
    '%s: every kind fails each attempt with a HandlerError and ends in the DLQ; healthy jobs complete',
    async (_how, isAsync) => {
      s = new Scope('poison-throw');
      const queue = s.track(new Queue<{ kind?: number; healthy?: number }>(s.name, { connection: s.url }));
      const completed = new Set<string>();
      const dead = new Set<string>();
      const handler = (job: { data: { kind?: number } }): unknown => {
        if (job.data.kind !== undefined) throw THROWN[job.data.kind]![1]();
        return 'fine';
      };
      const worker = s.trackWorker(new Worker<{ kind?: number }>(
        s.name,
        isAsync ? async (job) => handler(job) : (job) => handler(job),
        { connection: s.url, concurrency: 3 },
      ));
      worker.on('completed', (job) => completed.add(job.id));
      worker.on('dead', (job) => dead.add(job.id));

      const stream = healthyStream(queue as Queue, 30, 5);
      const poison = await Promise.all(THROWN.map((_, kind) => queue.add({ kind }, { attempts: 2, backoff: FAST })));
      const healthy = await stream;
      await waitFor(async () => completed.size === healthy.length && dead.size === poison.length && (await drained(queue as Queue)), 10_000,
        'every healthy job completed and every thrower dead-lettered');

      for (const [kind, [what, , text]] of THROWN.entries()) {
        const job = await deadJob(queue as Queue, poison[kind]!);
        expect(job.attemptsMade, what).toBe(2);
        expect(job.errors.map((e) => e.name), what).toEqual(['HandlerError', 'HandlerError']);
        expect(job.errors.map((e) => e.attempt), what).toEqual([1, 2]);
        expect(job.lastError!.message, what).toBe(`handler threw a non-Error value: ${text}`);
      }
      expect([...completed].sort()).toEqual([...healthy].sort());
    },
  );

  test('a thrown value that cannot even be turned into a string (null prototype + BigInt) still dead-letters, and the worker process survives', async () => {
    s = new Scope('poison-nasty');
    const queue = s.track(new Queue(s.name, { connection: s.url }));
    const w = startFixture(s.url, s.name, { concurrency: 2 });
    await w.ready;
    const stream = healthyStream(queue, 20, 5);
    const id = await queue.add({ throwNasty: true }, { attempts: 2, backoff: FAST });
    const healthy = await stream;
    const outcome = await Promise.race([
      w.exited.then((e) => `the worker process died (${e.code ?? e.signal}) instead of failing the job`),
      waitFor(async () => (await queue.dead.get(id)) !== null, 5000, 'the job in the DLQ').then(() => 'dead', (err: Error) => err.message),
    ]);
    expect(outcome, 'see packages/worker/src/run-handler.ts toError(): String(value) throws for null-prototype objects').toBe('dead');
    const job = await deadJob(queue, id);
    expect(job.lastError!.name).toBe('HandlerError');
    expect(job.lastError!.message).toMatch(/^handler threw a non-Error value: /);
    await waitFor(async () => (await Promise.all(healthy.map((h) => queue.getJob(h)))).every((j) => j?.state === 'completed'), 5000, 'healthy jobs completed');
  });
});

describe('a handler that never settles', () => {
  test('the per-job timeoutMs fails every attempt with JobTimeoutError (the signal aborts), then the DLQ; healthy jobs complete', async () => {
    s = new Scope('poison-hang');
    const queue = s.track(new Queue<{ hang?: boolean; healthy?: number }>(s.name, { connection: s.url }));
    const completed = new Set<string>();
    const dead = new Set<string>();
    const aborts: string[] = [];
    const worker = s.trackWorker(new Worker<{ hang?: boolean }>(s.name, (job, signal) => {
      if (!job.data.hang) return Promise.resolve('fine');
      signal.addEventListener('abort', () => aborts.push(`${job.id}#${job.attempt}:${(signal.reason as Error)?.name}`));
      return new Promise(() => {}); // never settles
    }, { connection: s.url, concurrency: 2 }));
    worker.on('completed', (job) => completed.add(job.id));
    worker.on('dead', (job) => dead.add(job.id));

    const stream = healthyStream(queue as Queue, 40, 10);
    const hung = await Promise.all([1, 2].map(() => queue.add({ hang: true }, { attempts: 3, timeoutMs: 80, backoff: FAST })));
    const healthy = await stream;
    await waitFor(async () => completed.size === healthy.length && dead.size === hung.length && (await drained(queue as Queue)), 10_000,
      'every healthy job completed and both hung jobs dead-lettered');

    for (const id of hung) {
      const job = await deadJob(queue as Queue, id);
      expect(job.attemptsMade).toBe(3);
      expect(job.errors.map((e) => e.name)).toEqual(['JobTimeoutError', 'JobTimeoutError', 'JobTimeoutError']);
      expect(job.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
      expect(job.lastError!.message).toBe(`job ${id} timed out after 80 ms`);
      for (const attempt of [1, 2, 3]) expect(aborts).toContain(`${id}#${attempt}:JobTimeoutError`);
    }
    expect([...completed].sort()).toEqual([...healthy].sort());
  });
});

interface Fixture {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startFixture(url: string, queue: string, o: { concurrency?: number; leaseMs?: number } = {}): Fixture {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: url, KYOO_QUEUE: queue, KYOO_CONCURRENCY: String(o.concurrency ?? 1), KYOO_LEASE_MS: o.leaseMs ? String(o.leaseMs) : '' };
  delete env.NODE_OPTIONS;
  const child = fork(FIXTURE, [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { t?: string }) => m?.t === 'ready' && resolve());
    void exited.then((e) => reject(new Error(`worker process exited (${e.code ?? e.signal}) before it was ready`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited };
}

describe('a job that crashes its worker process on every run', () => {
  test('a supervisor restarts the worker after each crash; after 3 runs the job is dead with LeaseExpired errors, healthy jobs complete', async () => {
    s = new Scope('poison-crash');
    const queue = s.track(new Queue(s.name, { connection: s.url }));
    const LEASE_MS = 300;
    const crashes: string[] = [];
    let stop = false;
    let current: Fixture | undefined;
    // the supervisor: keep one worker process running, start a new one whenever it dies
    const supervisor = (async () => {
      while (!stop) {
        const w = startFixture(s!.url, s!.name, { concurrency: 2, leaseMs: LEASE_MS });
        current = w;
        const e = await w.exited;
        if (stop) break;
        crashes.push(e.signal ?? `exit ${e.code}`);
        if (crashes.length > 10) throw new Error(`worker crashed ${crashes.length} times: ${crashes.join(', ')}`);
      }
    })();
    try {
      await current!.ready;
      const stream = healthyStream(queue, 40, 25);
      const poison = await queue.add({ crash: 'alternate' }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0 } });
      const healthy = await stream;
      await waitFor(async () => {
        if ((await queue.dead.get(poison)) === null || !(await drained(queue))) return false;
        const jobs = await Promise.all(healthy.map((id) => queue.getJob(id)));
        return jobs.every((j) => j?.state === 'completed');
      }, 20_000, 'the crasher dead-lettered and every healthy job completed');

      const job = await deadJob(queue, poison);
      expect(crashes).toEqual(['exit 1', 'SIGKILL', 'exit 1']);
      expect(job.attemptsMade).toBe(3);
      expect(job.errors.map((e) => e.name)).toEqual(['LeaseExpired', 'LeaseExpired', 'LeaseExpired']);
      expect(job.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
      expect(job.lastError!.message).toMatch(/lease expired: the worker died/);
      const counts = await queue.counts();
      expect(counts.dead).toBe(1);
      // the last worker process is still alive and serving
      const last = current!;
      expect(last.child.exitCode).toBeNull();
      const late = await queue.add({ healthy: 'late' });
      await waitFor(async () => (await queue.getJob(late))?.state === 'completed', 5000, 'a job added after the poison was dead-lettered');
    } finally {
      stop = true;
      current?.child.kill('SIGKILL');
      await supervisor.catch(() => undefined);
    }
  });
});
