// One worker process of the traffic-spike scenario (see spike.mjs): concurrency 1, a
// fixed cost per job (JOB_MS; a wait, like the database call of an order job, or busy CPU
// with JOB_COST=cpu). Reports to the parent over IPC, batched per event-loop turn:
//   { runs: [id, ...], done: [id, ...], errors: [message, ...] }
// runs = the handler started (once per run), done = the ack was applied ('completed').
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'kyoo';

const { REDIS_URL, QUEUE } = process.env;
const JOB_MS = Number(process.env.JOB_MS ?? 5);
const CPU = process.env.JOB_COST === 'cpu';
if (!REDIS_URL || !QUEUE || !process.send) {
  console.error('worker.mjs needs REDIS_URL, QUEUE and an IPC channel (fork)');
  process.exit(2);
}

let out = { runs: [], done: [], errors: [] };
let scheduled = false;
function report(kind, value) {
  out[kind].push(value);
  if (!scheduled) {
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = out;
      out = { runs: [], done: [], errors: [] };
      if (process.connected) process.send(batch);
    });
  }
}

const worker = new Worker(
  QUEUE,
  async (job) => {
    report('runs', job.id);
    if (CPU) {
      const end = performance.now() + JOB_MS;
      while (performance.now() < end);
    } else if (JOB_MS > 0) await sleep(JOB_MS);
    return undefined;
  },
  { connection: REDIS_URL, concurrency: 1 },
);
worker.on('completed', (job) => report('done', job.id));
worker.on('error', (err) => report('errors', `${err.name}: ${err.message}`));
worker.on('failed', (job, err) => report('errors', `job ${job.id} failed: ${err.message}`));

async function close() {
  await worker.close();
  process.send({ closed: true }, () => process.exit(0));
}
process.on('message', (m) => m?.close && void close());
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
