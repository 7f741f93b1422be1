// A throwaway local Redis Cluster (plain redis-server processes, no Docker) for tests and scripts.
// Node built-ins only, like ./redis.mjs, whose startRedis() runs each node: every node has its own
// temp dir and is stopped by pid (SIGTERM, SIGKILL after a grace), also when this process exits.
import { spawn } from 'node:child_process';
import { ensureRedisInstalled, freePort, redisCommand, startRedis } from './redis.mjs';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const CREATE_TIMEOUT_MS = 30_000;
const SLOTS = 16384;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** CRC16/XMODEM, the hash Redis Cluster uses for key slots. */
function crc16(bytes) {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of `key` (its hash tag `{...}` if it has a non-empty one), like CLUSTER KEYSLOT. */
export function keySlot(key) {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % SLOTS;
}

/** Parses CLUSTER NODES into [{ id, port, role, masterId, slots: [[from, to], ...] }]. */
function parseNodes(text) {
  return String(text).trim().split('\n').map((line) => {
    const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
    return {
      id,
      port: Number(/:(\d+)/.exec(addr)?.[1]),
      role: flags.split(',').includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? null : master,
      slots: slots.filter((s) => /^\d/.test(s)).map((s) => s.split('-').map(Number)).map(([a, b]) => [a, b ?? a]),
    };
  });
}

/** Runs redis-cli with `args`; rejects with its output when it fails or takes too long. */
function redisCli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CREATE_TIMEOUT_MS);
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run redis-cli: ${err.message}`)); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`redis-cli ${args.slice(0, 2).join(' ')} exited with ${code ?? signal}\n${out.trim().split('\n').slice(-20).join('\n')}`));
    });
  });
}

/** Polls `check` (which returns a reason it is not done yet, or nothing) until done; throws after `timeoutMs`. */
async function until(what, check, timeoutMs = READY_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let why;
  for (;;) {
    try { why = await check(); } catch (err) { why = err.message; }
    if (!why) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not reached within ${timeoutMs} ms: ${why}`);
    await sleep(100);
  }
}

/** One node: a redis-server with cluster mode on, its cluster bus on a second free port. */
async function startNode(extraArgs, attempt = 1) {
  const busPort = await freePort();
  try {
    return await startRedis({
      args: [
        '--cluster-enabled', 'yes',
        '--cluster-port', String(busPort),
        '--cluster-config-file', 'nodes.conf', // inside the node's own temp dir
        '--cluster-node-timeout', '2000',
        '--cluster-require-full-coverage', 'no',
        '--repl-diskless-sync-delay', '0',
        '--appendonly', 'no',
        // a master stopped while its replicas are being stopped too must not wait for them
        '--shutdown-timeout', '0',
        ...extraArgs,
      ],
    });
  } catch (err) {
    // another process took the bus port between freePort() and the bind: pick another
    if (attempt < 3 && /Address already in use/.test(err.message)) return startNode(extraArgs, attempt + 1);
    throw err;
  }
}

/** Start a local Redis Cluster; see cluster.d.mts for the options and the handle. */
export async function startCluster(options = {}) {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  ensureRedisInstalled();
  const servers = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const started = await Promise.allSettled(Array.from({ length: masters * (1 + replicas) }, () => startNode(options.args ?? [])));
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    await redisCli(['--cluster', 'create', ...servers.map((s) => `${HOST}:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);

    await until('cluster_state:ok on every node', async () => {
      for (const s of servers) {
        const info = String(await redisCommand(s.port, ['CLUSTER', 'INFO']));
        if (!info.includes('cluster_state:ok')) return `${s.port}: ${/cluster_state:\w+/.exec(info)?.[0]}`;
      }
    });

    // Redis 7.0 leaves a replica out of CLUSTER SLOTS until its master has taken a write:
    // write (and delete) one key on every master.
    // (A replica whose role has not yet spread by gossip shows as a master without slots.)
    const topology = parseNodes(await redisCommand(servers[0].port, ['CLUSTER', 'NODES']));
    for (const master of topology.filter((n) => n.role === 'master' && n.slots.length > 0)) {
      let key;
      for (let i = 0; key === undefined; i++) {
        const candidate = `cluster-warmup:${i}`;
        const slot = keySlot(candidate);
        if (master.slots.some(([a, b]) => slot >= a && slot <= b)) key = candidate;
      }
      await redisCommand(master.port, ['SET', key, '1']);
      await redisCommand(master.port, ['DEL', key]);
    }

    await until(`${replicas} replica(s) per slot range in CLUSTER SLOTS on every node`, async () => {
      for (const s of servers) {
        const ranges = await redisCommand(s.port, ['CLUSTER', 'SLOTS']);
        const covered = ranges.reduce((n, r) => n + (r[1] - r[0] + 1), 0);
        if (covered !== SLOTS) return `${s.port}: ${covered} of ${SLOTS} slots covered`;
        const short = ranges.find((r) => r.length - 2 < 1 + replicas);
        if (short) return `${s.port}: slots ${short[0]}-${short[1]} have ${short.length - 3} replica(s)`;
      }
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const byPort = new Map(servers.map((s) => [s.port, s]));
  const startupNodes = servers.map((s) => ({ host: HOST, port: s.port }));
  return {
    url: `redis-cluster://${startupNodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
    startupNodes,
    servers,
    /** Current roles and slots, as one node (the first that answers) sees them. */
    async topology() {
      let lastError;
      for (const s of servers) {
        try {
          return parseNodes(await redisCommand(s.port, ['CLUSTER', 'NODES'])).map((n) => ({ ...n, server: byPort.get(n.port) }));
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError ?? new Error('redis cluster: no node answers');
    },
    stop,
  };
}

