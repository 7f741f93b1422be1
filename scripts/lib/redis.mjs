// Throwaway redis-server instances for tests and local scripts.
// Node built-ins only, so shell scripts and TypeScript tests can both import it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/** Children still running and temp dirs not yet removed: cleaned up if this process exits first. */
const live = new Set();
const dirs = new Set();
process.on('exit', () => {
  for (const child of live) try { child.kill('SIGKILL'); } catch { /* already gone */ }
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when `cmd` is an executable file in a PATH directory. */
function onPath(cmd) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try { fs.accessSync(path.join(dir, cmd), fs.constants.X_OK); return true; } catch { return false; }
  });
}

/** Install `packages` with apt-get unless `binary` is already on PATH (for `what`: the message's words). */
export function ensureAptInstalled(binary, packages, what = binary) {
  if (onPath(binary)) return;
  // sudo drops most of the environment, so pass DEBIAN_FRONTEND through env(1) as well.
  const sudo = process.getuid?.() !== 0 && onPath('sudo') ? ['sudo', 'env', 'DEBIAN_FRONTEND=noninteractive'] : [];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['apt-get', 'update'], ['apt-get', 'install', '-y', ...packages]]) {
    const cmd = [...sudo, ...args];
    process.stderr.write(`${what} is not installed; running: ${cmd.join(' ')}\n`);
    const res = spawnSync(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 2, 2] });
    if (res.error || res.status !== 0) {
      throw new Error(`could not install ${what}: \`${cmd.join(' ')}\` ${res.error ? `failed (${res.error.message})` : `exited with ${res.status ?? res.signal}`}`);
    }
  }
  if (!onPath(binary)) throw new Error(`${binary} is still not on PATH after apt-get install`);
}

/** Install redis-server and redis-tools with apt-get unless redis-server is already on PATH. */
export function ensureRedisInstalled() {
  ensureAptInstalled('redis-server', ['redis-server', 'redis-tools']);
}

/** Install Debian's chromium (the dashboard's browser tests drive it) unless it is on PATH. */
export function ensureChromiumInstalled() {
  ensureAptInstalled('chromium', ['chromium'], 'chromium (for the dashboard\'s browser tests)');
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const encode = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;

/** Parse one RESP reply at `pos`; returns [value, nextPos], or undefined when incomplete. */
function parseReply(buf, pos = 0) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  if (type === '+') return [line, eol + 2];
  if (type === '-') return [new Error(line), eol + 2];
  if (type === ':') return [Number(line), eol + 2];
  const n = Number(line);
  if (type === '$') {
    if (n < 0) return [null, eol + 2];
    return buf.length < eol + 2 + n + 2 ? undefined : [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2];
  }
  if (type === '*') {
    if (n < 0) return [null, eol + 2];
    const items = [];
    let next = eol + 2;
    for (let i = 0; i < n; i++) {
      const item = parseReply(buf, next);
      if (!item) return undefined;
      items.push(item[0]);
      next = item[1];
    }
    return [items, next];
  }
  throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
}

/** Send one command over a fresh raw connection (AUTH first when `password` is set) and return its reply. */
export function redisCommand(port, args, { host = HOST, password, timeout = 2_000 } = {}) {
  const commands = password ? [['AUTH', password], args] : [args];
  return new Promise((resolve, reject) => {
    const replies = [];
    let buf = Buffer.alloc(0);
    const socket = net.connect({ port, host });
    const fail = (err) => { socket.destroy(); reject(err); };
    socket.setTimeout(timeout, () => fail(new Error(`redis ${host}:${port} did not reply within ${timeout} ms`)));
    socket.on('error', fail);
    socket.on('close', () => reject(new Error(`redis ${host}:${port} closed the connection`)));
    socket.on('connect', () => socket.write(commands.map(encode).join('')));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let parsed;
      while (replies.length < commands.length && (parsed = parseReply(buf))) {
        replies.push(parsed[0]);
        buf = buf.subarray(parsed[1]);
      }
      if (replies.length < commands.length) return;
      socket.destroy();
      const err = replies.find((r) => r instanceof Error);
      if (err) reject(err); else resolve(replies.at(-1));
    });
  });
}

/** True when the server at `port` answers PING with +PONG. */
export async function ping(port, options = {}) {
  try { return (await redisCommand(port, ['PING'], options)) === 'PONG'; } catch { return false; }
}

/** Last `lines` lines of the given files that exist. */
function tail(files, lines = 30) {
  return files.filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'))
    .join('\n') || '(no log output)';
}

/** Spawn redis-server with `args`; resolves once it answers PING. */
async function launch(args, { port, dir, password }) {
  const output = path.join(dir, 'output.log');
  const fd = fs.openSync(output, 'a');
  const child = spawn('redis-server', args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.unref();
  live.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => { live.delete(child); resolve({ code, signal }); }));
  let spawnError;
  child.once('error', (err) => { spawnError = err; live.delete(child); });
  const deadline = Date.now() + START_TIMEOUT_MS;
  // PONG alone could come from another server already on this port: check the pid too.
  const ours = async () => (await ping(port, { password, timeout: 500 }))
    && String(await redisCommand(port, ['INFO', 'server'], { password }).catch(() => '')).includes(`process_id:${child.pid}\r`);
  while (!(await ours())) {
    const why = spawnError ? `failed to spawn (${spawnError.message})`
      : child.exitCode !== null || child.signalCode ? `exited with ${child.exitCode ?? child.signalCode}`
      : Date.now() > deadline ? `did not answer PING within ${START_TIMEOUT_MS} ms` : undefined;
    if (why) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on ${HOST}:${port} ${why}\n${tail([output, path.join(dir, 'redis.log')])}`);
    }
    await sleep(50);
  }
  return child;
}

/** Start a redis-server bound to 127.0.0.1 in a fresh temp dir; see redis.d.mts for the options and handle. */
export async function startRedis(options = {}, attempt = 1) {
  const port = options.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyoo-redis-'));
  dirs.add(dir);
  const { password } = options;
  const args = [
    '--port', String(port), '--bind', HOST, '--protected-mode', 'no', '--daemonize', 'no',
    '--save', '', '--dir', dir, '--logfile', path.join(dir, 'redis.log'),
    ...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []),
    ...(password ? ['--requirepass', password] : []),
    ...(options.args ?? []),
  ];
  let child;
  let paused = false;
  const running = () => child.exitCode === null && child.signalCode === null;
  const signal = async (sig, graceMs) => {
    if (!running()) return;
    child.ref(); // keep the event loop alive until the exit is observed
    child.kill(sig);
    if (paused && sig !== 'SIGKILL' && sig !== 'SIGCONT') child.kill('SIGCONT');
    paused = false;
    if (graceMs === undefined) return void (await child.exited);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  };
  try {
    child = await launch(args, { port, dir, password });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    // Another process may have grabbed the free port in between: pick a new one.
    if (options.port === undefined && attempt < 3 && /Address already in use/.test(err.message)) return startRedis(options, attempt + 1);
    throw err;
  }
  const auth = password ? `:${encodeURIComponent(password)}@` : '';
  return {
    url: `redis://${auth}${HOST}:${port}`,
    host: HOST,
    port,
    dir,
    get pid() { return child.pid; },
    /** SIGTERM (SIGKILL after 5 s), wait for exit, remove the temp dir. */
    async stop() {
      await signal('SIGTERM', STOP_GRACE_MS);
      fs.rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    /** Send `sig` (default SIGKILL) and wait for the process to exit. */
    kill: (sig = 'SIGKILL') => signal(sig),
    /** Shut down if still running, then start again on the same port and dir (AOF is reloaded). */
    async restart() {
      await signal('SIGTERM', STOP_GRACE_MS);
      fs.mkdirSync(dir, { recursive: true }); // in case stop() already removed it
      dirs.add(dir);
      child = await launch(args, { port, dir, password });
    },
    /** Freeze the server with SIGSTOP. */
    async pause() { if (running()) { child.kill('SIGSTOP'); paused = true; } },
    /** Thaw a paused server with SIGCONT. */
    async resume() { if (running()) { child.kill('SIGCONT'); paused = false; } },
  };
}
