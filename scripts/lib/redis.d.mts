// Type declarations for ./redis.mjs.

export interface StartRedisOptions {
  /** TCP port on 127.0.0.1; defaults to a free port. */
  port?: number | undefined;
  /** Enable the append-only file with `appendfsync always`, so data survives kill + restart. */
  appendonly?: boolean | undefined;
  /** Extra redis-server command-line arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: readonly string[] | undefined;
  /** Set `requirepass`; the returned url then carries the password. */
  password?: string | undefined;
}

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` (with `:password@` when a password is set). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Temp working directory (log, AOF). Removed by stop(). */
  readonly dir: string;
  /** Pid of the current redis-server process (changes after restart()). */
  readonly pid: number | undefined;
  /** SIGTERM, SIGKILL after 5 s, wait for exit, then remove `dir`. */
  stop(): Promise<void>;
  /** Send `signal` (default SIGKILL) and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Shut down if running, then start again on the same port and dir; resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the server stops answering but keeps its connections. */
  pause(): Promise<void>;
  /** SIGCONT after pause(). */
  resume(): Promise<void>;
}

export interface RawCommandOptions {
  host?: string | undefined;
  password?: string | undefined;
  /** Socket idle timeout in ms (default 2000). */
  timeout?: number | undefined;
}

/** A decoded RESP reply: simple/bulk string, integer, nil or array. Error replies reject. */
export type RespReply = string | number | null | RespReply[];

/** Install redis-server and redis-tools with apt-get unless redis-server is on PATH; throws on failure. */
export function ensureRedisInstalled(): void;

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number>;

/** Start a throwaway redis-server; resolves once it answers PING (10 s timeout). */
export function startRedis(options?: StartRedisOptions): Promise<RedisServer>;

/** Send one command over a fresh raw connection and return its reply; rejects on an error reply. */
export function redisCommand(port: number, args: readonly (string | number)[], options?: RawCommandOptions): Promise<RespReply>;

/** True when the server at `port` answers PING with +PONG; never throws. */
export function ping(port: number, options?: RawCommandOptions): Promise<boolean>;
