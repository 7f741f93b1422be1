// A setup file of the `cluster` project: after each test file, no node of the shared cluster may
// have answered NOSCRIPT or CROSSSLOT while it ran. Callers never see a NOSCRIPT (kyoo falls
// back to EVAL), so only the server's error counters (INFO errorstats) show whether kyoo's
// per-node script cache sent an EVALSHA to a node that did not have the script. Nothing in the
// behaviour suite flushes scripts on the shared cluster (test/cluster/ uses private clusters).
import { afterAll, beforeAll, expect } from 'vitest';
import { adminConnection } from '../support/redis.js';

const WATCHED = ['NOSCRIPT', 'CROSSSLOT'];

/** `<port> <error>` → count, on every node of the shared cluster. */
async function errorCounts(): Promise<Record<string, number>> {
  const admin = adminConnection();
  try {
    await admin.ping(); // waits until the slot map is loaded, so nodes() lists every node
    const counts: Record<string, number> = {};
    for (const node of (admin as import('ioredis').Cluster).nodes('all')) {
      const stats = await node.info('errorstats');
      for (const error of WATCHED) {
        counts[`${node.options.port} ${error}`] = Number(new RegExp(`errorstat_${error}:count=(\\d+)`).exec(stats)?.[1] ?? 0);
      }
    }
    return counts;
  } finally {
    admin.disconnect();
  }
}

let before: Record<string, number>;
beforeAll(async () => {
  before = await errorCounts();
});
afterAll(async () => {
  const after = await errorCounts();
  const grew = Object.fromEntries(Object.entries(after).filter(([k, n]) => n !== (before[k] ?? 0)).map(([k, n]) => [k, n - (before[k] ?? 0)]));
  expect(grew, 'NOSCRIPT / CROSSSLOT replies on the shared cluster during this file, by node').toEqual({});
});
