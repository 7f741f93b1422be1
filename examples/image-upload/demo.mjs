// The image-upload story: a web server adds an upload job per image and
// answers at once; three worker processes make thumbnails (reporting progress
// after each size), moderate and update profiles; a notification step waits
// for each upload's outcome with queue.result() and tells the user when the
// thumbnails are done. Prints a progress line, the first few notifications,
// then a summary; exits 0 when every job was done exactly once and every
// upload got exactly one notification.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Queue } from 'kyoo';
import { ensureRedisInstalled, startRedis } from '../../scripts/lib/redis.mjs';

const JOBS = Number(process.env.DEMO_JOBS ?? 1000);
const WORKERS = 3;
const IN_FLIGHT = 50; // concurrent requests at the "web server"
const SIZES = 5; // thumbnails per upload (worker.mjs)
const SHOWN = 3; // notifications printed in full
const DEADLINE_MS = 120_000;
if (!Number.isInteger(JOBS) || JOBS < 1) {
  console.error(`DEMO_JOBS must be a whole number of uploads, at least 1; got ${JSON.stringify(process.env.DEMO_JOBS)}`);
  process.exit(2);
}

let server;
let url = process.env.REDIS_URL;
if (!url) {
  ensureRedisInstalled();
  server = await startRedis();
  url = server.url;
  console.log(`started redis-server at ${url}`);
}
const queueName = `images-demo-${process.pid}`;
const queue = new Queue(queueName, { connection: url }); // the web server's
// Keep results, so that a wait which starts after its upload is done still reads them.
await queue.setPolicy({ keepCompleted: { count: JOBS * 2, ageMs: 3_600_000 } });

let closing = false;
const crashed = []; // children that exited before they were told to
function start(file, name, env = {}) {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), { env: { ...process.env, REDIS_URL: url, QUEUE: queueName, ...env } });
  const how = (code, sig) => sig ?? `code ${code}`;
  child.ready = new Promise((resolve, reject) => {
    child.on('message', (m) => m.ready && resolve());
    child.once('exit', (code, sig) => reject(new Error(`${name} exited before it was ready (${how(code, sig)})`)));
  });
  child.exited = new Promise((resolve) => child.once('exit', (code, sig) => {
    if (!closing) crashed.push(`${name} exited (${how(code, sig)})`);
    resolve();
  }));
  return child;
}

const done = new Map(); // job id -> times done
const workers = [];
for (let i = 0; i < WORKERS; i++) {
  const child = start('./worker.mjs', `worker ${i}`);
  child.on('message', (m) => {
    if (m.done) done.set(m.done, (done.get(m.done) ?? 0) + 1);
    if (m.error) console.error(`worker ${i}: ${m.error}`);
  });
  workers.push(child);
}

// The notification service (notifier.mjs), a process of its own like the workers.
const notified = new Map(); // job id -> notifications sent
const notifyMs = []; // from just before add() to the result
const missed = []; // uploads whose wait ended without a notification, and why
let progressHeard = 0;
const notifier = start('./notifier.mjs', 'the notifier', { SIZES: String(SIZES), TIMEOUT_MS: String(DEADLINE_MS) });
notifier.on('message', (m) => {
  if (m.notified) {
    notified.set(m.notified, (notified.get(m.notified) ?? 0) + 1);
    notifyMs.push(m.ms);
    progressHeard += m.reports;
    if (notifyMs.length <= SHOWN) console.log(`notify ${m.text}, ${m.ms.toFixed(1)} ms after upload`);
  }
  if (m.missed) missed.push(`${m.missed}: ${m.reason}`);
});

await Promise.all([...workers, notifier].map((c) => c.ready));
await queue.counts(); // the web server's connection is up before the first request
const started = performance.now();
const latencies = [];
const ids = [];
let next = 0;
async function webServer() {
  while (next < JOBS) {
    const n = next++;
    const upload = { imageUrl: `https://img.example/u${n % 100}/${n}.jpg`, userId: `u${n % 100}` };
    const t0 = performance.now();
    const id = await queue.add(upload);
    latencies.push(performance.now() - t0);
    ids.push(id);
    // the request has its answer; the notification service hears of the upload and tells the user later
    notifier.send({ upload: { id, ...upload, at: performance.timeOrigin + t0 } });
  }
}
await Promise.all(Array.from({ length: IN_FLIGHT }, webServer));
const addedIn = performance.now() - started;

let lastLine = '';
let timedOut = false;
for (;;) {
  const c = await queue.counts();
  const line = `done ${String(done.size).padStart(5)} / ${JOBS}   notified ${String(notified.size).padStart(5)}   ready ${c.ready}   running ${c.leased}   dead ${c.dead}`;
  if (line !== lastLine) console.log(line);
  lastLine = line;
  if (done.size >= JOBS && notified.size + missed.length >= JOBS) break;
  if (crashed.length > 0) break;
  if ((timedOut = performance.now() - started > DEADLINE_MS)) break;
  await new Promise((r) => setTimeout(r, 250));
}
const wall = performance.now() - started;

closing = true;
const close = (child) => {
  if (child.connected) child.send('close');
  return child.exited;
};
await Promise.all(workers.map(close));
const counts = await queue.counts();
await close(notifier); // ends any wait still open (a deadline run): it counts as missed
if (!server && /^rediss?:\/\//.test(url)) {
  // someone else's server: remove this run's keys
  const admin = new Redis(url);
  await admin.unlink(...Object.values(queue.keys));
  admin.disconnect();
}
await queue.close();
await server?.stop();

const pct = (sorted, p) => (sorted.length === 0 ? 'n/a' : `${sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2)} ms`);
latencies.sort((a, b) => a - b);
notifyMs.sort((a, b) => a - b);
const twice = [...done.values()].filter((n) => n > 1).length;
const notifiedTwice = [...notified.values()].filter((n) => n > 1).length;
const unnotified = ids.filter((id) => !notified.has(id)).length;
console.log('');
console.log('summary');
console.log(`  jobs done        ${done.size} of ${JOBS} (${twice} done twice), by ${WORKERS} worker processes`);
console.log(`  enqueue latency  p50 ${pct(latencies, 50)}   p99 ${pct(latencies, 99)}   (${IN_FLIGHT} requests in flight, all ${JOBS} added in ${addedIn.toFixed(0)} ms)`);
console.log(`  notifications    ${notified.size} of ${JOBS} uploads (${notifiedTwice} notified twice, ${unnotified} not notified), ${progressHeard} progress reports heard`);
console.log(`  upload to notice p50 ${pct(notifyMs, 50)}   p95 ${pct(notifyMs, 95)}   p99 ${pct(notifyMs, 99)}   max ${pct(notifyMs, 100)}   (just before add() to result(), backlog included)`);
console.log(`  wall time        ${(wall / 1000).toFixed(2)} s`);
console.log(`  left in queue    ready ${counts.ready}, running ${counts.leased}, dead ${counts.dead} (${counts.completed} completed kept with their results)`);

const problems = [...crashed];
if (timedOut) problems.push(`not finished within ${DEADLINE_MS / 1000} s`);
if (done.size !== JOBS) problems.push(`${JOBS - done.size} of ${JOBS} jobs were not done`);
if (twice > 0) problems.push(`${twice} jobs were done twice`);
if (counts.ready + counts.leased + counts.dead > 0) problems.push('jobs are left in the queue');
if (new Set(ids).size !== JOBS) problems.push(`${JOBS} uploads got ${new Set(ids).size} distinct job ids`);
if (unnotified > 0) problems.push(`${unnotified} uploads got no notification`);
if (notifiedTwice > 0) problems.push(`${notifiedTwice} uploads were notified twice`);
if (problems.length === 0) {
  console.log('  result           OK');
} else {
  console.log(`  result           FAILED: ${problems.join('; ')}`);
  for (const m of missed.slice(0, 5)) console.log(`    ${m}`);
  if (missed.length > 5) console.log(`    ... and ${missed.length - 5} more`);
}
process.exit(problems.length === 0 ? 0 : 1);
