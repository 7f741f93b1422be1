import type { ChainableCommander, Redis } from 'ioredis';
import { SCRIPTS, type Arg } from './scripts.generated.js';
import type { QueueKeys } from './keys.js';
import { log, short } from './log.js';

/** Name of one of kyoo's Lua scripts (one per file in `lua/`). */
export type ScriptName = keyof typeof SCRIPTS;
/** The typed arguments of a script (generated from its header). */
export type ScriptArgs<N extends ScriptName> = Parameters<(typeof SCRIPTS)[N]['encode']>[0];
/** The parsed reply of a script (its header's `-- Reply:` parser). */
export type ScriptReply<N extends ScriptName> = ReturnType<(typeof SCRIPTS)[N]['parse']>;

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
 * Calls kyoo's Lua scripts for one queue, typed: `call(redis, 'ack', {...})`
 * takes the arguments its header declares and resolves with the parsed reply;
 * `queue(redis, multi, name, args)` adds the call to a pipeline or MULTI.
 *
 * The first call of a script on a connection is an EVAL (which also caches it
 * on the server); later calls are EVALSHA by the SHA computed at build time.
 * Sending EVAL first, rather than EVALSHA with a fallback on NOSCRIPT, keeps
 * calls in the order they were made: a fallback would be sent after commands
 * issued in the meantime. A NOSCRIPT that still happens (someone ran SCRIPT
 * FLUSH) falls back to EVAL. Keys come from the key module by the names in
 * each script's header, so no call site passes KEYS or key counts by hand.
 */
export class Scripts {
  private readonly keyArgs: Record<ScriptName, string[]>;

  constructor(keys: QueueKeys) {
    const keyArgs = {} as Record<ScriptName, string[]>;
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) keyArgs[name] = SCRIPTS[name].keys.map((k) => keys[k]);
    this.keyArgs = keyArgs;
  }

  /** Runs a script and parses its reply. */
  async call<N extends ScriptName>(redis: Redis, name: N, args: ScriptArgs<N>): Promise<ScriptReply<N>> {
    const script = SCRIPTS[name];
    const argv = (script.encode as (a: ScriptArgs<N>) => Arg[])(args);
    const parse = script.parse as (raw: unknown) => ScriptReply<N>;
    return parse(await this.run(redis, name, argv));
  }

  /**
   * Adds a call to a pipeline or MULTI on `redis` (EVAL unless the script is
   * known to be cached there) and returns the parser for its reply in `exec()`.
   */
  queue<N extends ScriptName>(redis: Redis, batch: ChainableCommander, name: N, args: ScriptArgs<N>): (raw: unknown) => ScriptReply<N> {
    const script = SCRIPTS[name];
    const argv = (script.encode as (a: ScriptArgs<N>) => Arg[])(args);
    const keys = this.keyArgs[name];
    if (cacheOf(redis).has(name)) batch.callBuffer('evalsha', script.sha, keys.length, ...keys, ...argv);
    else batch.callBuffer('eval', script.source, keys.length, ...keys, ...argv);
    return script.parse as (raw: unknown) => ScriptReply<N>;
  }

  private async run(redis: Redis, name: ScriptName, args: readonly Arg[]): Promise<unknown> {
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
