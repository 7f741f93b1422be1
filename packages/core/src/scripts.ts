import type { ChainableCommander, Redis } from 'ioredis';
import { serverFor, type RedisConnection } from './connection.js';
import { LIBRARY, SCRIPTS, type Arg } from './scripts.generated.js';
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
 * What kyoo knows of the server behind one socket: a `Redis` connection, or,
 * on a Cluster, the connection to one node (each node has its own script
 * cache, and since Redis 7.0 a replica promoted by a failover starts with
 * none). `cached`: the scripts in its script cache. `fn`: whether this
 * build's Functions library is loaded there: unknown (not asked yet),
 * loading (FUNCTION LOAD sent), yes (calls are FCALL), no (the server has no
 * Functions, before Redis 7.0, or the user may not load them: calls stay
 * EVAL/EVALSHA). Forgotten when the socket closes: after a reconnect it may
 * be a restarted server, or another one after a failover.
 */
interface ServerState {
  cached: Set<ScriptName>;
  fn: 'unknown' | 'loading' | 'yes' | 'no';
}

const servers = new WeakMap<Redis, ServerState>();

function stateOf(server: Redis): ServerState {
  let state = servers.get(server);
  if (!state) {
    const fresh: ServerState = { cached: new Set(), fn: 'unknown' };
    server.on('close', () => {
      fresh.cached.clear();
      fresh.fn = 'unknown';
    });
    servers.set(server, fresh);
    state = fresh;
  }
  return state;
}

/**
 * Asks `server` to load this build's Functions library, without waiting:
 * the FUNCTION LOAD goes out on the server's socket ahead of every later
 * call, so once it has answered, calls are FCALL; until then they stay
 * EVAL/EVALSHA. A library of that name exists already (another process of
 * this build loaded it): loaded. No Functions (Redis before 7.0), no
 * permission, or a library the server will not take: no, for this socket.
 */
function loadLibrary(server: Redis, state: ServerState): void {
  state.fn = 'loading';
  server.call('FUNCTION', 'LOAD', LIBRARY.source).then(
    () => {
      if (state.fn === 'loading') state.fn = 'yes';
    },
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (state.fn !== 'loading') return;
      if (/already exists/i.test(message)) state.fn = 'yes';
      else if (/unknown command|unknown subcommand|NOPERM|ERR Error compiling|not allowed/i.test(message)) {
        state.fn = 'no';
        log.scripts('no functions on %s:%s (%s): scripts go as EVAL/EVALSHA', server.options.host, server.options.port, message);
      } else state.fn = 'unknown'; // a connection error, say: asked again by the next call
    },
  );
}

/** Whether a call to `server` should be an FCALL (asking for the library on first contact). */
function functionsOn(server: Redis): boolean {
  const state = stateOf(server);
  if (state.fn === 'unknown') loadLibrary(server, state);
  return state.fn === 'yes';
}

/**
 * Calls kyoo's Lua scripts for one queue, typed: `call(redis, 'ack', {...})`
 * takes the arguments its header declares and resolves with the parsed
 * reply; `queue(redis, multi, name, args)` adds the call to a pipeline or
 * MULTI. This is the only way kyoo (and its tests) call a script.
 *
 * On a server with Redis Functions (7.0+) every script is one function of
 * one library ({@link LIBRARY}), loaded once per server, and calls are
 * FCALL: the script's code is set up once at load instead of at every call
 * (docs/design/020-functions.md). Until the library is known to be loaded,
 * and on servers without Functions, scripts go as below.
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
    if (server && functionsOn(server)) batch.callBuffer('fcall', script.fn, keys.length, ...keys, ...argv);
    else if (server && stateOf(server).cached.has(name)) batch.callBuffer('evalsha', script.sha, keys.length, ...keys, ...argv);
    else batch.callBuffer('eval', script.source, keys.length, ...keys, ...argv);
    return script.parse as (raw: unknown) => ScriptReply<N>;
  }

  private remember(redis: RedisConnection, name: ScriptName): void {
    const server = serverFor(redis, this.slot);
    if (server) stateOf(server).cached.add(name);
  }

  private async run(redis: RedisConnection, name: ScriptName, args: readonly Arg[], group: readonly QueueKeys[] = []): Promise<unknown> {
    const script = SCRIPTS[name];
    const fields = script.keyGroup as readonly KeyName[];
    const keys = group.length === 0 ? this.keyArgs[name] : [...this.keyArgs[name], ...group.flatMap((g) => fields.map((f) => g[f]))];
    // undefined while a Cluster has not loaded its slot map: EVAL, which is right anywhere
    const server = serverFor(redis, this.slot);
    if (log.scripts.enabled) log.scripts('%s %s', name, short(args.map(String)));
    if (server && functionsOn(server)) {
      try {
        return await redis.callBuffer('fcall', script.fn, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !/function not found/i.test(err.message)) throw err;
        // FUNCTION FLUSH, or a redirect to a node without the library: load it again, send this one as EVAL
        const now = serverFor(redis, this.slot) ?? server;
        stateOf(now).fn = 'unknown';
        stateOf(server).fn = 'unknown';
        log.scripts('%s: no library on %s:%s, sending source', name, now.options.host, now.options.port);
        return this.evalSource(redis, name, keys, args);
      }
    }
    if (!server || !stateOf(server).cached.has(name)) return this.evalSource(redis, name, keys, args);
    try {
      return await redis.callBuffer('evalsha', script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      // after a MOVED the answer came from the slot's new node, which the slot map names now
      const now = serverFor(redis, this.slot);
      if (now) stateOf(now).cached.clear();
      log.scripts('%s not cached on %s:%s, sending source', name, (now ?? server).options.host, (now ?? server).options.port);
      return this.evalSource(redis, name, keys, args);
    }
  }

  /** Sends a script's source as EVAL and remembers, on the node that ran it, that Redis now has it cached. */
  private async evalSource(redis: RedisConnection, name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const reply = await redis.callBuffer('eval', SCRIPTS[name].source, keys.length, ...keys, ...args);
    // after a redirect (MOVED) the slot map names the node that ran it
    this.remember(redis, name);
    return reply;
  }
}
