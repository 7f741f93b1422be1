// The notification service of the image-upload demo: for each upload the web
// server hands it, it waits for the job's outcome with queue.result() and
// tells the user when the thumbnails are done. All of its waits share one
// events reader (started with the first wait, closed when none is left);
// none polls. Started by demo.mjs with REDIS_URL, QUEUE and SIZES in its
// environment; reports each notification (or why there was none) to it.
import { performance } from 'node:perf_hooks';
import { Queue } from 'kyoo';

const SIZES = Number(process.env.SIZES ?? 5); // thumbnails per upload
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? 120_000);
const queue = new Queue(process.env.QUEUE ?? 'images', { connection: process.env.REDIS_URL });
const now = () => performance.timeOrigin + performance.now(); // ms since epoch, comparable across processes

async function notify({ id, imageUrl, userId, at }) {
  let reports = 0;
  let last;
  let outcome;
  try {
    outcome = await queue.result(id, {
      timeoutMs: TIMEOUT_MS,
      onProgress: (p) => {
        reports++;
        last = p.value;
      },
    });
  } catch (err) {
    process.send?.({ missed: id, reason: `${err.name}: ${err.message}` });
    return;
  }
  const ms = now() - at;
  const thumbnails = outcome?.thumbnails;
  if (!Array.isArray(thumbnails) || thumbnails.length !== SIZES || !thumbnails.every((t) => t.startsWith(`${imageUrl}?`))) {
    process.send?.({ missed: id, reason: `completed, but its result is ${JSON.stringify(outcome)}, not ${SIZES} thumbnails of ${imageUrl}` });
    return;
  }
  const widths = thumbnails.map((t) => new URL(t).searchParams.get('w')).join(', ');
  const heard = last ? `, progress heard up to ${last.thumbnails}/${last.of}` : '';
  // the message a user would get
  const text = `${userId}: thumbnails of ${imageUrl} are ready (${widths} px${outcome.approved ? '' : ', held by moderation'})${heard}`;
  process.send?.({ notified: id, ms, reports, text });
}

const waits = [];
process.once('disconnect', () => process.exit(1)); // the demo is gone
process.on('message', async (msg) => {
  if (msg === 'close') {
    await queue.close(); // a wait still open ends with ConnectionClosedError: reported as missed
    await Promise.all(waits);
    process.send?.({ closed: true }, () => process.exit(0)); // after every report is on its way
  } else if (msg.upload) {
    waits.push(notify(msg.upload));
  }
});
await queue.counts(); // connected before the first upload
process.send?.({ ready: true });
