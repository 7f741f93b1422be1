// The image-upload story: a web server adds an upload job per image and
// answers at once; three worker processes make thumbnails, moderate and
// update profiles. Prints progress, then a summary; exits 0 when every job
// was done exactly once.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Queue } from 'kyoo';
import { ensureRedisInstalled, startRedis } from '../../scripts/lib/redis.mjs';

const JOBS = Number(process.env.DEMO_JOBS ?? 1000);
const WORKERS = 3;
const IN_FLIGHT = 50; // concurrent requests at the "web server"

let server;
let url = process.env.REDIS_URL;
if (!url) {
  ensureRedisInstalled();
  server = await startRedis();
  url = server.url;
  console.log(`started redis-server at ${url}`);
}
const queueName = `images-demo-${process.pid}`;
const queue = new Queue(queueName, { connection: url });

const done = new Map(); // job id -> times done
const workers = [];
const ready = [];
for (let i = 0; i < WORKERS; i++) {
  const child = fork(fileURLToPath(new URL('./worker.mjs', import.meta.url)), {
    env: { ...process.env, REDIS_URL: url, QUEUE: queueName },
  });
  ready.push(new Promise((resolve) => child.on('message', (m) => m.ready && resolve())));
  child.on('message', (m) => {
    if (m.done) done.set(m.done, (done.get(m.done) ?? 0) + 1);
    if (m.error) console.error(`worker ${i}: ${m.error}`);
  });
  workers.push(child);
}

await Promise.all(ready);
await queue.counts(); // the web server's connection is up before the first request
const started = performance.now();
const latencies = [];
let next = 0;
async function webServer() {
  while (next < JOBS) {
    const n = next++;
    const t0 = performance.now();
    await queue.add({ imageUrl: `https://img.example/u${n % 100}/${n}.jpg`, userId: `u${n % 100}` });
    latencies.push(performance.now() - t0);
  }
}
await Promise.all(Array.from({ length: IN_FLIGHT }, webServer));
const addedIn = performance.now() - started;

let lastLine = '';
while (done.size < JOBS) {
  const c = await queue.counts();
  const line = `done ${String(done.size).padStart(5)} / ${JOBS}   ready ${c.ready}   running ${c.leased}   dead ${c.dead}`;
  if (line !== lastLine) console.log(line);
  lastLine = line;
  if (performance.now() - started > 120_000) break;
  await new Promise((r) => setTimeout(r, 250));
}
const wall = performance.now() - started;

await Promise.all(workers.map((w) => new Promise((r) => { w.once('exit', r); w.send('close'); })));
const counts = await queue.counts();
await queue.close();
await server?.stop();

latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(2);
const twice = [...done.values()].filter((n) => n > 1).length;
console.log('');
console.log('summary');
console.log(`  jobs done        ${done.size} of ${JOBS} (${twice} done twice), by ${WORKERS} worker processes`);
console.log(`  enqueue latency  p50 ${pct(50)} ms   p99 ${pct(99)} ms   (${IN_FLIGHT} requests in flight, all ${JOBS} added in ${addedIn.toFixed(0)} ms)`);
console.log(`  wall time        ${(wall / 1000).toFixed(2)} s`);
console.log(`  left in queue    ready ${counts.ready}, running ${counts.leased}, dead ${counts.dead}`);
const ok = done.size === JOBS && twice === 0 && counts.ready + counts.leased + counts.dead === 0;
console.log(ok ? '  result           OK' : '  result           FAILED');
process.exit(ok ? 0 : 1);
