// The README's examples are run as written, against a private redis-server (the cluster
// example against a private local Redis Cluster), and its generated "Under the hood" section
// must match the code.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCluster, startRedis, type RedisServer } from '../support/redis.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function example(name: string): string {
  const m = readme.match(new RegExp(`<!-- example: ${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\`\`\``));
  if (!m?.[1]) throw new Error(`README.md has no example "${name}"`);
  return m[1];
}

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

async function runExample(name: string, env: Record<string, string> = { REDIS_URL: server.url }): Promise<string> {
  const file = join(here, `.example-${name}.mjs`);
  writeFileSync(file, example(name));
  try {
    const { stdout } = await run(process.execPath, [file], { env: { ...process.env, ...env }, timeout: 30_000 });
    return stdout;
  } finally {
    rmSync(file, { force: true });
  }
}

test('quick start runs and completes its job', async () => {
  const out = await runExample('quickstart');
  // the worker may start the job before add() has resolved: "added" and the handler's line come in either order
  expect(out).toMatch(/^connected\n/);
  expect(out).toMatch(/^added job 1$/m);
  expect(out).toMatch(/thumbnails for https:\/\/example.com\/cat.png, attempt 1 of 5/);
  expect(out).toMatch(/job 1 done: \{"sizes":5\}/);
});

test('dead-letter example: three attempts, dead, listed, replayed, then sent', async () => {
  const out = await runExample('dead-letter');
  expect(out).toMatch(/^1 dead; job 1: mail provider unavailable$/m);
  expect(out).toMatch(/^1 ada@example.com 3 mail provider unavailable$/m);
  expect(out).toMatch(/^replayed 1$/m);
  expect(out).toMatch(/^sent to ada@example.com$/m);
});

test('dead-letter admin example: one group for twenty failures on three hosts, replayed by a redrive task', async () => {
  const out = await runExample('dead-letter-admin');
  expect(out).toMatch(/^20 dead of Error: smtp-<n>\.example\.com refused the connection$/m);
  expect(out).toMatch(/^replayed 20 of 20$/m);
});

test('dashboard example: mounted in node:http, it shows the queue and lets only the admin act', async () => {
  const out = await runExample('dashboard');
  expect(out).toMatch(/^avatars-admin: 1 waiting$/m);
  expect(out).toMatch(/^pause as a visitor: 403$/m);
  expect(out).toMatch(/^pause as an admin: 200, paused: true$/m);
});

test('cluster example: a queue on a Redis Cluster, its keys in the slot of {images}', async () => {
  const cluster = await startCluster();
  try {
    const out = await runExample('cluster', { REDIS_CLUSTER_URL: cluster.url });
    expect(out).toMatch(/^keys like kyoo:\{images\}:ready, all in the slot of \{images\}$/m);
    expect(out).toMatch(/^job 1: resized https:\/\/example.com\/cat.png$/m);
  } finally {
    await cluster.stop();
  }
}, 60_000);

test('groups example: each group in order, a back-off without an attempt used', async () => {
  const out = await runExample('groups');
  expect(out).toMatch(/^tenant:big: 6 waiting, weight 2$/m);
  // the third run backed off: that job ran again on attempt 1, and each tenant's jobs kept their order
  expect(out).toMatch(/^big: 0#1 1#1 2#1 3#1 4#1 5#1; small: 0#1 1#1$/m);
});

test('options example: priorities, deduplication, cancellation and backpressure', async () => {
  const out = await runExample('options');
  expect(out).toMatch(/^deduplicated: true, same job: true$/m);
  expect(out).toMatch(/^cancel: cancelled$/m);
  expect(out).toMatch(/^refused: queue notifications is full \(its policy's maxWaiting\)$/m);
  expect(out).toMatch(/^password-reset@example.com newsletter@example.com ada@example.com digest@example.com$/m);
});

test('schedules example: a cron in a time zone and an interval fired by a worker', async () => {
  const out = await runExample('schedules');
  expect(out).toMatch(/^nightly-digest next runs at 02:30:00 Europe\/Berlin$/m);
  expect(out.match(/^cleanup for its occurrence at \d\d:\d\d:\d\dZ$/gm)).toHaveLength(2);
  expect(out).toMatch(/^cleanup: 2 runs, ended: true, last job is this one$/m);
});

test('results example: a result, a final error, and the result again after the fact', async () => {
  const out = await runExample('results');
  expect(out).toMatch(/^thumbnails done: 5 sizes$/m);
  expect(out).toMatch(/^failed for good: TypeError: not an image$/m);
  expect(out).toMatch(/^again, later: 64,128,256,512,1024$/m);
});

test('progress example: each report reaches the waiting producer, then the result', async () => {
  const out = await runExample('progress');
  // the first report may come before the wait has its place in the stream: then it is read from the job
  expect(out).toMatch(/^(import at 1\/3 \(attempt 1\)\n)?(import at 2\/3 \(attempt 1\)\n)?import at 3\/3 \(attempt 1\)\nimported\n$/);
});

test('topics example: one order reaches three services; an unsubscribed one hears no more', async () => {
  const out = await runExample('topics');
  expect(out).toMatch(/^order 42 went to 3 queues as job orders:\d+$/m);
  expect(out).toMatch(/^billing, email$/m);
  expect(out).toMatch(/^analytics got order 42\nbilling got order 42\nemail got order 42$/m);
});

test('metrics example: counters, a histogram bucket, and a /metrics endpoint', async () => {
  const out = await runExample('metrics');
  expect(out).toMatch(/^completed 10, runs under 50 ms: 10$/m);
  expect(out).toMatch(/^kyoo_job_attempts_total\{queue="resize",outcome="completed"\} 10$/m);
});

test('events example: two jobs told in order, and a cursor to resume from', async () => {
  const out = await runExample('events');
  const lines = out.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('added upload'))).toHaveLength(2);
  expect(lines.filter((l) => l === 'started upload attempt 1')).toHaveLength(2);
  expect(lines.filter((l) => l === 'completed upload attempt 1')).toHaveLength(2);
  expect(lines.indexOf('added upload attempt 0')).toBeLessThan(lines.indexOf('started upload attempt 1'));
  expect(lines.at(-1)).toBe('resume from the last id');
});

test('tracing example: the add, the run and the request in one trace, each span with its operation', async () => {
  const out = await runExample('tracing');
  expect(out).toBe('one trace: true\nPOST /avatar: your span\nprocess avatars: process\nsend avatars: send\n');
});

test('the "Under the hood" section is generated from the key module and the Lua headers', async () => {
  // @ts-expect-error: a plain .mjs script without types
  const { renderReadme } = (await import('../../scripts/gen-docs.mjs')) as { renderReadme: (s: string) => string };
  expect(renderReadme(readme)).toBe(readme);
  expect(readme).toContain('`kyoo:{images}:ready`');
});
