#!/usr/bin/env node
// How a fresh process warms up: the rate of each tenth of a run of adds (100 in flight) or of
// processing (one worker, concurrency 50, pre-filled jobs), for each library, every run in a
// fresh Node process of its own, on a fresh redis-server. Not part of the fair table
// (scripts/bench/run): it shows why the table's first figures of a process and its warm ones
// differ, and where in a run the difference lies.
//   node scripts/bench/warmup.mjs [--line add|process] [--jobs N] [--runs N] [--lib kyoo,bullmq,bee]
// Each line of output is one run: its whole rate, then the rate of each tenth of its jobs, and
// the process's CPU time (user + system, every thread) per job.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../lib/redis.mjs';

const { values: args } = parseArgs({
  options: {
    line: { type: 'string', default: 'add' },
    jobs: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
    lib: { type: 'string', default: 'kyoo,bullmq,bee' },
    child: { type: 'string' },
  },
});
const count = Number(args.jobs);
if (!Number.isInteger(count) || count < 10 || count % 10 !== 0) throw new Error(`--jobs: a multiple of 10, at least 10; got ${args.jobs}`);
if (!['add', 'process'].includes(args.line)) throw new Error(`--line: add or process; got ${args.line}`);

if (args.child) {
  const { LIBS, BULK_CHUNK, chunks } = await import('./libs.mjs');
  const lib = LIBS.find((l) => l.name === args.lib);
  const server = JSON.parse(args.child);
  const queue = `warmup-${process.pid}`;
  const producer = lib.producer(server, queue);
  await producer.ready();
  const step = count / 10;
  const marks = [];
  let t0 = 0;
  let c0;
  if (args.line === 'add') {
    let next = 0;
    let done = 0;
    c0 = process.cpuUsage();
    t0 = performance.now();
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < count) {
        await producer.add({ n: next++ });
        if (++done % step === 0) marks.push(performance.now());
      }
    }));
  } else {
    for (const part of chunks(Array.from({ length: count }, (_, n) => ({ n })), BULK_CHUNK)) await producer.addBulk(part);
    let done = 0;
    let finish;
    const all = new Promise((resolve) => (finish = resolve));
    c0 = process.cpuUsage();
    t0 = performance.now();
    const worker = lib.worker(server, queue, {
      concurrency: 50,
      handler: async () => {},
      onCompleted: () => {
        if (++done % step === 0) marks.push(performance.now());
        if (done === count) finish();
      },
    });
    worker.start();
    await all;
    await worker.close();
  }
  const cpu = process.cpuUsage(c0);
  await producer.close();
  process.send({ marks: marks.map((m) => m - t0), cpuUs: cpu.user + cpu.system }, () => process.exit(0));
} else {
  const { LIBS } = await import('./libs.mjs');
  const libs = args.lib.split(',').map((name) => {
    const lib = LIBS.find((l) => l.name === name);
    if (!lib) throw new Error(`--lib: one of ${LIBS.map((l) => l.name).join(', ')}; got ${name}`);
    return lib;
  });
  const server = await startRedis();
  const script = fileURLToPath(import.meta.url);
  const k = (rate) => `${(rate / 1000).toFixed(0)}k`.padStart(5);
  process.stdout.write(`${args.line}: ${count.toLocaleString('en-US')} jobs per run, rate of each tenth (jobs/s), fresh process per run\n`);
  try {
    for (let run = 1; run <= Number(args.runs); run++) {
      for (const lib of libs) {
        const child = fork(script, ['--child', JSON.stringify({ host: server.host, port: server.port, url: server.url }),
          '--lib', lib.name, '--line', args.line, '--jobs', String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        const { marks, cpuUs } = await new Promise((resolve, reject) => {
          child.once('message', resolve);
          child.once('exit', (code) => reject(new Error(`${lib.name} run exited with ${code} before reporting`)));
        });
        await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve()));
        const tenths = marks.map((m, i) => (count / 10) / ((m - (marks[i - 1] ?? 0)) / 1000));
        process.stdout.write(`${lib.label.padEnd(9)} ${k(count / (marks.at(-1) / 1000))} | ${tenths.map(k).join(' ')} | ${(cpuUs / count).toFixed(1)} µs CPU/job\n`);
      }
    }
  } finally {
    await server.stop();
  }
}
