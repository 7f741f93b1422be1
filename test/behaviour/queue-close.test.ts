import { Queue } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('queue-close');
});
afterEach(async () => {
  await s.dispose();
});

it('close() right after un-awaited adds lets them land first: none is lost', async () => {
  const q = new Queue<{ n: number }>(s.name, { connection: s.url });
  const adds = Array.from({ length: 50 }, (_, n) => q.add({ n }));
  await q.close();
  const ids = await Promise.all(adds);
  expect(new Set(ids).size).toBe(50);
  expect(await s.admin.llen(s.keys.ready)).toBe(50);
});

it('getJob and remove refuse an id that is not a non-empty string', async () => {
  const q = s.track(new Queue(s.name, { connection: s.url }));
  for (const bad of ['', 42, null, undefined]) {
    await expect(q.getJob(bad as string)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'id' });
    await expect(q.remove(bad as string)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'id' });
  }
});
