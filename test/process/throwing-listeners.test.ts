// A user's listener that throws (or rejects) never breaks the worker: for each event, a
// worker process whose listeners of that event throw runs every job exactly as often as
// its failures call for, settles every job in Redis, reports each listener error as a
// ListenerError 'error' event (an 'error' listener's own throw goes to the kyoo:worker
// debug log), and exits cleanly.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/throwing-listeners.mjs', import.meta.url));

let s: Scope;
beforeEach(() => {
  s = new Scope('listeners');
});
afterEach(async () => {
  await s.dispose();
});

interface Report { t: string; id?: string; attempt?: number; name?: string; code?: string; event?: string; cause?: string }

it.each([
  ['completed', ['completed']],
  ['failed', ['failed']],
  ['retried', ['retried']],
  ['dead', ['dead']],
  // an 'error' listener needs an error to see: the throwing 'completed' listener gives one
  ['error', ['completed', 'error']],
])('throwing %s listeners: every job runs as planned, the process stays up', async (_what, throwOn) => {
  const q = s.track(new Queue<{ fail: string }>(s.name, { connection: s.url }));
  const plan = [
    ...Array.from({ length: 8 }, () => 'never'),
    ...Array.from({ length: 4 }, () => 'once'),
    ...Array.from({ length: 4 }, () => 'always'),
  ];
  const ids = await q.addBulk(plan.map((fail) => ({ data: { fail }, opts: { attempts: 2, backoff: { type: 'fixed', delayMs: 0 } } })));

  const reports: Report[] = [];
  let stderr = '';
  const child = fork(FIXTURE, [], {
    env: { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name, KYOO_THROW_ON: throwOn.join(','), DEBUG: 'kyoo:worker' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  s.defer(() => child.kill('SIGKILL'));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('message', (m: Report) => reports.push(m));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  // settled in Redis: 12 completed, 4 dead, nothing waiting or leased
  await waitFor(async () => {
    const c = await q.counts();
    return c.completed === 12 && c.dead === 4 && c.ready + c.delayed + c.leased === 0;
  }, 15_000, 'every job to be completed or dead');
  child.send({ t: 'close' });
  expect(await exited).toBe(0);
  expect(reports.at(-1)?.t).toBe('closed');

  // each job ran exactly as often as planned: once, twice (fails once), twice (dead after 2 attempts)
  const runs = new Map<string, number[]>();
  for (const r of reports.filter((r) => r.t === 'start')) runs.set(r.id!, [...(runs.get(r.id!) ?? []), r.attempt!]);
  ids.forEach((id, i) => expect(runs.get(id), `${plan[i]} job ${id}`).toEqual(plan[i] === 'never' ? [1] : [1, 2]));
  for (const [i, id] of ids.entries()) expect((await q.getJob(id))?.state).toBe(plan[i] === 'always' ? 'dead' : 'completed');

  // every throw and every rejection was reported as a ListenerError naming its event
  // 'once' jobs fail and retry once; 'always' jobs fail twice, retry once, then die
  const times = { completed: 12, failed: 12, retried: 8, dead: 4 } as Record<string, number>;
  const listenerErrors = reports.filter((r) => r.t === 'error' && r.code === 'LISTENER_FAILED');
  for (const event of throwOn.filter((e) => e !== 'error')) {
    const mine = listenerErrors.filter((r) => r.event === event);
    expect(mine.filter((r) => r.cause === `${event} listener threw`), event).toHaveLength(times[event]!);
    expect(mine.filter((r) => r.cause === `${event} listener rejected`), event).toHaveLength(times[event]!);
  }
  expect(reports.filter((r) => r.t === 'error' && r.code !== 'LISTENER_FAILED')).toEqual([]);
  if (throwOn.includes('error')) {
    // the 'error' listeners' own throws have nowhere else to go: the debug log has them
    expect(stderr.match(/a 'error' listener threw: Error: error listener threw/g)?.length).toBe(2 * times.completed!);
    expect(stderr.match(/a 'error' listener threw: Error: error listener rejected/g)?.length).toBe(2 * times.completed!);
  }
});
