import type { Redis } from 'ioredis';
import { SCRIPTS } from './scripts.generated.js';
import type { QueueKeys } from './keys.js';
import { log, short } from './log.js';

/** Name of one of kyoo's Lua scripts (one per file in `lua/`). */
export type ScriptName = keyof typeof SCRIPTS;

type Arg = string | number | Buffer;

/**
 * Runs kyoo's Lua scripts for one queue: EVALSHA by the SHA computed at build
 * time, falling back to EVAL (which also caches the script) when the server
 * answers NOSCRIPT, e.g. after a restart or on a fresh replica. Keys come
 * from the key module by the names in each script's header, so no call site
 * passes KEYS or key counts by hand.
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
    if (log.scripts.enabled) log.scripts('%s %s', name, short(args.map(String)));
    try {
      return await redis.callBuffer('evalsha', script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      log.scripts('%s not cached on the server, sending source', name);
      return await redis.callBuffer('eval', script.source, keys.length, ...keys, ...args);
    }
  }
}
