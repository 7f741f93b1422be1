import { randomBytes } from 'node:crypto';
import {
  ConnectionClosedError,
  DEFAULT_PREFIX,
  JOB_DEFAULTS,
  KyooError,
  QueueFullError,
  ResultCode,
  Scripts,
  checkInt,
  checkKnownKeys,
  checkObject,
  connect,
  isCluster,
  log,
  jobOpts,
  queueKeys,
  release,
  topicKeys,
  validateQueueName,
  type ConnectionOption,
  type OwnedConnection,
  type QueueKeys,
  type RedisConnection,
  type TopicKeys,
} from '@kyoo/core';
import { execValues } from './exec.js';
import { IdBlocks } from './id-blocks.js';
import { prepareJob, resolveDefaults, type JobOptions, type ResolvedDefaults } from './job-options.js';

/** Options of a {@link Topic}. */
export interface TopicOptions {
  /** Redis URL, ioredis options, or an ioredis instance (a `Cluster` too). */
  connection?: ConnectionOption;
  /** Key prefix, the same as the subscriber queues'. @defaultValue `'kyoo'` */
  prefix?: string;
  /** Job options for every message's jobs (overridden per publish). */
  defaultJobOptions?: Pick<JobOptions, 'attempts' | 'backoff' | 'timeoutMs'>;
  /** Largest message accepted, as msgpack bytes. @defaultValue 512 KiB */
  maxPayloadBytes?: number;
  /**
   * Redis Cluster only: how often (ms) this topic looks for messages left in
   * its outbox (by a publisher that stopped before it delivered them, or for
   * a subscriber queue that was full) and delivers them. @defaultValue `1000`
   */
  sweepMs?: number;
}

/** Options of {@link Topic.publish}: the job options every subscriber's job gets (no `jobId`, no `dedup`). */
export type PublishOptions = Pick<JobOptions, 'delayMs' | 'runAt' | 'attempts' | 'backoff' | 'timeoutMs' | 'priority' | 'group'>;

/** What {@link Topic.publish} did. */
export interface PublishResult {
  /** The message's id; in each subscriber queue it is the job `<topic>:<id>`. */
  id: string;
  /** Subscriber queues the message goes to (0: nobody subscribes, nothing was kept). */
  queues: number;
}

const PUBLISH_KEYS = ['delayMs', 'runAt', 'attempts', 'backoff', 'timeoutMs', 'priority', 'group'];
/** Outbox entries read and delivered per call. */
const DELIVER_BATCH = 500;
/** Batches one delivery pass reads at most (past a full queue's entries, to reach the others'). */
const DELIVER_WINDOWS = 20;
/** Attempts at a publish whose subscriber list keeps changing under it. */
const STALE_RETRIES = 50;

type XEntry = [Buffer, Buffer[]];

/**
 * A topic: each published message becomes one job in every subscribed queue
 * (fan-out), and each queue runs it with its own workers, retries and
 * dead-letter queue. On a single Redis server a publish writes every
 * subscriber queue in one atomic call. On a Redis Cluster, where queues live
 * in other slots than the topic, a publish is written once to the topic's
 * outbox and then delivered into each queue exactly once (each queue records
 * the last outbox entry it took in the same call that adds the jobs); see
 * docs/design/015-topics.md for what that trades.
 * @example
 * const orders = new Topic('orders', { connection })
 * await orders.subscribe('billing')
 * await orders.subscribe('email')
 * await orders.publish({ orderId: 42 }) // a job in billing and one in email
 */
export class Topic<T = unknown> {
  /** The topic's name. */
  readonly name: string;
  /** The topic's Redis keys (see the README's "Under the hood"). */
  readonly keys: TopicKeys;

  private readonly prefix: string;
  private readonly conn: OwnedConnection;
  private readonly scripts: Scripts;
  private readonly ids: IdBlocks;
  private readonly defaults: ResolvedDefaults;
  private readonly maxPayloadBytes: number;
  /** Random per Topic object: with the message ids it hands out, tells a resent publish from a new one. */
  private readonly publisher = randomBytes(9).toString('base64url');
  private readonly queueScripts = new Map<string, { keys: QueueKeys; scripts: Scripts }>();
  private subs: Promise<{ rev: number; queues: string[] }> | undefined;
  private closed = false;
  private readonly sweepMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;

  constructor(name: string, options: TopicOptions = {}) {
    const o = checkObject<TopicOptions>('options', options);
    checkKnownKeys('options', o, ['connection', 'prefix', 'defaultJobOptions', 'maxPayloadBytes', 'sweepMs']);
    this.prefix = o.prefix ?? DEFAULT_PREFIX;
    this.keys = topicKeys(this.prefix, name);
    this.name = name;
    this.defaults = resolveDefaults(o.defaultJobOptions);
    this.maxPayloadBytes = checkInt('maxPayloadBytes', o.maxPayloadBytes ?? JOB_DEFAULTS.maxPayloadBytes, 1, 512 * 1024 * 1024);
    this.sweepMs = checkInt('sweepMs', o.sweepMs ?? 1000, 10, 3_600_000);
    this.conn = connect(o.connection);
    this.conn.redis.on('error', (err: Error) => log.client('topic %s: redis error: %s', name, err.message));
    this.scripts = new Scripts(this.keys);
    this.ids = new IdBlocks(this.conn, this.keys.topic_ids);
    if (isCluster(this.conn.redis)) {
      this.sweeper = setInterval(() => void this.sweep(), this.sweepMs).unref();
    }
  }

  /**
   * Subscribes a queue: every message published from now on becomes a job
   * in it. Resolves `false` when it was subscribed already (nothing changes).
   */
  async subscribe(queue: string): Promise<boolean> {
    return this.change(queue, true);
  }

  /**
   * Unsubscribes a queue: messages published from now on no longer go to it;
   * its jobs already added stay, and on a Cluster the messages published
   * while it was subscribed are still delivered to it. Resolves `false` when
   * it was not subscribed.
   */
  async unsubscribe(queue: string): Promise<boolean> {
    return this.change(queue, false);
  }

  /** The subscribed queues, sorted. */
  async subscribers(): Promise<string[]> {
    return ((await this.redis().hkeys(this.keys.topic_subs)) as string[]).sort();
  }

  /**
   * Publishes one message: resolves once every subscribed queue has its job
   * (single Redis), or once the message is in the topic's outbox (Redis
   * Cluster: delivered into the queues right after, by this topic or any
   * other open `Topic` of the same name). A message nobody subscribes to is
   * not kept (`queues: 0`). Invalid options and oversized data reject before
   * anything is written; a subscriber queue at its policy's `maxWaiting`
   * rejects with `QueueFullError` and nothing is written to any queue (on a
   * Cluster the outbox keeps the message for that queue until it has room).
   */
  async publish(data: T, options: PublishOptions = {}): Promise<PublishResult> {
    this.redis();
    const o = checkObject<PublishOptions>('options', options);
    checkKnownKeys('options', o, PUBLISH_KEYS);
    const job = prepareJob(data, o, this.defaults, this.maxPayloadBytes);
    const opts = jobOpts(job);
    const redis = this.redis();
    if (isCluster(redis)) {
      // the message id is taken right before the call is sent (nothing awaited between), so this
      // publisher's calls reach Redis in the order of their ids: a resent call is recognised by it
      const [message] = await this.ids.take(1);
      const jobId = `${this.name}:${message}`;
      const [code, n] = await this.scripts.call(redis, 'topicAppend', {
        publisher: this.publisher, message: Number(message), jobId, delay: job.delayMs, opts, record: job.record,
      });
      if (code === ResultCode.OK && n! > 0) this.kick();
      return { id: message!, queues: code === ResultCode.DUPLICATE ? await this.count() : n! };
    }
    for (let attempt = 0; attempt < STALE_RETRIES; attempt++) {
      const subs = await this.subscriberList();
      const [message] = await this.ids.take(1);
      // with no subscriber known the call still goes: it checks the revision (another process may have subscribed one)
      const group = subs.queues.map((q) => this.queue(q).keys);
      const jobId = `${this.name}:${message}`;
      const [code, n] = await this.scripts.call(redis, 'topicPublish', {
        rev: subs.rev, publisher: this.publisher, message: Number(message), jobId, delay: job.delayMs, opts, record: job.record,
      }, group);
      if (code === ResultCode.OK || code === ResultCode.DUPLICATE) return { id: message!, queues: subs.queues.length };
      if (code === ResultCode.QUEUE_FULL) throw new QueueFullError(subs.queues[n! - 1]!, 1);
      this.subs = undefined; // STALE: the list changed; read it again (and take a fresh id: nothing was written)
    }
    throw new KyooError('TOPIC_BUSY', `the subscriber list of topic ${this.name} changed ${STALE_RETRIES} times during one publish; nothing was written`);
  }

  /**
   * Closes the topic's connection (one passed in as an instance is left
   * open). On a Cluster it first finishes a delivery under way; messages
   * still in the outbox stay there for the next open topic.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await this.draining?.catch(() => undefined);
    await release(this.conn);
  }

  private async count(): Promise<number> {
    return Number(await this.redis().hlen(this.keys.topic_subs));
  }

  private async change(queue: string, subscribe: boolean): Promise<boolean> {
    validateQueueName(queue);
    const [changed] = await this.scripts.call(this.redis(), 'topicSubscribe', { queue, subscribe });
    this.subs = undefined;
    return changed === 1;
  }

  private subscriberList(): Promise<{ rev: number; queues: string[] }> {
    this.subs ??= execValues(this.redis().multi().get(this.keys.topic_rev).hkeys(this.keys.topic_subs)).then(
      ([rev, queues]) => ({ rev: Number(rev ?? 0), queues: queues as string[] }),
      (err: unknown) => {
        this.subs = undefined;
        throw err;
      },
    );
    return this.subs;
  }

  private queue(name: string): { keys: QueueKeys; scripts: Scripts } {
    let q = this.queueScripts.get(name);
    if (!q) {
      const keys = queueKeys(this.prefix, name);
      q = { keys, scripts: new Scripts(keys) };
      this.queueScripts.set(name, q);
    }
    return q;
  }

  /** Cluster: deliver now (once more if a delivery is under way). */
  private kick(): void {
    if (this.closed) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = (async () => {
      try {
        do {
          this.again = false;
          while (await this.deliverOnce()) {
            if (this.closed) return;
          }
        } while (this.again && !this.closed);
      } catch (err) {
        // the sweep tries again
        log.client('topic %s: delivery: %s', this.name, (err as Error).message);
      } finally {
        this.draining = undefined;
      }
    })();
  }

  private async sweep(): Promise<void> {
    if (this.closed || this.draining) return;
    try {
      if (Number(await this.redis().xlen(this.keys.topic_outbox)) > 0) this.kick();
    } catch (err) {
      log.client('topic %s: sweep: %s', this.name, (err as Error).message);
    }
  }

  /**
   * One pass over the outbox, oldest first: each queue an entry names gets
   * the entries after its place (the place it keeps in its own slot), then
   * the outbox is trimmed up to the last entry that every queue it names
   * has. Resolves true when a full window was delivered and more may wait.
   */
  private async deliverOnce(): Promise<boolean> {
    const redis = this.redis();
    const entries: OutboxEntry[] = [];
    let from = '-';
    for (let i = 0; i < DELIVER_WINDOWS; i++) {
      const batch = (await redis.xrangeBuffer(this.keys.topic_outbox, from, '+', 'COUNT', DELIVER_BATCH)) as unknown as XEntry[];
      entries.push(...batch.map(toEntry));
      if (batch.length < DELIVER_BATCH) break;
      from = `(${entries[entries.length - 1]!.entry}`;
    }
    if (entries.length === 0) return false;
    const byQueue = new Map<string, OutboxEntry[]>();
    for (const e of entries) for (const q of e.queues) byQueue.set(q, [...(byQueue.get(q) ?? []), e]);
    const places = new Map<string, string>();
    for (const [queue, list] of byQueue) {
      const q = this.queue(queue);
      let place = (await redis.hget(q.keys.topics, this.name)) ?? '0-0';
      const pending = list.filter((e) => latest(place, e.entry) !== place);
      if (pending.length > 0) {
        const [code, taken] = await q.scripts.call(redis, 'topicDeliver', { topic: this.name, entries: pending });
        if (taken! > 0) place = latest(place, pending[taken! - 1]!.entry);
        if (code === ResultCode.QUEUE_FULL || taken! < pending.length) log.client('topic %s: queue %s is full; its messages wait in the outbox', this.name, queue);
      }
      places.set(queue, place);
    }
    // the places only ever move forward: an entry every named queue has now can go
    let trimTo: string | undefined;
    for (const e of entries) {
      if (!e.queues.every((q) => latest(places.get(q)!, e.entry) === places.get(q))) break;
      trimTo = e.entry;
    }
    if (trimTo === undefined) return false;
    const [ms, seq] = trimTo.split('-') as [string, string];
    await redis.xtrim(this.keys.topic_outbox, 'MINID', `${ms}-${BigInt(seq) + 1n}`);
    return trimTo === entries[entries.length - 1]!.entry && entries.length >= DELIVER_BATCH;
  }

  private redis(): RedisConnection {
    if (this.closed) throw new ConnectionClosedError(`topic ${this.name}`);
    return this.conn.redis;
  }
}

/** The later of two stream ids. */
function latest(a: string, b: string): string {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am > bm || (am === bm && as >= bs) ? a : b;
}

interface OutboxEntry {
  entry: string;
  jobId: string;
  delay: number;
  opts: string;
  record: Buffer;
  /** The queues subscribed when it was published. */
  queues: string[];
}

/** An outbox entry (fields written by topic-append). */
function toEntry([id, fields]: XEntry): OutboxEntry {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
  return {
    entry: id.toString(),
    jobId: f.get('j')!.toString(),
    delay: Number(f.get('d')!.toString()),
    opts: f.get('o')?.toString() ?? '',
    record: f.get('r')!,
    queues: f.get('q')!.toString().split('\n'),
  };
}
