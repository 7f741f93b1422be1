// A nightly digest: a cron schedule in the users' time zone, fired by the
// queue's workers (no scheduler process), one job per night however many
// workers run, and one catch-up run after a night the whole fleet was down.
//
//   REDIS_URL=redis://127.0.0.1:6379 node examples/nightly-digest/main.mjs
//
// It upserts the schedule (every deploy may do so: an equal spec changes
// nothing), runs two workers, and prints each digest as it is made. To see it
// fire without waiting for 02:30, give DIGEST_CRON, e.g. '*/5 * * * * *'
// (every 5 s), and DIGEST_RUNS to stop after that many digests.
import { Queue, Worker } from 'kyoo';

const connection = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const cron = process.env.DIGEST_CRON ?? '0 30 2 * * *';
const stopAfter = Number(process.env.DIGEST_RUNS ?? Infinity);
const tz = 'Europe/Berlin';

const queue = new Queue('digests', { connection });
const { outcome } = await queue.schedules.upsert('nightly-digest', {
  cron,
  tz,
  missed: 'latest', // after a night with no worker running: one digest, not one per missed night
  data: { audience: 'all-users' },
  job: { attempts: 5, backoff: { type: 'exponential', delayMs: 30_000 }, dedup: { key: 'digest' } }, // no overlapping runs
});
const schedule = await queue.schedules.get('nightly-digest');
const local = (ms) => new Date(ms).toLocaleString('sv-SE', { timeZone: tz });
console.log(`schedule ${outcome}; next digest at ${local(schedule.nextRunAt)} (${tz})`);

let made = 0;
const workers = [1, 2].map((n) => new Worker('digests', async (job) => {
  // job.schedule.occurrence is the night this digest is for, whenever it runs
  console.log(`worker ${n}: digest for ${job.data.audience}, occurrence ${local(job.schedule.occurrence)}`);
  if (++made >= stopAfter) setImmediate(stop);
  return { sent: 0 };
}, { connection }));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  const s = await queue.schedules.get('nightly-digest');
  console.log(`${s.runs} digest(s) made, last job ${s.lastJobId}`);
  await Promise.all(workers.map((w) => w.close()));
  await queue.close();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
