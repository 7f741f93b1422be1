// The schedule scenario of issue 9 with real processes, run against the single server
// (test/process/schedules.test.ts) and the local Redis Cluster (test/cluster/schedules.test.ts):
// a per-second cron driven by three worker processes and one standalone scheduler process, with
// 20 upserts of the same schedule racing from four processes: one schedule, and exactly one job
// (run exactly once) for every occurrence, with no occurrence left out.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue } from 'kyoo';
import { expect } from 'vitest';
import { Scope, waitFor } from './behaviour.js';
import { startWorkerProcess, type WorkerEvent, type WorkerProcess } from './worker-process.js';

const run = promisify(execFile);
const FIXTURE = fileURLToPath(new URL('../fixtures/schedule-process.mjs', import.meta.url));
/** Consecutive occurrences the scenario waits for. */
export const OCCURRENCES = 12;

export async function threeWorkersAndAScheduler(s: Scope): Promise<void> {
  const q = s.track(new Queue(s.name, { connection: s.url }));
  const starts = new Map<string, WorkerEvent[]>();
  const problems: WorkerEvent[] = [];
  const onEvent = (e: WorkerEvent): void => {
    if (e.t === 'start') starts.set(e.id!, [...(starts.get(e.id!) ?? []), e]);
    else if (e.t === 'error' || e.t === 'failed' || e.t === 'dead') problems.push(e);
  };
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < 3; i++) workers.push(startWorkerProcess({ redisUrl: s.url, queue: s.name, concurrency: 2, onEvent }));
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name };
  delete env.NODE_OPTIONS;
  const scheduler = spawn(process.execPath, [FIXTURE], { env: { ...env, KYOO_ROLE: 'scheduler' }, stdio: ['pipe', 'pipe', 'inherit'] });
  s.defer(() => scheduler.exitCode === null && scheduler.kill('SIGKILL'));
  let schedulerOut = '';
  scheduler.stdout.on('data', (b: Buffer) => (schedulerOut += b.toString()));
  await Promise.all(workers.map((w) => w.ready));
  await waitFor(() => schedulerOut.includes('ready'), 10_000, 'the scheduler process');

  // 4 processes x 5 upserts of one spec, all at once
  const spec = JSON.stringify({ cron: '* * * * * *', data: { kind: 'tick' }, missed: 'all' });
  const startAt = String(Date.now() + 1500);
  const outs = await Promise.all(Array.from({ length: 4 }, () =>
    run(process.execPath, [FIXTURE], { env: { ...env, KYOO_ROLE: 'upsert', KYOO_SCHEDULE: 'tick', KYOO_SPEC: spec, KYOO_COUNT: '5', KYOO_START_AT: startAt }, timeout: 30_000 })));
  const outcomes = outs.flatMap((o) => (JSON.parse(o.stdout) as { outcomes: string[] }).outcomes);
  expect(outcomes).toHaveLength(20);
  expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
  expect(outcomes.filter((o) => o === 'unchanged')).toHaveLength(19);

  const tickIds = (): string[] => [...starts.keys()].filter((id) => id.startsWith('tick@'));
  await waitFor(() => tickIds().length >= OCCURRENCES, 30_000, `${OCCURRENCES} occurrences to run`);
  // stop firing, then let every process finish what it holds
  await q.schedules.pause('tick');
  scheduler.stdin.end();
  await once(scheduler, 'exit');
  expect(schedulerOut).toContain('closed');
  await waitFor(async () => (await q.counts()).ready + (await q.counts()).leased === 0, 10_000, 'the last jobs to finish');
  await Promise.all(workers.map((w) => w.close()));

  const info = (await q.schedules.get('tick'))!;
  expect(info.revision).toBe(2); // created once, paused once: the 19 equal upserts changed nothing
  const occurrences = tickIds().map((id) => Number(id.slice('tick@'.length))).sort((a, b) => a - b);
  // one job per occurrence, every second from the first to the last, none left out
  expect(occurrences.length).toBe(info.runs);
  for (let i = 1; i < occurrences.length; i++) expect(occurrences[i]! - occurrences[i - 1]!).toBe(1000);
  // and each ran exactly once, on one of the three workers
  for (const id of tickIds()) expect(starts.get(id)!.map((e) => e.attempt)).toEqual([1]);
  expect(problems).toEqual([]);
}
