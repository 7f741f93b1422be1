// Chaos: Redis (appendonly yes, appendfsync always) dies with SIGKILL mid-run and comes back on
// the same port. Four producers keep adding through it (two awaiting each add, one firing
// adds without waiting, one adding in bulk) and three worker processes keep working.
// Accounting, add by add: every add() that resolved is completed (none lost), no add became
// two jobs, every job in Redis belongs to an add, and nothing is left to run. Producers and
// workers resume by themselves; the test prints how long that took.
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'kyoo';
import { Redis } from 'ioredis';
import { afterAll, expect, test } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { killAll, startWorkerProcess, waitFor, type WorkerEvent, type WorkerProcess } from '../support/worker-process.js';

const WORKERS = 3;
const CONCURRENCY = 10;
const LEASE_MS = 1000;
const PRODUCE_MS = 6000;
const KILL_AT_MS = 2000;
const DOWN_MS = 1500;

let server: RedisServer | undefined;
afterAll(async () => {
  await killAll();
  await server?.stop();
});

type Payload = { p: number; seq: number };
/** One job a producer asked for; `id` once add() resolved, `error` once it rejected. */
interface Add { p: number; seq: number; sentAt: number; id?: string; error?: string; settledAt?: number }

test('Redis SIGKILLed mid-run (AOF, fsync always) and restarted: every resolved add is completed, producers and workers resume by themselves', async () => {
  server = await startRedis({ appendonly: true });
  const url = server.url;
  const name = 'redis-crash';
  const producers = Array.from({ length: 4 }, () => new Queue<Payload>(name, { connection: url }));
  const procs: WorkerProcess[] = [];
  let admin: Redis | undefined;
  try {
    for (let i = 0; i < WORKERS; i++) {
      procs.push(startWorkerProcess({
        redisUrl: url, queue: name, concurrency: CONCURRENCY, leaseMs: LEASE_MS, sleepMs: 2, sleepJitterMs: 8, keepCompleted: true,
      }));
    }
    await Promise.all(procs.map((w) => w.ready));
    await Promise.all(producers.map((q) => q.counts())); // connections up

    const adds: Add[] = [];
    const pending: Promise<void>[] = [];
    const seqs = [0, 0, 0, 0];
    const track = (p: number, promise: (data: Payload) => Promise<string>): Promise<void> => {
      const a: Add = { p, seq: seqs[p]!++, sentAt: Date.now() };
      adds.push(a);
      const settled = promise({ p, seq: a.seq }).then(
        (id) => { a.id = id; a.settledAt = Date.now(); },
        (err: Error) => { a.error = `${err.name}: ${err.message}`; a.settledAt = Date.now(); },
      );
      pending.push(settled);
      return settled;
    };
    const t0 = Date.now();
    const producing = () => Date.now() - t0 < PRODUCE_MS;
    const loops = [
      // 0, 1: a request handler that awaits its add, then takes the next request
      ...[0, 1].map(async (p) => {
        while (producing()) {
          await track(p, (d) => producers[p]!.add(d));
          await sleep(2);
        }
      }),
      // 2: a web server that fires an add per request and answers without waiting
      (async () => {
        while (producing()) {
          void track(2, (d) => producers[2]!.add(d));
          await sleep(4);
        }
      })(),
      // 3: a batch importer: addBulk of 20, awaited, every 50 ms
      (async () => {
        while (producing()) {
          const batch: Add[] = [];
          const bulk = producers[3]!.addBulk(Array.from({ length: 20 }, () => {
            const a: Add = { p: 3, seq: seqs[3]!++, sentAt: Date.now() };
            adds.push(a);
            batch.push(a);
            return { data: { p: 3, seq: a.seq } };
          }));
          const settled = bulk.then(
            (ids) => batch.forEach((a, i) => { a.id = ids[i]!; a.settledAt = Date.now(); }),
            (err: Error) => batch.forEach((a) => { a.error = `${err.name}: ${err.message}`; a.settledAt = Date.now(); }),
          );
          pending.push(settled);
          await settled;
          await sleep(50);
        }
      })(),
    ];

    await sleep(KILL_AT_MS);
    const completedBeforeKill = (await producers[0]!.counts()).completed;
    const killedAt = Date.now();
    await server.kill('SIGKILL');
    await sleep(DOWN_MS);
    await server.restart(); // same port and dir: the AOF is replayed; resolves once it answers PING
    const upAt = Date.now();

    await Promise.all(loops);
    await Promise.race([Promise.all(pending), sleep(30_000)]);
    expect(adds.filter((a) => a.settledAt === undefined).map((a) => `${a.p}/${a.seq}`), 'add() calls that never settled').toEqual([]);
    const resolved = adds.filter((a) => a.id !== undefined);
    const rejected = adds.filter((a) => a.error !== undefined);

    // Drain: nothing left to run, and every resolved job completed (or stuck: reported below).
    admin = new Redis(url);
    const queue = producers[0]!;
    const doneIds = async () => new Set((await admin!.zrange(queue.keys.done, 0, -1)).filter((id) => !id.startsWith('\0')));
    let idleSince = 0;
    await waitFor('every resolved add completed', async () => {
      const c = await queue.counts();
      if (c.ready + c.delayed + c.leased > 0) {
        idleSince = 0;
        return false;
      }
      const done = await doneIds();
      if (resolved.every((a) => done.has(a.id!))) return true;
      idleSince ||= Date.now();
      return Date.now() - idleSince > 3 * LEASE_MS; // nothing left to run, yet jobs missing: fail below
    }, 60_000, 100);
    const drainedAt = Date.now();
    // close() flushes each process's reports before it says 'closed': every event is in after it
    await Promise.all(procs.map((w) => w.close(10_000)));

    const events = procs.flatMap((w) => w.events);
    const runs = new Map<string, WorkerEvent[]>();
    for (const e of events) if (e.t === 'start') runs.set(e.id!, [...(runs.get(e.id!) ?? []), e]);
    const finishedIds = new Set(events.filter((e) => e.t === 'finish').map((e) => e.id!));
    const done = await doneIds();
    const counts = await queue.counts();

    // every job Redis knows about, with the add it came from
    const allIds = new Set([...done, ...(await admin.hkeys(queue.keys.jobs)).filter((id) => !id.startsWith('\0'))]);
    const payloadOf = new Map<string, Payload | undefined>();
    const ids = [...allIds];
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const infos = await Promise.all(part.map((id) => queue.getJob(id)));
      part.forEach((id, j) => payloadOf.set(id, infos[j]?.data));
    }
    const jobsOfAdd = new Map<string, string[]>(); // "p/seq" -> job ids
    for (const [id, d] of payloadOf) {
      const key = d ? `${d.p}/${d.seq}` : `?/${id}`;
      jobsOfAdd.set(key, [...(jobsOfAdd.get(key) ?? []), id]);
    }
    const addOf = new Map(adds.map((a) => [`${a.p}/${a.seq}`, a]));
    const lost = resolved.filter((a) => !done.has(a.id!));
    const lostStates = await Promise.all(lost.slice(0, 20).map(async (a) => ({ add: `${a.p}/${a.seq}`, id: a.id, sentAt: a.sentAt - killedAt, settledAt: a.settledAt! - killedAt, state: (await queue.getJob(a.id!))?.state ?? 'gone', runs: runs.get(a.id!)?.length ?? 0 })));
    const twoJobs = [...jobsOfAdd].filter(([, js]) => js.length > 1).map(([key, js]) => ({ add: key, jobs: js, resolvedAs: addOf.get(key)?.id }));
    const noAdd = [...jobsOfAdd].filter(([key]) => !addOf.has(key)).map(([key, js]) => ({ key, jobs: js }));
    const resolvedIdMismatch = resolved.filter((a) => !(jobsOfAdd.get(`${a.p}/${a.seq}`) ?? []).includes(a.id!)).map((a) => `${a.p}/${a.seq}`);
    const rejectedButAdded = rejected.filter((a) => jobsOfAdd.has(`${a.p}/${a.seq}`)).length;

    // when did work resume
    const resume = procs.map((w) => {
      const start = w.events.find((e) => e.t === 'start' && e.received >= upAt);
      const ack = w.events.find((e) => e.t === 'completed' && e.received >= upAt);
      return { pid: w.pid, firstStartAfterUpMs: start ? start.received - upAt : null, firstAckAfterUpMs: ack ? ack.received - upAt : null };
    });
    const producerResume = [0, 1, 2, 3].map((p) => {
      const after = adds.filter((a) => a.p === p && a.id !== undefined && a.settledAt! >= upAt);
      return after.length ? Math.min(...after.map((a) => a.settledAt!)) - upAt : null;
    });
    const duringOutage = adds.filter((a) => a.sentAt >= killedAt && a.sentAt < upAt);
    const errorKinds = new Map<string, number>();
    for (const e of events) if (e.t === 'error') {
      const k = `${e.name}${e.code ? `/${e.code}` : ''}`;
      errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
    }
    const dupRuns = [...runs.values()].filter((rs) => rs.length > 1);

    const figures = {
      test: 'redis-crash',
      producers: producers.length,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      leaseMs: LEASE_MS,
      produceMs: PRODUCE_MS,
      adds: adds.length,
      resolved: resolved.length,
      rejected: rejected.length,
      rejectedErrors: [...new Set(rejected.map((a) => a.error))],
      rejectedButAdded,
      sentDuringOutage: duringOutage.length,
      sentDuringOutageResolved: duringOutage.filter((a) => a.id !== undefined).length,
      completedBeforeKill,
      completed: done.size,
      lost: lost.length,
      addsThatBecameTwoJobs: twoJobs.length,
      jobsWithoutAdd: noAdd.length,
      downMs: upAt - killedAt,
      drainedAfterUpMs: drainedAt - upAt,
      workerResumeAfterUpMs: resume.map((r) => r.firstStartAfterUpMs),
      workerFirstAckAfterUpMs: resume.map((r) => r.firstAckAfterUpMs),
      producerResumeAfterUpMs: producerResume,
      jobsRunTwice: dupRuns.length,
      maxRunsPerJob: Math.max(0, ...[...runs.values()].map((rs) => rs.length)),
      workerErrors: Object.fromEntries(errorKinds),
      counts,
    };
    console.log(JSON.stringify(figures));

    // none lost: every resolved add is a completed job, whose handler ran to its end
    expect(lostStates, 'resolved adds not completed').toEqual([]);
    expect(resolved.filter((a) => !finishedIds.has(a.id!)).map((a) => a.id), 'resolved jobs whose handler never finished').toEqual([]);
    // exact accounting: a resolved add is the job it named, no add became two jobs, and every
    // job in Redis came from one of our adds
    expect(resolvedIdMismatch, 'resolved adds whose id holds another payload').toEqual([]);
    expect(twoJobs, 'adds that became two jobs').toEqual([]);
    expect(noAdd, 'jobs that no add asked for').toEqual([]);
    // the run completed: nothing ready, leased, delayed or dead
    expect(counts).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0 });
    // producers and workers came back by themselves, soon, and work went on after the restart
    expect(resolved.length).toBeGreaterThan(1000);
    for (const [p, ms] of producerResume.entries()) {
      expect(ms, `producer ${p} resolved an add after the restart`).not.toBeNull();
      expect(ms!, `producer ${p} resumed within 5 s`).toBeLessThan(5000);
    }
    for (const r of resume) {
      expect(r.firstStartAfterUpMs, `worker ${r.pid} started a job after the restart`).not.toBeNull();
      expect(r.firstStartAfterUpMs!, `worker ${r.pid} resumed within 5 s`).toBeLessThan(5000);
    }
    for (const w of procs) expect((await w.exited).code, `worker ${w.pid} closed cleanly`).toBe(0);
  } finally {
    await Promise.all(procs.map((w) => w.kill()));
    await Promise.all(producers.map((q) => q.close().catch(() => undefined)));
    admin?.disconnect();
    await server.stop();
    server = undefined;
  }
}, 90_000);
