// `kyoo stats` with groups, run as an operator would: the queues table counts each queue's
// groups, and for one queue the groups with the most jobs waiting follow, with their running
// jobs; `--groups 0` leaves them out.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

let s: Scope;
beforeEach(() => {
  s = new Scope('cli-groups');
});
afterEach(async () => {
  await s.dispose();
});

function kyoo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  s.defer(() => child.exitCode === null && child.kill('SIGKILL'));
  return new Promise((r) => child.once('close', (code) => r({ code, stdout, stderr })));
}

it('kyoo stats shows the groups with the most jobs waiting, and how many run', async () => {
  const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
  const sizes: Record<string, number> = { 'tenant:a': 30, 'tenant:b': 5, 'tenant:c': 12 };
  for (const [group, n] of Object.entries(sizes)) await q.addBulk(Array.from({ length: n }, (_, i) => ({ data: { n: i }, opts: { group } })));
  // one job of tenant:c runs (and holds there) while the stats are read
  const running = deferred();
  const hold = deferred();
  s.defer(() => hold.resolve());
  const w = s.trackWorker(new Worker<{ n: number }>(s.name, async () => {
    running.resolve();
    await hold.promise;
  }, { connection: s.url, concurrency: 1 }));
  await running.promise;
  await q.pause();
  await waitFor(async () => (await q.counts()).leased === 1, 5000, 'one job running');

  const json = await kyoo(['stats', s.name, '--json', '--groups', '2']);
  expect(json.code, json.stderr).toBe(0);
  const stats = JSON.parse(json.stdout) as { counts: { ready: number; leased: number }; groups: { count: number; top: { group: string; waiting: number; running: number }[] } };
  expect(stats.counts).toMatchObject({ ready: 46, leased: 1 });
  expect(stats.groups.count).toBe(3);
  const ranOne = (await q.groups.get('tenant:a')).running === 1 ? 'tenant:a' : (await q.groups.get('tenant:b')).running === 1 ? 'tenant:b' : 'tenant:c';
  const waiting = (g: string): number => sizes[g]! - (g === ranOne ? 1 : 0);
  const expected = Object.keys(sizes).map((g) => ({ group: g, waiting: waiting(g), running: g === ranOne ? 1 : 0 }))
    .sort((a, b) => b.waiting - a.waiting).slice(0, 2);
  expect(stats.groups.top).toEqual(expected);

  const table = await kyoo(['stats', s.name]);
  expect(table.code, table.stderr).toBe(0);
  expect(table.stdout).toMatch(/GROUPS/);
  expect(table.stdout).toMatch(/GROUP\s+WAITING\s+RUNNING/);
  for (const g of Object.keys(sizes)) expect(table.stdout).toMatch(new RegExp(`${g}\\s+${waiting(g)}\\s+${g === ranOne ? 1 : 0}`));

  const none = await kyoo(['stats', s.name, '--groups', '0']);
  expect(none.stdout).not.toMatch(/GROUP\s+WAITING/);
  hold.resolve();
  await w.close();
});
