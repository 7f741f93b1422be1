// The dashboard with over 100,000 jobs in a queue, on a Redis server of its own: every page
// renders in under a second in headless Chromium, and no view sends a command whose cost grows
// with the queue (no KEYS, no full-range reads: every command Redis receives is checked, by MONITOR).
// A page's time is taken in the page, from the navigation's start to its content being in the
// document, as the median of three loads.
import { Redis } from 'ioredis';
import { Queue, Worker } from 'kyoo';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/behaviour.js';
import { launchBrowser, serveDashboard, type Browser, type Served } from '../support/browser.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const READY = 100_000;
const DEAD = 12_000; // more than the 10,000 the dead-letter groups look at
const NAME = 'scale';
const PAGE_MS = 1000;

let redis: RedisServer;
let browser: Browser;
let served: Served;
let q: Queue<{ userId: number; url: string }>;
let worker: Worker;
let monitor: Redis;
const commands: string[][] = [];

beforeAll(async () => {
  redis = await startRedis();
  q = new Queue(NAME, { connection: redis.url });
  await q.setPolicy({ keepCompleted: { count: 1000 } });
  // dead jobs first (a worker fails them), then the backlog, with the queue paused
  const failing = new Worker(NAME, async (job) => {
    throw new Error(`upload ${job.id} failed: bucket-${Number(job.id) % 7} unreachable`);
  }, { connection: redis.url, concurrency: 100 });
  for (let i = 0; i < DEAD; i += 5000) await q.addBulk(Array.from({ length: Math.min(5000, DEAD - i) }, (_, k) => ({ data: { userId: i + k, url: `https://img.example/${i + k}.png` }, opts: { attempts: 1 } })));
  await waitFor(async () => (await q.jobs.count('dead')) === DEAD, 60_000, `${DEAD} jobs to die`);
  await failing.close();
  await q.pause();
  for (let i = 0; i < READY; i += 10_000) await q.addBulk(Array.from({ length: 10_000 }, (_, k) => ({ data: { userId: (i + k) % 5000, url: `https://img.example/r${i + k}.png` } })));
  await q.addBulk(Array.from({ length: 2000 }, (_, k) => ({ data: { userId: k, url: `https://img.example/g${k}.png` }, opts: { group: `tenant-${k % 200}` } })));
  await q.addBulk(Array.from({ length: 1000 }, (_, k) => ({ data: { userId: k, url: `https://img.example/d${k}.png` }, opts: { delayMs: 3_600_000 + k } })));
  await q.schedules.upsert('nightly', { cron: '0 3 * * *', data: { userId: 0, url: 'https://img.example/nightly.png' } });
  // a worker that is seen (the queue is paused: it takes nothing)
  worker = new Worker(NAME, async () => undefined, { connection: redis.url, concurrency: 4 });
  await waitFor(async () => (await q.workers()).length === 1, 10_000, 'the worker to be seen');
  served = await serveDashboard({ connection: redis.url });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await served?.close();
  await worker?.close();
  await q?.close();
  monitor?.disconnect();
  await redis?.stop();
});

/**
 * Marks, in the page, the first moment an element matching `selector` (with `text`) is in the
 * document: `window.__readyAt`, in ms from the navigation's start (what the user waits for,
 * without the test driver's own round trips to the browser).
 */
function readyMark(selector: string, text?: RegExp): [(arg: { selector: string; text: string | null }) => void, { selector: string; text: string | null }] {
  return [
    ({ selector, text }) => {
      const w = window as unknown as { __readyAt?: number; __mark?: (sel: string, re: string | null) => void };
      const watchFor = (sel: string, re: string | null): void => {
        delete w.__readyAt;
        const pattern = re === null ? null : new RegExp(re);
        const check = (): void => {
          if (w.__readyAt !== undefined) return;
          for (const el of document.querySelectorAll(sel)) {
            if (pattern === null || pattern.test(el.textContent ?? '')) {
              w.__readyAt = performance.now();
              observer.disconnect();
              return;
            }
          }
        };
        const observer = new MutationObserver(check);
        observer.observe(document, { subtree: true, childList: true, characterData: true });
        check();
      };
      w.__mark = watchFor;
      watchFor(selector, text);
    },
    { selector, text: text?.source ?? null },
  ];
}

const readyAt = (page: Page): Promise<number> => page.evaluate(() => (window as unknown as { __readyAt: number }).__readyAt);

/** Loads the page at `route` afresh and waits for `ready`; resolves with the time it took in the page (ms). */
async function timed(route: string, ready: string, text?: RegExp): Promise<number> {
  const page = await browser.page();
  await page.addInitScript(...readyMark(ready, text));
  await page.goto(`${served.url}${route}`);
  const el = page.locator(ready).first();
  await (text ? el.filter({ hasText: text }) : el).waitFor({ timeout: 10_000 });
  const ms = await readyAt(page);
  await page.close();
  return ms;
}

/** A search from the waiting list's page, from the click to its summary: it scans a bounded window (10,000 jobs) and says so. */
async function searched(): Promise<number> {
  const page = await browser.page();
  await page.addInitScript(...readyMark('[data-testid^="job-row-"]'));
  await page.goto(`${served.url}#/q/${NAME}/jobs/ready`);
  await page.getByTestId('search-field').fill('userId');
  await page.getByTestId('search-value').fill('4242');
  const clicked = await page.evaluate(() => {
    const w = window as unknown as { __mark: (sel: string, re: string | null) => void };
    w.__mark('[data-testid="search-summary"]', '10,000');
    return performance.now();
  });
  await page.getByTestId('search-submit').click();
  await page.getByTestId('search-summary').filter({ hasText: /10,000/ }).waitFor();
  const ms = (await readyAt(page)) - clicked;
  await page.close();
  return ms;
}

/** The median of three runs (the suite runs other files beside this one). */
async function median3(run: () => Promise<number>): Promise<number> {
  const runs = [await run(), await run(), await run()].sort((x, y) => x - y);
  return Math.round(runs[1]!);
}

describe('a queue of over 100,000 jobs', () => {
  it('renders every page in under a second, and sends Redis only bounded commands', async () => {
    const deadJob = (await q.jobs.list('dead', { limit: 1 })).jobs[0]!.id;
    const readyJob = (await q.jobs.list('ready', { limit: 1 })).jobs[0]!.id;
    const pages: [string, string, string, RegExp?][] = [
      ['overview', '#/', `[data-testid="queue-row-${NAME}"]`, /100,000|102,000/],
      ['waiting jobs', `#/q/${NAME}/jobs/ready`, '[data-testid^="job-row-"]'],
      ['delayed jobs', `#/q/${NAME}/jobs/delayed`, '[data-testid^="job-row-"]'],
      ['dead jobs', `#/q/${NAME}/jobs/dead`, '[data-testid^="job-row-"]'],
      ['dead-letter groups', `#/q/${NAME}/dead`, '[data-testid^="dead-group-"]'],
      ['job detail (dead)', `#/q/${NAME}/job/${deadJob}`, '[data-testid="job-errors"]', /unreachable/],
      ['job detail (waiting)', `#/q/${NAME}/job/${readyJob}`, '[data-testid="job-state"]'],
      ['schedules', `#/q/${NAME}/schedules`, '[data-testid="schedule-row-nightly"]'],
      ['groups', `#/q/${NAME}/groups`, '[data-testid^="group-row-"]'],
      ['workers', `#/q/${NAME}/workers`, `[data-testid="worker-row-${worker.id}"]`],
    ];
    await timed('#/', `[data-testid="queue-row-${NAME}"]`); // the browser's first start is not the dashboard's
    // every page, timed, then again with MONITOR on (it costs Redis and this process more than
    // the pages do, so the times are taken without it)
    const visitAll = async (runs: (run: () => Promise<number>) => Promise<number>): Promise<Record<string, number>> => {
      const times: Record<string, number> = {};
      for (const [name, route, ready, text] of pages) times[name] = Math.round(await runs(() => timed(route, ready, text)));
      times['search (scan)'] = Math.round(await runs(searched));
      // deep pages are bounded reads too (the API the page pages with)
      const deep = await fetch(`${served.url}api/queues/${NAME}/jobs?state=ready&offset=95000&limit=50`);
      expect(((await deep.json()) as { jobs: unknown[] }).jobs).toHaveLength(50);
      return times;
    };
    const times = await visitAll(median3);
    if (process.env['KYOO_SCALE_TIMES']) process.stdout.write(`page times (ms): ${JSON.stringify(times)}\n`);
    for (const [name, ms] of Object.entries(times)) expect(ms, `${name}: ${ms} ms`).toBeLessThan(PAGE_MS);

    monitor = new Redis(redis.url);
    const m = await monitor.monitor();
    m.on('monitor', (_time: string, args: string[]) => commands.push(args));
    await visitAll((run) => run());

    // MONITOR saw the views' reads (pages, searches, dead-letter groups), and the check would catch a whole read
    const seen = new Set(commands.map((c) => `${c[0]!.toLowerCase()} ${(c[1] ?? '').replace(/^.*:/, '')}`));
    for (const read of ['lrange ready', 'zrevrange dead', 'hmget jobs', 'zrangebyscore dead', 'hscan workers', 'hscan groups']) expect(seen, read).toContain(read);
    expect(unbounded([['HGETALL', `kyoo:{${NAME}}:jobs`], ['LRANGE', `kyoo:{${NAME}}:ready`, '0', '-1'], ['KEYS', '*'], ['ZRANGEBYSCORE', `kyoo:{${NAME}}:dead`, '-inf', '+inf']])).toHaveLength(4);
    expect(unbounded(commands)).toEqual([]);
  });
});

/** Keys that hold one entry per job (or per group): reading one whole is unbounded. */
const BIG = /:(jobs|ready|prio|priorities|delayed|leased|runs|errors|dead|done|cancelled|progress|results|group_of|group_queue|groups|events)$/;
const MAX_SPAN = 1000;

/** The commands (as sent) whose cost grows with the queue. */
function unbounded(all: string[][]): string[] {
  const bad: string[] = [];
  for (const args of all) {
    const [cmd = '', key = '', a = '', b = ''] = args;
    const c = cmd.toLowerCase();
    const line = args.map((x) => (x.length > 60 ? `${x.slice(0, 60)}…` : x)).join(' ');
    if (['keys', 'smembers', 'flushall', 'flushdb', 'sort'].includes(c)) bad.push(line);
    else if (['hgetall', 'hkeys', 'hvals', 'zrange', 'zrevrange', 'lrange'].includes(c) && BIG.test(key) && (c.startsWith('h') || spanOf(a, b) > MAX_SPAN)) bad.push(line);
    else if (['zrangebyscore', 'zrevrangebyscore', 'zrangebylex', 'xrange', 'xrevrange'].includes(c) && BIG.test(key) && !hasLimit(args)) bad.push(line);
    else if ((c === 'hmget' || c === 'zmscore') && args.length - 2 > MAX_SPAN) bad.push(`${cmd} ${key} (${args.length - 2} fields)`);
  }
  return [...new Set(bad)];
}

function spanOf(a: string, b: string): number {
  const from = Number(a);
  const to = Number(b);
  if (to < 0 || from < 0) return Number.POSITIVE_INFINITY; // counted from the end: the whole key when from is 0
  return to - from + 1;
}

function hasLimit(args: string[]): boolean {
  const i = args.findIndex((x) => /^(limit|count)$/i.test(x));
  return i >= 0 && Number(args[args[i]!.toLowerCase() === 'limit' ? i + 2 : i + 1]) <= MAX_SPAN;
}
