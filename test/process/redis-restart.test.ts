// Redis restarts in the middle of a run (AOF on, same port): producers keep adding, two worker
// processes keep working, and afterwards every job whose add() resolved has been completed.
// At-least-once: a job may run twice around the restart, but none may be lost, and nobody
// has to restart the workers.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type JobInfo } from 'kyoo';
import { afterAll, describe, expect, test } from 'vitest';
import { redisCommand, startRedis, type RedisServer } from '../support/redis.js';
import { killAll, startWorkerProcess, waitFor, type WorkerEvent, type WorkerProcess } from '../support/worker-process.js';

const LEASE_MS = 2000;
const WORKERS = 2;
const CONCURRENCY = 10;
const PRODUCERS = 2;
const PRODUCE_MS = 5000;
const RESTART_AT_MS = 1500;
const DOWN_MS = 1000;

afterAll(async () => {
  await killAll();
});

interface Added { seq: number; id?: string; error?: string; settledAt?: number }

async function runAcrossRestart(how: 'SIGKILL' | 'SIGTERM') {
  const server: RedisServer = await startRedis({ appendonly: true });
  const name = `restart-${how.toLowerCase()}`;
  const producers = Array.from({ length: PRODUCERS }, () => new Queue<{ seq: number }>(name, { connection: server.url }));
  const procs: WorkerProcess[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) {
      procs.push(startWorkerProcess({
        redisUrl: server.url, queue: name, concurrency: CONCURRENCY, leaseMs: LEASE_MS, sleepMs: 20, sleepJitterMs: 20, keepCompleted: true,
      }));
    }
    await Promise.all(procs.map((p) => p.ready));
    await Promise.all(producers.map((q) => q.counts())); // connections up

    // Producers: each fires one add() every ~5 ms, not waiting for earlier ones (a web server).
    const added: Added[] = [];
    const pending: Promise<void>[] = [];
    const t0 = Date.now();
    const produce = async (q: Queue<{ seq: number }>) => {
      while (Date.now() - t0 < PRODUCE_MS) {
        const a: Added = { seq: added.length };
        added.push(a);
        pending.push(q.add({ seq: a.seq }).then(
          (id) => { a.id = id; a.settledAt = Date.now(); },
          (err: Error) => { a.error = err.message; a.settledAt = Date.now(); },
        ));
        await sleep(5);
      }
    };
    const producing = Promise.all(producers.map(produce));

    await sleep(RESTART_AT_MS);
    const doneBefore = (await producers[0]!.counts()).completed;
    const killedAt = Date.now();
    await server.kill(how); // SIGTERM: Redis shuts down gracefully (AOF flushed); SIGKILL: it just dies
    const downAt = Date.now();
    await sleep(DOWN_MS);
    await server.restart(); // same port and dir, AOF reloaded; resolves once it answers PING
    const upAt = Date.now();

    await producing;
    // every add() settles (resolves, or rejects once the client gives up), and in bounded time
    await Promise.race([Promise.all(pending), sleep(30_000)]);
    expect(added.filter((a) => a.settledAt === undefined).map((a) => a.seq), 'add() calls that never settled').toEqual([]);
    const resolved = added.filter((a) => a.id !== undefined);
    const rejected = added.filter((a) => a.error !== undefined);

    // Wait until every resolved job is completed and nothing is left to run,
    // or until nothing is left to run while some are not completed (lost or dead).
    const queue = producers[0]!;
    const infos = new Map<string, JobInfo | null>();
    const notDone = async () => {
      // workers keep completed jobs (keepCompleted), so getJob tells completed from lost
      const open = resolved.filter((a) => infos.get(a.id!)?.state !== 'completed');
      for (let i = 0; i < open.length; i += 500) {
        const part = open.slice(i, i + 500);
        const got = await Promise.all(part.map((a) => queue.getJob(a.id!)));
        part.forEach((a, j) => infos.set(a.id!, got[j]!));
      }
      return resolved.filter((a) => infos.get(a.id!)?.state !== 'completed');
    };
    let idleSince = 0;
    await waitFor('every resolved job completed', async () => {
      const c = await queue.counts();
      const busy = c.ready + c.delayed + c.leased;
      if (busy === 0 && (await notDone()).length === 0) return true;
      if (busy > 0) idleSince = 0;
      else idleSince ||= Date.now();
      return idleSince > 0 && Date.now() - idleSince > 3 * LEASE_MS; // stuck: report below
    }, 60_000, 100);
    const drainedAt = Date.now();
    // close() flushes each process's reports before it says 'closed': every event (a late
    // second run included) is in after it; that they close cleanly is checked below
    await Promise.all(procs.map((p) => p.close(10_000)));

    const events = procs.flatMap((p) => p.events);
    const starts = new Map<string, WorkerEvent[]>();
    for (const e of events) if (e.t === 'start') starts.set(e.id!, [...(starts.get(e.id!) ?? []), e]);
    const finished = new Set(events.filter((e) => e.t === 'finish').map((e) => e.id!));
    const ranTwice = [...starts].filter(([, es]) => es.length > 1);
    const counts = await queue.counts();
    // jobs that needed more than one lease: their lease expired (reply lost in the restart, or worker cut off)
    const reclaimed = [...infos.values()].filter((j) => j && j.attemptsMade > 1)
      .map((j) => ({ id: j!.id, attemptsMade: j!.attemptsMade, runs: starts.get(j!.id)?.length ?? 0, errors: j!.errors.map((e) => e.name) }));
    const dead = await queue.dead.list({ limit: 1000 });
    const missing = await notDone();
    const ids = new Set(resolved.map((a) => a.id!));
    const extra = [...starts.keys()].filter((id) => !ids.has(id));
    const resolvedBySeq = new Map(resolved.map((a) => [a.seq, a.id!]));
    // jobs in Redis that no add() resolved with: one add() that became two jobs (the enqueue was
    // applied, its reply lost in the restart, and the client sent it again)
    const seen = new Set([...starts.keys(), ...dead.map((j) => j.id)]);
    const orphans = await Promise.all([...seen].filter((id) => !ids.has(id)).map(async (id) => {
      const info = await queue.getJob(id);
      const seq = (info?.data as { seq: number } | undefined)?.seq;
      return { id, seq, state: info?.state, addResolvedAs: seq === undefined ? undefined : resolvedBySeq.get(seq), runs: starts.get(id)?.length ?? 0 };
    }));
    // jobs the DLQ holds, and whether any worker ever started them
    const deadRuns = dead.map((j) => ({ id: j.id, seq: (j.data as { seq: number }).seq, addResolvedAs: resolvedBySeq.get((j.data as { seq: number }).seq), runs: (starts.get(j.id) ?? []).map((e) => ({ pid: e.pid, attempt: e.attempt, sinceUp: e.received - upAt })) }));
    // what happened to the jobs whose lease a worker was told it lost
    const lostIds = [...new Set(events.filter((e) => e.t === 'error' && e.code === 'LEASE_LOST').map((e) => /job (\S+) /.exec(e.message!)?.[1]))];
    const leaseLost = await Promise.all(lostIds.map(async (id) => {
      const info = id ? await queue.getJob(id) : null;
      return {
        id,
        state: info?.state,
        attemptsMade: info?.attemptsMade,
        errors: info?.errors.map((e) => e.message.slice(0, 40)),
        events: events.filter((e) => e.id === id || (e.t === 'error' && e.message!.includes(`job ${id} `)))
          .map((e) => `${e.pid} ${e.t}${e.attempt ? ` #${e.attempt}` : ''}${e.t === 'error' ? ` ${/before (\w+)/.exec(e.message!)?.[1]}` : ''} @${e.received - upAt}`),
      };
    }));
    const errorsByWorker = procs.map((p) => {
      const byMsg = new Map<string, number>();
      for (const e of p.events) if (e.t === 'error') {
        const key = `${e.name}: ${e.message!.replace(/\d+/g, 'N')}`;
        byMsg.set(key, (byMsg.get(key) ?? 0) + 1);
      }
      return Object.fromEntries(byMsg);
    });
    // how long each worker took to start a job again after Redis came back
    const resume = procs.map((p) => {
      const firstStart = p.events.find((e) => e.t === 'start' && e.received >= upAt);
      const firstAck = p.events.find((e) => e.t === 'completed' && e.received >= upAt);
      return {
        pid: p.pid,
        startAfterUpMs: firstStart ? firstStart.received - upAt : null,
        ackAfterUpMs: firstAck ? firstAck.received - upAt : null,
        startAfterKillMs: firstStart ? firstStart.received - killedAt : null,
      };
    });

    const summary = {
      how,
      added: added.length,
      resolved: resolved.length,
      rejected: rejected.length,
      rejectedErrors: [...new Set(rejected.map((a) => a.error))],
      completedBeforeKill: doneBefore,
      downMs: upAt - killedAt,
      stopMs: downAt - killedAt,
      drainedAfterUpMs: drainedAt - upAt,
      resume,
      ranTwice: ranTwice.length,
      reclaimed,
      extraJobs: extra.length,
      orphans,
      deadRuns,
      leaseLost,
      errorsByWorker,
      counts,
    };
    console.log(`redis-restart (${how}): ${JSON.stringify(summary, null, 1)}`);

    // nothing lost: every job whose add() resolved is completed, and its handler ran to the end
    expect(dead.map((j) => ({ id: j.id, attemptsMade: j.attemptsMade, attempts: j.attempts, errors: j.errors.map((e) => e.message) })), 'jobs in the DLQ').toEqual([]);
    expect(missing.map((a) => ({ ...a, runs: starts.get(a.id!)?.length ?? 0 })), 'resolved jobs not completed').toEqual([]);
    for (const a of resolved) expect(finished.has(a.id!), `handler of job ${a.id} (seq ${a.seq}) finished`).toBe(true);
    // the queue ends empty
    expect(counts).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0 });
    // producers kept going: adds were accepted after the restart too
    expect(resolved.some((a) => a.settledAt! > upAt)).toBe(true);
    expect(resolved.length).toBeGreaterThan(500);
    // the workers came back by themselves, both of them, and soon
    for (const r of resume) {
      expect(r.startAfterUpMs, `worker ${r.pid} resumed`).not.toBeNull();
      expect(r.startAfterUpMs!).toBeLessThan(5000);
    }
    // a job runs at most twice (once before, once after the restart)
    for (const [id, es] of ranTwice) expect(es.length, `runs of job ${id}`).toBeLessThanOrEqual(2);

    // and they closed cleanly
    for (const p of procs) expect((await p.exited).code, `worker ${p.pid} exit code`).toBe(0);
    return summary;
  } finally {
    await Promise.all(procs.map((p) => p.kill()));
    await Promise.all(producers.map((q) => q.close().catch(() => undefined)));
    await server.stop();
  }
}

describe('Redis restarts mid-run (AOF, same port)', () => {
  test('killed with SIGKILL, restarted after 1 s: nothing is lost and the workers resume by themselves', async () => {
    await runAcrossRestart('SIGKILL');
  }, 120_000);

  test('stopped gracefully (SIGTERM), restarted after 1 s: nothing is lost and the workers resume by themselves', async () => {
    await runAcrossRestart('SIGTERM');
  }, 120_000);
});

describe('the script cache and the functions are emptied mid-run (as after a restart or failover)', () => {
  test('no LeaseLostError for a lease that was never lost (the NOSCRIPT and missing-function fallbacks keep calls in order)', async () => {
    const server = await startRedis();
    const name = 'script-flush';
    const queue = new Queue<{ seq: number }>(name, { connection: server.url });
    const errors: Error[] = [];
    let worker: Worker<{ seq: number }> | undefined;
    const flusher = { stop: false };
    try {
      const N = 3000;
      await queue.setPolicy({ keepCompleted: { count: 100_000 } });
      const ids = await queue.addBulk(Array.from({ length: N }, (_, seq) => ({ data: { seq } })));
      // short leases so heartbeats are frequent; handlers short and uneven so acks and heartbeats interleave
      worker = new Worker<{ seq: number }>(name, async () => { await sleep(5 + Math.random() * 40); }, {
        connection: server.url, concurrency: 40, leaseMs: 600,
      });
      worker.on('error', (e) => errors.push(e));
      // both flushed, by turns: calls meet a missing function (FCALL) and a missing script (EVALSHA)
      const loads = async () => Number(/cmdstat_function\|load:calls=(\d+)/.exec(String(await redisCommand(server.port, ['INFO', 'commandstats'])))?.[1] ?? 0);
      await waitFor('the worker to run jobs', async () => (await queue.counts()).completed > 0, 10_000, 20);
      const loadsBefore = await loads();
      let flushes = 0;
      const flushing = (async () => {
        while (!flusher.stop) {
          await sleep(120);
          await redisCommand(server.port, flushes++ % 2 === 0 ? ['FUNCTION', 'FLUSH'] : ['SCRIPT', 'FLUSH']).catch(() => undefined);
        }
      })();
      await waitFor('every job completed', async () => (await queue.counts()).completed === N, 60_000, 100);
      flusher.stop = true;
      await flushing;
      // the fallback was exercised: calls met the flushed library, and kyoo loaded it again
      expect(await loads(), 'FUNCTION LOAD calls after the first flush').toBeGreaterThan(loadsBefore);
      // no lease expired: every job ran once, on its first lease
      const infos = await Promise.all(ids.map((id) => queue.getJob(id)));
      expect(infos.filter((j) => j!.attemptsMade !== 1 || j!.errors.length > 0).map((j) => j!.id), 'jobs leased more than once').toEqual([]);
      // so a LeaseLostError is a false alarm: the worker was told it lost leases it still held (or had already acked)
      const lost = errors.map((e) => e.message);
      expect(lost, 'errors emitted by the worker').toEqual([]);
    } finally {
      flusher.stop = true;
      await worker?.close(0);
      await queue.close();
      await server.stop();
    }
  }, 120_000);
});

/**
 * Bytes that clients sent to the server listening on `port` and that it has not read yet (it
 * is stopped), over all its connections: the rx_queue of its established sockets in Linux's
 * /proc/net/tcp (the servers here listen on 127.0.0.1).
 */
function unreadBytes(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] === local && f[3] === '01') // 01: ESTABLISHED
    .reduce((n, f) => n + parseInt(f[4]!.split(':')[1]!, 16), 0);
}

describe('Redis hangs (SIGSTOP) while a worker process shuts down', () => {
  test('close() resolves and the worker goes quiet: the process exits by itself, in bounded time', async () => {
    const server = await startRedis();
    const name = 'hang-close';
    const queue = new Queue<{ seq: number }>(name, { connection: server.url });
    // lingerMs: after close() resolves, the process waits 4 s on a timer before it exits, which
    // it cannot do if the closed worker keeps the event loop busy
    const w = startWorkerProcess({ redisUrl: server.url, queue: name, concurrency: 2, leaseMs: 2000, sleepMs: 300, lingerMs: 4000 });
    try {
      await w.ready;
      await queue.addBulk(Array.from({ length: 4 }, (_, seq) => ({ data: { seq } })));
      await waitFor('two handlers to start', () => w.events.filter((e) => e.t === 'start').length >= 2, 10_000, 5);
      await server.pause(); // Redis stops answering; connections stay open
      // the handlers return: their ack (with the next lease) goes out and is never answered
      await waitFor('the handlers to finish', () => w.events.filter((e) => e.t === 'finish').length >= 2, 10_000, 5);
      // and that call is really out: bytes wait, unread, in the stopped server's sockets
      await waitFor('a call of the worker to wait unanswered', () => unreadBytes(server.port) > 0, 10_000, 5);
      const t0 = Date.now();
      w.child.send({ t: 'close' }); // worker.close(), 4 s timer, then process.exit(0)
      const exit = await Promise.race([w.exited, sleep(20_000).then(() => null)]);
      const ms = Date.now() - t0;
      console.log(`hang-close: worker process ${exit ? `exited (${exit.code ?? exit.signal}) ${ms} ms after close` : 'still running 20 s after close'}`);
      expect(exit, 'the worker process exited by itself within 20 s of close').not.toBeNull();
      expect(exit!.code).toBe(0);
    } finally {
      await w.kill();
      await server.resume();
      await queue.close();
      await server.stop();
    }
  }, 120_000);
});
