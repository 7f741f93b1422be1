#!/usr/bin/env node
// Where a producer's time goes: Node CPU and Redis CPU per job of add() (100 in flight) and of
// addBulk (chunks of 1,000, one at a time), for one library in this process, on a fresh
// redis-server of its own. Not part of the fair table (scripts/bench/run): it measures one
// library warm or cold as asked, to see which side a change moved.
//   node scripts/bench/producer-cost.mjs [--lib kyoo|bullmq|bee] [--jobs N] [--warm N]
// --warm adds that many jobs one at a time before measuring (0 = a cold process, as the fair
// harness runs it). Node CPU is this process's user + system time (socket writes included),
// Redis CPU the server's used_cpu_user + used_cpu_sys, both over the measured span.
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '../lib/redis.mjs';
import { BULK_CHUNK, LIBS, chunks } from './libs.mjs';

const { values: args } = parseArgs({ options: { lib: { type: 'string', default: 'kyoo' }, jobs: { type: 'string', default: '100000' }, warm: { type: 'string', default: '2000' } } });
const lib = LIBS.find((l) => l.name === args.lib);
if (!lib) throw new Error(`--lib: one of ${LIBS.map((l) => l.name).join(', ')}`);
const count = Number(args.jobs);
const warm = Number(args.warm);

const server = await startRedis();
const admin = new Redis(server.url);
const redisCpu = async () => {
  const info = await admin.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
};

async function measure(name, run) {
  const producer = lib.producer(server, `cost-${name}`);
  await producer.ready();
  for (let i = 0; i < warm; i++) await producer.add({ n: i });
  const r0 = await redisCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run(producer);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const r = await redisCpu() - r0;
  await producer.close();
  const perJob = (us) => `${(us / count).toFixed(2)} µs`;
  process.stdout.write(`${lib.name} ${name}: ${Math.round(count / ms * 1000).toLocaleString('en-US')} jobs/s, Node ${perJob(c.user + c.system)} and Redis ${perJob(r * 1e6)} of CPU per job\n`);
}

try {
  await measure('add', async (p) => {
    let next = 0;
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < count) await p.add({ n: next++ });
    }));
  });
  await measure('bulk', async (p) => {
    for (const part of chunks(Array.from({ length: count }, (_, n) => ({ n })), BULK_CHUNK)) await p.addBulk(part);
  });
} finally {
  admin.disconnect();
  await server.stop();
}
