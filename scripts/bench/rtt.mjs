#!/usr/bin/env node
// The floor under pickup latency on this machine: a plain PING round trip to
// a fresh redis-server, back to back, and after a short idle gap (as between
// the adds of the pickup-latency scenario). No queue library is involved.
//   node scripts/bench/rtt.mjs
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ensureRedisInstalled, startRedis } from '../lib/redis.mjs';

ensureRedisInstalled();
const server = await startRedis();
const redis = new Redis(server.url);
const pct = (a, p) => [...a].sort((x, y) => x - y)[Math.floor((p / 100) * (a.length - 1))].toFixed(3);
async function measure(label, gapMs) {
  const times = [];
  for (let i = 0; i < 1000; i++) {
    if (gapMs) await sleep(gapMs);
    const t = performance.now();
    await redis.ping();
    times.push(performance.now() - t);
  }
  console.log(`${label.padEnd(28)} p50 ${pct(times, 50)} ms   p99 ${pct(times, 99)} ms`);
}
await measure('PING back to back', 0);
await measure('PING after a 3 ms idle gap', 3);
await redis.quit();
await server.stop();
