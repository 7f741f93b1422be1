// One worker process of the image-upload demo: makes five thumbnail sizes
// (reporting progress after each), runs moderation and updates the profile,
// all simulated with short waits, and returns the thumbnails' urls: the
// result the demo's notification step reads with queue.result().
// Started by demo.mjs with REDIS_URL and QUEUE in its environment.
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'kyoo';

const SIZES = [64, 128, 256, 512, 1024];

const worker = new Worker(
  process.env.QUEUE ?? 'images',
  async (job, signal) => {
    const { imageUrl, userId } = job.data;
    const thumbnails = [];
    for (const size of SIZES) {
      await sleep(1 + Math.random() * 2, undefined, { signal }); // resize
      thumbnails.push(`${imageUrl}?w=${size}`);
      await job.progress({ thumbnails: thumbnails.length, of: SIZES.length }); // waiting producers hear it
    }
    await sleep(2 + Math.random() * 3, undefined, { signal }); // moderation
    const approved = !imageUrl.includes('nsfw');
    await sleep(1, undefined, { signal }); // profile update
    process.send?.({ done: job.id, userId, approved });
    return { thumbnails, approved };
  },
  { connection: process.env.REDIS_URL, concurrency: 20, leaseMs: 10_000 },
);

worker.on('error', (err) => process.send?.({ error: err.message }));
process.send?.({ ready: true });
process.once('disconnect', () => process.exit(1)); // the demo is gone
process.on('message', async (msg) => {
  if (msg === 'close') {
    await worker.close();
    process.exit(0);
  }
});
