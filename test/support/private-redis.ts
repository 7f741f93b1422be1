// A private redis-server started with any arguments (an ACL file, TLS, no plain port), for
// tests whose server must differ from the shared one. Ready once `ready` options connect
// and PING: those carry whatever the server demands (a username, a password, TLS).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export interface PrivateRedis {
  readonly dir: string;
  readonly child: ChildProcess;
  /** The server's log and stdout, for error messages. */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s), wait for the exit, remove the temp dir. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) try { child.kill('SIGKILL'); } catch { /* gone */ }
});

/** A temp dir for the server's files (and anything the test writes beside them, e.g. certificates). */
export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kyoo-${label}-`));
}

/** Starts `redis-server args...` in `dir` and waits until a client with `ready` options gets PONG. */
export async function startPrivateRedis(dir: string, args: string[], ready: RedisOptions, timeoutMs = 10_000): Promise<PrivateRedis> {
  const out = path.join(dir, 'output.log');
  const fd = fs.openSync(out, 'a');
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--daemonize', 'no', '--dir', dir, ...args], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { live.delete(child); resolve(); }));
  const log = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trimEnd().split('\n').slice(-20).join('\n') : '(no output)');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`redis-server ${args.join(' ')} exited with ${child.exitCode ?? child.signalCode}:\n${log()}`);
    }
    const probe = new Redis({ ...ready, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return { dir, child, log, stop };
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer within ${timeoutMs} ms:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
