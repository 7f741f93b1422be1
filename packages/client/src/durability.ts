import { InvalidOptionError, KyooError, MAX_DURATION_MS, checkInt, checkKnownKeys, checkObject, serverFor, type RedisConnection } from '@kyoo/core';

/**
 * Makes `add()` resolve only once the write survives more than the primary's
 * memory. Off by default: Redis acknowledges a write once it is in memory.
 */
export interface DurabilityOptions {
  /** Replicas that must have the write (`WAIT`). @defaultValue `0` */
  replicas?: number;
  /**
   * The write must be fsynced to the primary's append-only file (and to that
   * of `replicas` replicas): `WAITAOF`, Redis 7.2 or newer, with `appendonly yes`.
   * @defaultValue `false`
   */
  fsync?: boolean;
  /** How long to wait for the confirmations. @defaultValue `1000` */
  timeoutMs?: number;
}

/** Validated durability settings; `null` when off. */
export interface ResolvedDurability {
  replicas: number;
  fsync: boolean;
  timeoutMs: number;
}

/** A job was written but Redis could not confirm the durability asked for in time. */
export class DurabilityError extends KyooError {
  override readonly name = 'DurabilityError';
  constructor(
    readonly jobIds: readonly string[],
    message: string,
  ) {
    super('NOT_DURABLE', message);
  }
}

/** Validates the `durability` option. */
export function resolveDurability(value: unknown): ResolvedDurability | null {
  if (value === undefined) return null;
  const d = checkObject<DurabilityOptions>('durability', value);
  checkKnownKeys('durability', d, ['replicas', 'fsync', 'timeoutMs']);
  if (d.fsync !== undefined && typeof d.fsync !== 'boolean') throw new InvalidOptionError('durability.fsync', 'expected a boolean');
  const out = {
    replicas: checkInt('durability.replicas', d.replicas ?? 0, 0, 100),
    fsync: d.fsync ?? false,
    timeoutMs: checkInt('durability.timeoutMs', d.timeoutMs ?? 1000, 1, MAX_DURATION_MS),
  };
  return out.replicas === 0 && !out.fsync ? null : out;
}

/**
 * Checks once, before the first durable write, that the server can give what
 * was asked (WAITAOF needs Redis 7.2), so nothing is written that could not be confirmed.
 */
export async function checkServerSupports(redis: RedisConnection, d: ResolvedDurability): Promise<void> {
  if (!d.fsync) return;
  const info = await redis.info('server');
  const version = /redis_version:(\d+)\.(\d+)/.exec(info);
  const [major, minor] = version ? [Number(version[1]), Number(version[2])] : [0, 0];
  if (major < 7 || (major === 7 && minor < 2)) {
    throw new InvalidOptionError(
      'durability.fsync',
      `needs WAITAOF (Redis 7.2 or newer); this server is ${version ? `${major}.${minor}` : 'of unknown version'}. Use durability.replicas, or upgrade Redis`,
    );
  }
  if (!/aof_enabled:1/.test(await redis.info('persistence'))) {
    throw new InvalidOptionError('durability.fsync', 'needs the append-only file on the server (appendonly yes)');
  }
}

/**
 * Waits for the confirmations after a write on `redis` to the queue in `slot`; throws
 * {@link DurabilityError} when they do not come. WAIT and WAITAOF count the writes made on
 * one socket: on a Cluster they go to the node serving the slot, on the connection that took
 * the write (sent through the Cluster, they would go to any node and confirm nothing).
 */
export async function confirm(conn: RedisConnection, slot: number, d: ResolvedDurability, ids: readonly string[]): Promise<void> {
  const redis = serverFor(conn, slot);
  if (!redis) throw new DurabilityError(ids, `added, but the cluster's slot map does not name the node that took the write (slot ${slot}), so it cannot be confirmed`);
  if (d.fsync) {
    const [local, replicas] = (await redis.call('WAITAOF', 1, d.replicas, d.timeoutMs)) as [number, number];
    if (local < 1 || replicas < d.replicas) {
      throw new DurabilityError(
        ids,
        `added, but fsync was confirmed locally ${local ? 'yes' : 'no'} and by ${replicas} of ${d.replicas} replicas within ${d.timeoutMs} ms (durability.timeoutMs)`,
      );
    }
    return;
  }
  const acked = await redis.wait(d.replicas, d.timeoutMs);
  if (acked < d.replicas) {
    throw new DurabilityError(ids, `added, but only ${acked} of ${d.replicas} replicas confirmed the write within ${d.timeoutMs} ms (durability.timeoutMs)`);
  }
}
