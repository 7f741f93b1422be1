// The traffic-spike story (DESIGN.md, user story 3): producers add a burst of order jobs as
// fast as they can while W worker processes (concurrency 1, a fixed cost per job) drain the
// backlog. Measures producer add() latency during the burst, the peak backlog (counts every
// 100 ms), the drain time against the ideal (jobs / the workers' combined ideal rate), and
// checks that every job was done exactly once (completions tracked per job id over IPC,
// outside kyoo's own keys).
//
//   import { runSpike } from './spike.mjs'
//   const r = await runSpike({ jobs: 5000, workers: 4, producers: 2, jobMs: 1 })
//   r.lost === 0 && r.duplicates === 0
//
// Uses options.redisUrl (or $REDIS_URL); otherwise starts a throwaway redis-server.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Queue } from 'kyoo';
import { ensureRedisInstalled, startRedis } from '../../scripts/lib/redis.mjs';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const PRODUCER = fileURLToPath(new URL('./producer.mjs', import.meta.url));

export const SPIKE_DEFAULTS = Object.freeze({
  jobs: 50_000,
  workers: 10,
  producers: 4,
  jobMs: 5,
  inFlight: 50, // concurrent requests per producer
  cost: 'sleep', // 'sleep' (waits, like an I/O-bound job) or 'cpu' (busy loop)
  timeoutMs: 15 * 60_000, // whole run, hard limit
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

/**
 * Runs the scenario; resolves with the figures (and has printed them through `log`).
 * Never leaves a child process or a server it started behind.
 */
export async function runSpike(options = {}) {
  const o = { ...SPIKE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const log = o.log ?? ((line) => console.log(line));
  for (const k of ['jobs', 'workers', 'producers', 'inFlight']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`${k} must be a positive integer, got ${o[k]}`);
  }
  if (!(o.jobMs >= 0)) throw new Error(`jobMs must be >= 0, got ${o.jobMs}`);
  if (o.cost !== 'sleep' && o.cost !== 'cpu') throw new Error(`cost must be 'sleep' or 'cpu', got ${o.cost}`);

  const deadline = Date.now() + o.timeoutMs;
  const children = new Set();
  let server;
  let queue;
  let admin;
  let sampler;
  let sampling = false;
  let url = o.redisUrl ?? process.env.REDIS_URL;
  const name = `spike-${process.pid}-${randomBytes(3).toString('hex')}`;

  const runs = new Map(); // job id -> handler starts
  const done = new Map(); // job id -> completions (ack applied)
  const added = new Set();
  const problems = [];
  let lastDoneAt = 0;

  const spawnChild = (file, env, onMessage) => {
    const child = fork(file, [], {
      env: { ...process.env, NODE_OPTIONS: '', REDIS_URL: url, QUEUE: name, ...env },
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }));
    child.ready = new Promise((resolve, reject) => {
      child.on('message', (m) => (m?.ready ? resolve() : onMessage(m)));
      void child.exited.then(({ code, signal }) => reject(new Error(`${file} exited (${code ?? signal}) before it was ready`)));
    });
    child.ready.catch(() => undefined);
    return child;
  };
  const until = async (what, cond, ms = deadline - Date.now()) => {
    const end = Math.min(deadline, Date.now() + ms);
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  };

  try {
    if (!url) {
      ensureRedisInstalled();
      server = await startRedis();
      url = server.url;
    }
    queue = new Queue(name, { connection: url });
    admin = new Redis(url);
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
    const idealRate = o.jobMs > 0 ? (o.workers * 1000) / o.jobMs : Infinity;
    log(`traffic spike: ${fmtInt(o.jobs)} jobs from ${o.producers} producers (${o.inFlight} requests in flight each), `
      + `${o.workers} workers x concurrency 1 at ${o.jobMs} ms/job (${o.cost}); redis ${version} at ${url}${server ? ' (started for this run)' : ''}`);

    // workers first: idle and blocked when the burst arrives
    const workers = [];
    for (let i = 0; i < o.workers; i++) {
      workers.push(spawnChild(WORKER, { JOB_MS: String(o.jobMs), JOB_COST: o.cost }, (m) => {
        if (m?.closed) return;
        for (const id of m.runs ?? []) runs.set(id, (runs.get(id) ?? 0) + 1);
        for (const id of m.done ?? []) done.set(id, (done.get(id) ?? 0) + 1);
        if (m.done?.length) lastDoneAt = Date.now();
        for (const e of m.errors ?? []) if (problems.length < 50) problems.push(`worker ${i}: ${e}`);
      }));
    }
    const producers = [];
    const finished = [];
    const share = (i) => Math.floor(o.jobs / o.producers) + (i < o.jobs % o.producers ? 1 : 0);
    for (let i = 0; i < o.producers; i++) {
      producers.push(spawnChild(PRODUCER, { COUNT: String(share(i)), IN_FLIGHT: String(o.inFlight), PRODUCER: String(i) }, (m) => {
        for (const id of m.ids ?? []) added.add(id);
        if (m.error && problems.length < 50) problems.push(`producer ${i}: ${m.error}`);
        if (m.finished) finished.push(m.finished);
      }));
    }
    let readyTimer;
    await Promise.race([
      Promise.all([...workers, ...producers].map((c) => c.ready)),
      new Promise((_, reject) => {
        readyTimer = setTimeout(() => reject(new Error('children not ready within 30 s')), Math.min(30_000, deadline - Date.now()));
      }),
    ]).finally(() => clearTimeout(readyTimer));

    // backlog sampler: counts every 100 ms
    const samples = [];
    sampling = true;
    sampler = (async () => {
      while (sampling) {
        const t = Date.now();
        try {
          const c = await queue.counts();
          samples.push({ at: t, waiting: c.ready + c.delayed, leased: c.leased, dead: c.dead });
        } catch (err) {
          if (problems.length < 50) problems.push(`sampler: ${err.message}`);
        }
        await sleep(Math.max(0, 100 - (Date.now() - t)));
      }
    })();

    const t0 = Date.now();
    for (const p of producers) p.send({ go: true });
    let lastProgress = t0;
    while (finished.length < o.producers || done.size < added.size) {
      if (Date.now() > deadline) throw new Error(`not drained within ${o.timeoutMs} ms: ${done.size} of ${added.size} added jobs completed`);
      if (Date.now() - lastProgress >= 5000) {
        lastProgress = Date.now();
        const s = samples.at(-1);
        log(`  t=${((lastProgress - t0) / 1000).toFixed(0)} s: added ${fmtInt(added.size)}, completed ${fmtInt(done.size)}, backlog ${s ? fmtInt(s.waiting) : '?'}`);
      }
      await sleep(20);
    }
    const drainedAt = lastDoneAt;
    // anything still on its way (a second run of some job) has time to show up
    await sleep(500);
    sampling = false;
    await sampler;
    const final = await queue.counts();

    // graceful close of every child, SIGKILL after 10 s
    await Promise.all([...children].map(async (c) => {
      if (c.connected) c.send({ close: true });
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await c.exited;
      clearTimeout(timer);
    }));

    // figures
    const latencies = finished.flatMap((f) => f.latencies).filter((x) => typeof x === 'number').sort((a, b) => a - b);
    const burstStart = Math.min(...finished.map((f) => f.startedAt));
    const burstEnd = Math.max(...finished.map((f) => f.endedAt));
    const addFailures = finished.reduce((n, f) => n + f.failed, 0);
    const peak = samples.reduce((best, s) => (s.waiting > best.waiting ? s : best), { waiting: 0, at: t0 });
    let lost = 0;
    for (const id of added) if (!done.has(id)) lost++;
    let duplicates = 0;
    for (const [, n] of runs) if (n > 1) duplicates++;
    for (const [id, n] of done) if (n > 1 && !(runs.get(id) > 1)) duplicates++;
    let unknown = 0;
    for (const id of done.keys()) if (!added.has(id)) unknown++;
    const drainMs = drainedAt - burstStart;
    const idealMs = (o.jobs / idealRate) * 1000;
    const achievedRate = (done.size / drainMs) * 1000;
    const result = {
      jobs: o.jobs,
      workers: o.workers,
      producers: o.producers,
      jobMs: o.jobMs,
      cost: o.cost,
      inFlight: o.inFlight,
      redisVersion: version,
      cpus: os.cpus().length,
      loadAvg: os.loadavg()[0],
      added: added.size,
      addFailures,
      addLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN },
      burstMs: burstEnd - burstStart,
      addRate: (added.size / (burstEnd - burstStart)) * 1000,
      peakBacklog: peak.waiting,
      peakBacklogAtMs: peak.at - t0,
      samples: samples.length,
      drainMs,
      drainAfterBurstMs: drainedAt - burstEnd,
      idealDrainMs: idealMs,
      idealRate,
      achievedRate,
      perWorkerRate: achievedRate / o.workers,
      efficiency: idealMs / drainMs,
      completed: done.size,
      lost,
      duplicates,
      unknown,
      final,
      problems,
    };
    log(formatSpike(result));
    return result;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all([...children].map((c) => c.exited));
    sampling = false;
    if (sampler) await sampler.catch(() => undefined); // one counts() call at most: ioredis fails it if Redis is gone
    if (admin && !server) {
      // an external server: remove this run's keys (SCAN + UNLINK)
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `kyoo:{${name}}:*`, 'COUNT', 500).catch(() => ['0', []]);
        if (keys.length) await admin.unlink(...keys).catch(() => undefined);
        cursor = next;
      } while (cursor !== '0');
    }
    await queue?.close().catch(() => undefined);
    admin?.disconnect();
    await server?.stop();
  }
}

/** The printed summary of a run. */
export function formatSpike(r) {
  const lines = [
    '',
    `traffic spike: ${fmtInt(r.jobs)} jobs, ${r.producers} producers, ${r.workers} workers x concurrency 1, ${r.jobMs} ms/job (${r.cost}), redis ${r.redisVersion}`,
    `  burst           ${fmtInt(r.added)} jobs added in ${fmtMs(r.burstMs)} (${fmtInt(r.addRate)} adds/s)${r.addFailures ? `, ${r.addFailures} add() calls FAILED` : ''}`,
    `  add() latency   p50 ${fmtMs(r.addLatencyMs.p50)}, p99 ${fmtMs(r.addLatencyMs.p99)}, max ${fmtMs(r.addLatencyMs.max)} (${r.inFlight} requests in flight per producer)`,
    `  peak backlog    ${fmtInt(r.peakBacklog)} jobs waiting, at t=${fmtMs(r.peakBacklogAtMs)} (${r.samples} samples, every 100 ms)`,
    `  drain           ${fmtMs(r.drainMs)} from the first add to the last completion (${fmtMs(r.drainAfterBurstMs)} after the burst ended)`,
    `  ideal drain     ${fmtMs(r.idealDrainMs)} = ${fmtInt(r.jobs)} jobs / (${r.workers} workers x ${fmtInt(1000 / r.jobMs)} jobs/s)`,
    `  throughput      ${fmtInt(r.achievedRate)} jobs/s achieved vs ${fmtInt(r.idealRate)} ideal (${(r.efficiency * 100).toFixed(0)}%), ${fmtInt(r.perWorkerRate)} jobs/s per worker vs ${fmtInt(1000 / r.jobMs)} ideal`,
    `  exactly once    completed ${fmtInt(r.completed)} of ${fmtInt(r.added)}; lost ${r.lost}, duplicates ${r.duplicates}${r.unknown ? `, completed but never added ${r.unknown}` : ''}`,
    `  left in redis   ready+delayed ${r.final.ready + r.final.delayed}, leased ${r.final.leased}, dead ${r.final.dead}`,
    `  machine         ${r.cpus} CPUs, load average ${r.loadAvg.toFixed(1)} (1 min) at the end; every process of the run shares them`,
  ];
  if (r.problems.length) lines.push(`  problems        ${r.problems.length}:`, ...r.problems.slice(0, 10).map((p) => `    ${p}`));
  lines.push(r.lost === 0 && r.duplicates === 0 && r.unknown === 0 ? '  OK: nothing lost, nothing done twice' : '  FAILED: jobs lost or done twice');
  return lines.join('\n');
}
