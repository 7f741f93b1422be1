// One producer process of the traffic-spike scenario (see spike.mjs): a web server with
// IN_FLIGHT requests at a time, each adding one order job, COUNT in all, as fast as it can
// once the parent says go. Reports the ids it got (in batches) and, at the end, the latency
// of every add() in ms.
import { performance } from 'node:perf_hooks';
import { Queue } from 'kyoo';

const { REDIS_URL, QUEUE } = process.env;
const COUNT = Number(process.env.COUNT);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 50);
const INDEX = Number(process.env.PRODUCER ?? 0);
if (!REDIS_URL || !QUEUE || !process.send || !(COUNT >= 0)) {
  console.error('producer.mjs needs REDIS_URL, QUEUE, COUNT and an IPC channel (fork)');
  process.exit(2);
}

const queue = new Queue(QUEUE, { connection: REDIS_URL });
await queue.counts(); // connected before the burst

async function burst() {
  const latencies = new Array(COUNT);
  let ids = [];
  let next = 0;
  let failed = 0;
  const flush = () => {
    if (ids.length > 0) process.send({ ids });
    ids = [];
  };
  const startedAt = Date.now();
  const request = async () => {
    while (next < COUNT) {
      const n = next++;
      const t0 = performance.now();
      try {
        const id = await queue.add({ orderId: `p${INDEX}-${n}`, amountCents: 100 + (n % 9000) });
        latencies[n] = performance.now() - t0;
        ids.push(id);
        if (ids.length >= 1000) flush();
      } catch (err) {
        failed++;
        latencies[n] = performance.now() - t0;
        process.send({ error: `add failed: ${err.message}` });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, Math.max(1, COUNT)) }, request));
  flush();
  process.send({ finished: { startedAt, endedAt: Date.now(), failed, latencies } });
}

process.on('message', (m) => {
  if (m?.go) void burst();
  if (m?.close) void queue.close().finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
