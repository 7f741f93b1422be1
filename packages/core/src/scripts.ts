import type { Redis } from 'ioredis';
import { SCRIPTS } from './scripts.generated.js';
import type { QueueKeys } from './keys.js';
import { log, short } from './log.js';

/** Name of one of kyoo's Lua scripts (one per file in `lua/`). */
export type ScriptName = keyof typeof SCRIPTS;

type Arg = string | number | Buffer;

/**
 * Scripts known to be in the script cache of the server a connection talks
 * to. Forgotten when the connection closes: after a reconnect it may be a
 * restarted server, or another one after a failover.
 */
const cached = new WeakMap<Redis, Set<ScriptName>>();

function cacheOf(redis: Redis): Set<ScriptName> {
  let set = cached.get(redis);
  if (!set) {
    const fresh = new Set<ScriptName>();
    redis.on('close', () => fresh.clear());
    cached.set(redis, fresh);
    set = fresh;
  }
  return set;
}

/**
 * Runs kyoo's Lua scripts for one queue. The first call of a script on a
 * connection is an EVAL (which also caches it on the server); later calls are
 * EVALSHA by the SHA computed at build time. Sending EVAL first, rather than
 * EVALSHA with a fallback on NOSCRIPT, keeps calls in the order they were
 * made: a fallback would be sent after commands issued in the meantime. A
 * NOSCRIPT that still happens (someone ran SCRIPT FLUSH) falls back to EVAL.
 * Keys come from the key module by the names in each script's header, so no
 * call site passes KEYS or key counts by hand.
 */
export class ScriptRunner {
  private readonly keyArgs: Record<ScriptName, string[]>;

  constructor(private readonly keys: QueueKeys) {
    const keyArgs = {} as Record<ScriptName, string[]>;
    for (const [name, script] of Object.entries(SCRIPTS) as [ScriptName, (typeof SCRIPTS)[ScriptName]][]) {
      keyArgs[name] = script.keys.map((k) => keys[k]);
    }
    this.keyArgs = keyArgs;
  }

  /** Runs a script; the reply keeps bulk strings as Buffers. */
  async run(redis: Redis, name: ScriptName, args: readonly Arg[]): Promise<unknown> {
    const script = SCRIPTS[name];
    const keys = this.keyArgs[name];
    const cache = cacheOf(redis);
    if (log.scripts.enabled) log.scripts('%s %s', name, short(args.map(String)));
    if (!cache.has(name)) {
      const reply = await redis.callBuffer('eval', script.source, keys.length, ...keys, ...args);
      cache.add(name);
      return reply;
    }
    try {
      return await redis.callBuffer('evalsha', script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      log.scripts('%s not cached on the server, sending source', name);
      cache.clear();
      return await redis.callBuffer('eval', script.source, keys.length, ...keys, ...args);
    }
  }
}
