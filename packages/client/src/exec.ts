import type { ChainableCommander } from 'ioredis';

/** Runs a MULTI (or pipeline) and returns each command's reply, throwing the first command's error. */
export async function execValues(multi: ChainableCommander): Promise<unknown[]> {
  const res = await multi.exec();
  return (res ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
