#!/usr/bin/env node
// Makes the dashboard screenshots in docs/images/ (the README shows them): starts a throwaway
// redis-server, plays a small day of queues (uploads flowing, an email provider down so the
// dead-letter queue fills, grouped jobs, a schedule), serves the dashboard, and shoots the
// overview, a dead job's page and the dead-letter groups in headless Chromium.
//   node scripts/screenshots.mjs        (after ./scripts/setup)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createDashboard } from '@kyoo/dashboard';
import { Queue, Worker } from 'kyoo';
import { startRedis } from './lib/redis.mjs';

const out = fileURLToPath(new URL('../docs/images/', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const redis = await startRedis();
const connection = redis.url;
const closers = [];
const track = (x) => (closers.push(() => x.close()), x);

class SmtpError extends Error {
  name = 'SmtpError';
}

/** An error with the stack an application's mailer would have (not this script's paths). */
function failure(ErrorClass, message, frames) {
  const err = new ErrorClass(message);
  err.stack = [`${err.name}: ${message}`, ...frames.map((f) => `    at ${f}`)].join('\n');
  return err;
}

try {
  const images = track(new Queue('images', { connection }));
  const emails = track(new Queue('emails', { connection }));
  const digests = track(new Queue('digests', { connection }));
  const exports = track(new Queue('exports', { connection }));
  await emails.setPolicy({ keepCompleted: { count: 1000 } });
  await digests.schedules.upsert('nightly-digest', { cron: '0 6 * * *', tz: 'Europe/Berlin', data: { kind: 'digest' } });
  await exports.addBulk(Array.from({ length: 40 }, (_, i) => ({ data: { tenant: `tenant-${i % 6}`, report: `r-${i}` }, opts: { group: `tenant-${i % 6}` } })));
  await exports.add({ tenant: 'tenant-1', report: 'quarterly' }, { delayMs: 3_600_000 });

  track(new Worker('images', async (job) => {
    await sleep(5 + (job.data.userId % 30));
    return { sizes: 5 };
  }, { connection, concurrency: 20 }));
  let providerDown = true;
  track(new Worker('emails', async (job) => {
    await sleep(3);
    if (providerDown && job.data.userId % 4 === 0) {
      throw failure(SmtpError, `smtp-${job.data.userId % 3}.mail.example.com refused the connection (421)`,
        ['SMTPConnection.connect (/app/node_modules/mailer/lib/smtp-connection.js:212:17)', 'sendMail (/app/src/mail/send.js:48:11)', 'async handler (/app/src/workers/emails.js:19:5)']);
    }
    if (job.data.userId % 97 === 0) {
      throw failure(TypeError, "Cannot read properties of undefined (reading 'email')", ['renderDigest (/app/src/mail/templates.js:87:31)', 'async handler (/app/src/workers/emails.js:15:20)']);
    }
  }, { connection, concurrency: 10 }));

  const dashboard = createDashboard({ connection, sampleMs: 1000 });
  closers.push(() => dashboard.close());
  const server = createServer(dashboard.node).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const base = `http://127.0.0.1:${server.address().port}/`;
  await images.add({ imageUrl: 'https://cdn.example/u/first.jpg', userId: 1 }); // every queue exists before the sampler starts
  await fetch(`${base}api/overview`); // starts the sampler: the charts need a history

  // 70 s of traffic, rising and falling, so the charts have a shape
  let n = 0;
  for (let t = 0; t < 70; t++) {
    const rate = Math.round(120 + 100 * Math.sin(t / 9));
    await images.addBulk(Array.from({ length: rate }, () => ({ data: { imageUrl: `https://cdn.example/u/${n}.jpg`, userId: n++ % 5000 } })));
    await emails.addBulk(Array.from({ length: Math.round(rate / 4) }, () => ({ data: { to: `user${n}@example.com`, userId: n++ % 5000 }, opts: { attempts: 3, backoff: { type: 'fixed', delayMs: 200 } } })));
    await sleep(1000);
  }
  providerDown = false;
  await images.addBulk(Array.from({ length: 3000 }, () => ({ data: { imageUrl: `https://cdn.example/u/${n}.jpg`, userId: n++ % 5000 } })));

  const dir = mkdtempSync(join(tmpdir(), 'kyoo-shots-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  closers.push(async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); });
  mkdirSync(out, { recursive: true });
  const page = await context.newPage();

  await page.goto(`${base}#/`);
  await page.getByTestId('queue-row-emails').waitFor();
  await page.getByTestId('chart-throughput').waitFor();
  await page.getByTestId('chart-queue').selectOption('images');
  await sleep(2500);
  await page.screenshot({ path: join(out, 'dashboard-overview.png') });

  const [group] = await emails.dead.groups();
  const dead = (await emails.dead.find({ fingerprint: group.fingerprint }, { limit: 1 })).jobs[0];
  await page.goto(`${base}#/q/emails/job/${dead.id}`);
  await page.getByTestId('job-errors').waitFor();
  await sleep(500);
  await page.screenshot({ path: join(out, 'dashboard-job.png') });

  // a replay at 5 a second, shot while it runs
  await page.goto(`${base}#/q/emails/dead`);
  await page.getByTestId(`dead-group-${group.fingerprint}`).waitFor();
  await page.getByTestId(`dead-replay-${group.fingerprint}`).click();
  await page.getByTestId('replay-rate').fill('5');
  await page.getByTestId('confirm').click();
  await page.getByTestId('redrive-progress').waitFor();
  await sleep(4000);
  await page.screenshot({ path: join(out, 'dashboard-dlq.png') });
  console.log(`screenshots in ${out}: dashboard-overview.png, dashboard-job.png, dashboard-dlq.png`);
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await redis.stop();
}
