import { Redis, type RedisOptions } from 'ioredis';
import { InvalidOptionError } from './errors.js';

/**
 * How to reach Redis: a URL (`redis://user:pass@host:6379/0`, `rediss://` for
 * TLS), ioredis options, or an ioredis instance you own. kyoo closes only the
 * connections it opened itself.
 */
export type ConnectionOption = string | RedisOptions | Redis;

/** A connection and whether kyoo owns it (and so must close it). */
export interface OwnedConnection {
  redis: Redis;
  owned: boolean;
}

/**
 * Opens (or adopts) a connection. `overrides` apply only to connections kyoo
 * opens; a caller-supplied instance is used as it is.
 */
export function connect(option: ConnectionOption | undefined, overrides: RedisOptions = {}): OwnedConnection {
  if (option instanceof Redis) return { redis: option, owned: false };
  if (option === undefined) return { redis: new Redis({ ...overrides }), owned: true };
  if (typeof option === 'string') {
    let valid = /^rediss?:\/\//.test(option);
    try {
      new URL(option);
    } catch {
      valid = false;
    }
    if (!valid) {
      throw new InvalidOptionError('connection', `expected a valid redis:// or rediss:// URL, got ${JSON.stringify(option.slice(0, 60))}`);
    }
    return { redis: new Redis(option, { ...overrides }), owned: true };
  }
  if (typeof option === 'object' && option !== null) {
    return { redis: new Redis({ ...option, ...overrides }), owned: true };
  }
  throw new InvalidOptionError('connection', 'expected a Redis URL, ioredis options or an ioredis instance');
}

/**
 * A second connection like `base` (for blocking calls, which would stall
 * every other command on a shared connection).
 */
export function duplicate(base: Redis, overrides: RedisOptions = {}): Redis {
  return base.duplicate({ ...overrides });
}

/** Closes a connection kyoo owns; leaves a caller's instance open. */
export async function release(conn: OwnedConnection): Promise<void> {
  if (!conn.owned) return;
  try {
    await conn.redis.quit();
  } catch {
    conn.redis.disconnect();
  }
}
