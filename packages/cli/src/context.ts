import { once } from 'node:events';
import { Queue, findQueues } from '@kyoo/client';
import { DEFAULT_PREFIX, connect, isCluster, release, validatePrefix, validateQueueName, type OwnedConnection, type RedisConnection } from '@kyoo/core';
import { str, type Parsed } from './args.js';
import { CliError, NotFoundError, UsageError } from './exit.js';
import { Output } from './output.js';

/** How long to wait for Redis before giving up (ms). */
const CONNECT_TIMEOUT_MS = 10_000;

/** What every command works with: where Redis is, the prefix, the output, and Ctrl-C. */
export class Context {
  readonly url: string;
  readonly prefix: string;
  readonly out: Output;
  /** Aborts at the first SIGINT (or SIGTERM): long commands stop cleanly at the next safe point. */
  readonly signal: AbortSignal;
  private conn: OwnedConnection | undefined;
  private readonly queues = new Map<string, Queue>();

  constructor(p: Parsed, signal: AbortSignal, env: NodeJS.ProcessEnv = process.env) {
    this.url = str(p, 'redis') ?? (env['REDIS_URL'] || 'redis://127.0.0.1:6379');
    const prefix = str(p, 'prefix') ?? DEFAULT_PREFIX;
    try {
      this.prefix = validatePrefix(prefix);
    } catch (err) {
      throw new UsageError(`--prefix: ${(err as Error).message.replace(/^invalid prefix: /, '')}`);
    }
    this.out = new Output({ json: p.values['json'] === true, env });
    this.signal = signal;
  }

  /**
   * The one connection of this run, made on first use and checked: a Redis
   * that does not answer within 10 s ends the command (exit 1) rather than
   * leaving it waiting.
   */
  async redis(): Promise<RedisConnection> {
    if (this.conn) return this.conn.redis;
    let conn: OwnedConnection;
    try {
      conn = connect(this.url, { maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (n: number) => (n > 3 ? null : 200 * n) });
    } catch (err) {
      throw new UsageError(`--redis: ${(err as Error).message.replace(/^invalid connection: /, '')}`);
    }
    this.conn = conn;
    const errors: string[] = [];
    conn.redis.on('error', (err: Error) => errors.push(err.message));
    const timeout = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
    try {
      if (isCluster(conn.redis)) {
        if (conn.redis.status !== 'ready') await once(conn.redis, 'ready', { signal: AbortSignal.any([timeout, this.signal]) });
      } else {
        await Promise.race([conn.redis.ping(), once(timeout, 'abort').then(() => { throw new Error('timed out'); })]);
      }
    } catch (err) {
      throw new CliError(`cannot reach Redis at ${redact(this.url)}: ${errors.at(-1) ?? (err as Error).message}`);
    }
    return conn.redis;
  }

  /** A Queue on the run's connection (its name checked: a bad name is a usage error). */
  async queue(name: string): Promise<Queue> {
    const known = this.queues.get(name);
    if (known) return known;
    try {
      validateQueueName(name);
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^invalid queueName: /, ''));
    }
    const q = new Queue(name, { connection: await this.redis(), prefix: this.prefix });
    this.queues.set(name, q);
    return q;
  }

  /** A Queue that must exist in Redis (it had a job, a policy, a pause or a schedule); else exit 3. */
  async existingQueue(name: string): Promise<Queue> {
    const q = await this.queue(name);
    if (!(await q.exists())) throw new NotFoundError(`no queue ${name} under the prefix ${this.prefix} (kyoo queues lists them)`);
    return q;
  }

  /** The queues named (each must exist, else exit 3), or with no names every queue under the prefix. */
  async targets(names: readonly string[]): Promise<Queue[]> {
    if (names.length > 0) return Promise.all(names.map((n) => this.existingQueue(n)));
    return Promise.all((await findQueues({ connection: await this.redis(), prefix: this.prefix })).map((n) => this.queue(n)));
  }

  async close(): Promise<void> {
    for (const q of this.queues.values()) await q.close().catch(() => undefined);
    if (this.conn) await release(this.conn);
  }
}

/** A URL with its password hidden. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
