// What the bench reads from the Redis server: command counts, CPU and memory
// (one INFO call per snapshot), and per-queue cleanup.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** INFO text -> { field: value }. */
export function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Commands that run a server-side script (their inner commands are counted separately). */
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/**
 * Snapshots of the server's counters, read over a connection of their own that
 * sends nothing but one `INFO commandstats cpu memory` per snapshot. Redis counts
 * that INFO too (after it has answered), so each delta subtracts exactly one
 * `info` call: the one that took the earlier snapshot.
 */
export class ServerStats {
  constructor(url) {
    this.redis = new Redis(url, { connectionName: 'bench-stats' });
  }

  async snapshot() {
    const info = parseInfo(await this.redis.info('commandstats', 'cpu', 'memory'));
    const calls = {};
    const usec = {};
    for (const [key, value] of Object.entries(info)) {
      if (!key.startsWith('cmdstat_')) continue;
      const cmd = key.slice('cmdstat_'.length);
      calls[cmd] = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
      usec[cmd] = Number(/usec=(\d+)/.exec(value)?.[1] ?? 0);
    }
    return {
      at: performance.now(),
      calls,
      usec,
      cpuSec: Number(info.used_cpu_sys) + Number(info.used_cpu_user),
      usedMemory: Number(info.used_memory),
    };
  }

  /**
   * Counters between two snapshots of this connection. `usecByCommand` is the
   * time Redis spent in each command; a script's own time includes that of the
   * commands it calls, which are also listed under their own names.
   */
  static delta(a, b) {
    const byCommand = {};
    const usecByCommand = {};
    let commands = 0;
    let scriptCalls = 0;
    for (const [cmd, calls] of Object.entries(b.calls)) {
      let n = calls - (a.calls[cmd] ?? 0);
      if (cmd === 'info') n -= 1; // the INFO that took snapshot `a`
      if (n <= 0) continue;
      byCommand[cmd] = n;
      usecByCommand[cmd] = b.usec[cmd] - (a.usec[cmd] ?? 0);
      commands += n;
      if (SCRIPT_COMMANDS.has(cmd)) scriptCalls += n;
    }
    return {
      seconds: (b.at - a.at) / 1000,
      commands,
      scriptCalls,
      byCommand,
      usecByCommand,
      cpuSec: b.cpuSec - a.cpuSec,
      memory: b.usedMemory - a.usedMemory,
    };
  }

  close() {
    return this.redis.quit();
  }
}

/**
 * Housekeeping over a separate connection, never used inside a measured window.
 * Each run deletes its own queue's keys with SCAN + UNLINK. FLUSHALL would be
 * acceptable here (the bench starts and owns the whole server), but deleting by
 * queue name keeps each run honest about its own keys, and the empty-server check
 * below then catches any key a library left outside its queue's name.
 */
export class Admin {
  constructor(url) {
    this.redis = new Redis(url, { connectionName: 'bench-admin' });
  }

  async info(section) {
    return parseInfo(await this.redis.info(section));
  }

  async serverVersion() {
    return (await this.info('server')).redis_version;
  }

  /** Deletes every key whose name contains `queueName`; returns how many. */
  async deleteQueueKeys(queueName) {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `*${queueName}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  /** Waits until UNLINK's background frees are done, so memory readings are settled. */
  async lazyFreeDone(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Number((await this.info('memory')).lazyfree_pending_objects ?? 0) > 0) {
      if (Date.now() > deadline) throw new Error('Redis did not finish freeing deleted keys in time');
      await sleep(20);
    }
  }

  /** Keys left in the server (a few names), for the after-run check. */
  async leftovers() {
    const size = await this.redis.dbsize();
    if (size === 0) return { size, sample: [] };
    const [, sample] = await this.redis.scan('0', 'COUNT', 100);
    return { size, sample: sample.slice(0, 5) };
  }

  close() {
    return this.redis.quit();
  }
}
