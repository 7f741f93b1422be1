// An events reader in its own process, SIGKILLed in the middle of 10,000 jobs and restarted
// from the last event it wrote out: together the two runs saw every event exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { startWorkerProcess } from '../support/worker-process.js';

const READER = fileURLToPath(new URL('../fixtures/events-reader.mjs', import.meta.url));
const JOBS = 10_000;

let s: Scope;
beforeEach(() => {
  s = new Scope('events-proc');
});
afterEach(async () => {
  await s.dispose();
});

interface Line { id: string; type: string; jobId: string; attempt: number }

/** Starts a reader from `from`; its complete output lines go to `lines`. */
function reader(from: string, lines: Line[]): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name, KYOO_FROM: from };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [READER], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!; // a line cut by the kill is not written out: it is read again
    for (const p of parts) lines.push(JSON.parse(p) as Line);
  });
  s.defer(() => child.exitCode === null && child.kill('SIGKILL'));
  return child;
}

it(`a reader killed and restarted from its last event misses and repeats nothing across ${JOBS.toLocaleString('en-US')} jobs`, async () => {
  const q = s.track(new Queue(s.name, { connection: s.url }));
  await q.setPolicy({ eventsMaxLen: 1_000_000 });
  const lines: Line[] = [];
  const first = reader('0', lines);
  const workers = [0, 1].map(() => startWorkerProcess({ redisUrl: s.url, queue: s.name, concurrency: 20, sleepJitterMs: 1 }));
  s.defer(() => Promise.all(workers.map((w) => w.kill())));
  await Promise.all(workers.map((w) => w.ready));
  for (let i = 0; i < JOBS; i += 1000) await q.addBulk(Array.from({ length: 1000 }, (_, j) => ({ data: { seq: i + j } })));
  await waitFor(() => lines.length >= 6000, 60_000, 'the first reader to get a third of the way');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const resumeFrom = lines.at(-1)!.id;
  const byFirst = lines.length;
  expect(byFirst, 'the first reader was killed before the end').toBeLessThan(3 * JOBS);
  reader(resumeFrom, lines);
  await waitFor(() => lines.filter((l) => l.type === 'completed').length >= JOBS, 60_000, 'every completion');
  // every event exactly once, in stream order
  const ids = lines.map((l) => l.id);
  expect(new Set(ids).size).toBe(ids.length);
  const key = (id: string): [bigint, bigint, number] => {
    const [entry, index] = id.split('/');
    const [ms, seq] = entry!.split('-');
    return [BigInt(ms!), BigInt(seq!), Number(index)];
  };
  for (let i = 1; i < ids.length; i++) {
    const [a, b] = [key(ids[i - 1]!), key(ids[i]!)];
    expect(a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2]))), `${ids[i - 1]} before ${ids[i]}`).toBe(true);
  }
  // and each job's story whole: added, started, completed
  const stories = new Map<string, string[]>();
  for (const l of lines) stories.set(l.jobId, [...(stories.get(l.jobId) ?? []), l.type]);
  expect(stories.size).toBe(JOBS);
  const bad = [...stories].filter(([, st]) => st.join(',') !== 'added,started,completed');
  expect(bad.slice(0, 5)).toEqual([]);
  expect(lines.length).toBe(3 * JOBS);
  expect(lines.length - byFirst, 'events read by the restarted reader').toBeGreaterThanOrEqual(1);
});
