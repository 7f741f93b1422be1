import type { ChainableCommander, Redis } from 'ioredis';
import { serverFor, type RedisConnection } from './connection.js';
import { SCRIPTS, type Arg } from './scripts.generated.js';
import { keySlot } from './slot.js';
import type { KeyName, QueueKeys, TopicKeys } from './keys.js';
import { log, short } from './log.js';

/** Name of one of kyoo's Lua scripts (one per file in `lua/`). */
export type ScriptName = keyof typeof SCRIPTS;
/** The typed arguments of a script (generated from its header). */
export type ScriptArgs<N extends ScriptName> = Parameters<(typeof SCRIPTS)[N]['encode']>[0];
/** The parsed reply of a script (its header's `-- Reply:` parser). */
export type ScriptReply<N extends ScriptName> = ReturnType<(typeof SCRIPTS)[N]['parse']>;

/**
 * Scripts known to be in the script cache of the server behind one socket:
 * a `Redis` connection, or, on a Cluster, the connection to one node (each
 * node has its own script cache, and since Redis 7.0 a replica promoted by a
 * failover starts with none). Forgotten when the socket closes: after a
 * reconnect it may be a restarted server, or another one after a failover.
 */
const cached = new WeakMap<Redis, Set<ScriptName>>();

function cacheOf(server: Redis): Set<ScriptName> {
  let set = cached.get(server);
  if (!set) {
    const fresh = new Set<ScriptName>();
    server.on('close', () => fresh.clear());
    cached.set(server, fresh);
    set = fresh;
  }
  return set;
}

/**
 * Calls kyoo's Lua scripts for one queue, typed: `call(redis, 'ack', {...})`
 * takes the arguments its header declares and resolves with the parsed
 * reply; `queue(redis, multi, name, args)` adds the call to a pipeline or
 * MULTI. This is the only way kyoo (and its tests) call a script.
 *
 * The first call of a script on a server is an EVAL (which also caches it
 * there); later calls are EVALSHA by the SHA computed at build time. Sending
 * EVAL first, rather than EVALSHA with a fallback on NOSCRIPT, keeps calls in
 * the order they were made: a fallback would be sent after commands issued in
 * the meantime. On a Redis Cluster "the server" is the master that serves the
 * queue's slot, looked up in the Cluster's slot map for every call, so a queue
 * on another node, a moved slot or a promoted replica starts with EVAL again
 * (see docs/design/006-scripts-on-cluster.md). A NOSCRIPT that still happens
 * (someone ran SCRIPT FLUSH, or the call that meets a MOVED after a slot moved
 * is resent by ioredis as it was, an EVALSHA) falls back to EVAL and never
 * reaches the caller. Keys come from the key module by the names in each
 * script's header, so no call site passes KEYS or key counts by hand.
 */
export class Scripts {
  private readonly keyArgs: Record<ScriptName, string[]>;
  /** The Cluster slot of the keys: every key of a queue has the hash tag `{queue}`, every key of a topic `{topic}`. */
  private readonly slot: number;

  /** `keys`: one queue's keys ({@link QueueKeys}) or one topic's ({@link TopicKeys}), by name. */
  constructor(keys: QueueKeys | TopicKeys) {
    const byName = keys as Readonly<Record<string, string>>;
    const keyArgs = {} as Record<ScriptName, string[]>;
    // a script whose keys are not among these (a topic script for queue keys) gets none: it is not called through them
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) keyArgs[name] = SCRIPTS[name].keys.map((k) => byName[k]!);
    this.keyArgs = keyArgs;
    this.slot = keySlot(Object.values(byName)[0]!);
  }

  /**
   * Runs a script and parses its reply. A script with a key group (its
   * header's `KEYS[n..]`) takes the keys of one queue per entry in `group`;
   * all of them must be in the same slot as these keys unless the server is
   * a single Redis (not a Cluster).
   */
  async call<N extends ScriptName>(redis: RedisConnection, name: N, args: ScriptArgs<N>, group: readonly QueueKeys[] = []): Promise<ScriptReply<N>> {
    const script = SCRIPTS[name];
    const argv = (script.encode as (a: ScriptArgs<N>) => Arg[])(args);
    const parse = script.parse as (raw: unknown) => ScriptReply<N>;
    return parse(await this.run(redis, name, argv, group));
  }

  /**
   * Adds a call to a pipeline or MULTI on `redis` (EVAL unless the script is
   * known to be cached on the server) and returns the parser for its reply in `exec()`.
   */
  queue<N extends ScriptName>(redis: RedisConnection, batch: ChainableCommander, name: N, args: ScriptArgs<N>): (raw: unknown) => ScriptReply<N> {
    const script = SCRIPTS[name];
    const argv = (script.encode as (a: ScriptArgs<N>) => Arg[])(args);
    const keys = this.keyArgs[name];
    const server = serverFor(redis, this.slot);
    if (server && cacheOf(server).has(name)) batch.callBuffer('evalsha', script.sha, keys.length, ...keys, ...argv);
    else batch.callBuffer('eval', script.source, keys.length, ...keys, ...argv);
    return script.parse as (raw: unknown) => ScriptReply<N>;
  }

  private remember(redis: RedisConnection, name: ScriptName): void {
    const server = serverFor(redis, this.slot);
    if (server) cacheOf(server).add(name);
  }

  private async run(redis: RedisConnection, name: ScriptName, args: readonly Arg[], group: readonly QueueKeys[] = []): Promise<unknown> {
    const script = SCRIPTS[name];
    const fields = script.keyGroup as readonly KeyName[];
    const keys = group.length === 0 ? this.keyArgs[name] : [...this.keyArgs[name], ...group.flatMap((g) => fields.map((f) => g[f]))];
    // undefined while a Cluster has not loaded its slot map: EVAL, which is right anywhere
    const server = serverFor(redis, this.slot);
    if (log.scripts.enabled) log.scripts('%s %s', name, short(args.map(String)));
    if (!server || !cacheOf(server).has(name)) {
      const reply = await redis.callBuffer('eval', script.source, keys.length, ...keys, ...args);
      // after a redirect (MOVED) the slot map names the node that ran it
      this.remember(redis, name);
      return reply;
    }
    try {
      return await redis.callBuffer('evalsha', script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      // after a MOVED the answer came from the slot's new node, which the slot map names now
      const now = serverFor(redis, this.slot);
      if (now) cacheOf(now).clear();
      log.scripts('%s not cached on %s:%s, sending source', name, (now ?? server).options.host, (now ?? server).options.port);
      const reply = await redis.callBuffer('eval', script.source, keys.length, ...keys, ...args);
      this.remember(redis, name);
      return reply;
    }
  }
}
