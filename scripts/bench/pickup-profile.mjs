#!/usr/bin/env node
// Where an idle pickup's time goes, for kyoo and bee-queue (a diagnostic, not
// a benchmark: the table's pickup line comes from scripts/bench/run).
//
//   node scripts/bench/pickup-profile.mjs [--lib kyoo,bee] [--count 400]
//
// On a private redis-server, one producer and one idle worker (concurrency 1)
// in this process, as in the `latency` scenario: an add after the same 2-5 ms gap,
// then wait for the handler. It prints, per library:
//   - a timeline of one pickup: every socket write and read of the process
//     and the handler's start, in µs from the add() call (medians over the
//     pickups whose sequence of events is the most common one);
//   - Redis's own time per command (SLOWLOG at 0 µs), including the commands
//     scripts run, with how many of each one pickup costs.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis } from '../lib/redis.mjs';
import { LIBS } from './libs.mjs';
import { pickupGapMs } from './scenarios.mjs';

const { values } = parseArgs({ options: { lib: { type: 'string', default: 'kyoo,bee' }, count: { type: 'string', default: '400' } } });
const count = Number(values.count);
const WARMUP = 50;
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

// socket events of the process, while `timeline` is set
let timeline = null;
const socketIds = new WeakMap();
let nextSocket = 0;
const idOf = (s) => {
  if (!socketIds.has(s)) socketIds.set(s, nextSocket++);
  return socketIds.get(s);
};
const show = (chunk, n) => String(chunk).slice(0, n).replace(/\r\n/g, ' ');
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (chunk, ...rest) {
  timeline?.push([performance.now(), `write  socket ${idOf(this)}  ${show(chunk, 60)}`]);
  return write.call(this, chunk, ...rest);
};
const emit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (event, ...args) {
  if (event === 'data') timeline?.push([performance.now(), `read   socket ${idOf(this)}  ${show(args[0], 40)}`]);
  return emit.call(this, event, ...args);
};


const server = await startRedis();
const admin = new Redis(server.url);
try {
  for (const lib of LIBS.filter((l) => values.lib.split(',').includes(l.name))) {
    const started = new Map();
    const producer = lib.producer(server, `pickup-profile-${lib.name}`);
    const worker = lib.worker(server, `pickup-profile-${lib.name}`, {
      concurrency: 1,
      handler: async (data) => {
        const at = performance.now();
        timeline?.push([at, 'handler starts']);
        started.get(data.n)?.(at);
      },
    });
    await Promise.all([producer.ready(), worker.ready()]);
    worker.start();
    const rows = [];
    const samples = [];
    for (let n = 0; n < WARMUP + count; n++) {
      if (n === WARMUP) {
        await admin.config('set', 'slowlog-max-len', '200000');
        await admin.config('set', 'slowlog-log-slower-than', '0');
        await admin.slowlog('reset');
      }
      await sleep(pickupGapMs());
      const handlerStarted = new Promise((resolve) => started.set(n, resolve));
      const mine = [];
      timeline = mine;
      const t0 = performance.now();
      const added = producer.add({ n }).then(() => mine.push([performance.now(), 'add() resolves']));
      const t1 = await handlerStarted;
      await added;
      await sleep(1); // the calls that follow the job (ack, the next wait)
      timeline = null;
      if (n >= WARMUP) {
        samples.push(t1 - t0);
        rows.push(mine.map(([t, what]) => [t - t0, what]));
      }
    }
    await admin.config('set', 'slowlog-log-slower-than', '10000');
    const slow = await admin.slowlog('get', '-1');
    await worker.close();
    await producer.close();

    const shape = (r) => r.map(([, what]) => what.split('  ').slice(0, 2).join(' ')).join('|');
    const shapes = new Map();
    for (const r of rows) shapes.set(shape(r), (shapes.get(shape(r)) ?? 0) + 1);
    const [common, seen] = [...shapes].sort((a, b) => b[1] - a[1])[0];
    const same = rows.filter((r) => shape(r) === common);
    console.log(`\n${lib.name}: pickup p50 ${(med(samples) * 1000).toFixed(0)} µs over ${samples.length} pickups`);
    console.log(`  timeline (medians of the ${seen} pickups with the most common sequence):`);
    for (let i = 0; i < same[0].length; i++) {
      console.log(`  ${(med(same.map((r) => r[i][0])) * 1000).toFixed(0).padStart(6)} µs  ${same[0][i][1]}`);
    }
    const byCommand = new Map();
    for (const [, , us, argv] of slow) {
      let name = String(argv[0]).toLowerCase();
      if (name === 'slowlog' || name === 'config') continue;
      if (name === 'fcall') name += ` ${String(argv[1]).replace(/^kyoo_[0-9a-f]+_/, '')}`;
      if (name === 'evalsha' || name === 'eval') name += ` ${String(argv[1]).slice(0, 8)}`;
      if (!byCommand.has(name)) byCommand.set(name, []);
      byCommand.get(name).push(us);
    }
    console.log('  Redis time per command (scripts include the commands they run, listed too):');
    for (const [name, us] of [...byCommand].sort((a, b) => med(b[1]) * b[1].length - med(a[1]) * a[1].length)) {
      console.log(`    ${name.padEnd(22)} ${(us.length / samples.length).toFixed(2).padStart(5)} per pickup, p50 ${String(med(us)).padStart(3)} µs`);
    }
  }
} finally {
  await admin.quit();
  await server.stop();
}
