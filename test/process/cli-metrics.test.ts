// `kyoo metrics`, run as an operator would: the exposition once (and as JSON), and served on
// /metrics until Ctrl-C, checked by promtool; a queue that does not exist is exit 3.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ensurePromtool } from '../../scripts/lib/promtool.mjs';
import { Scope, waitFor } from '../support/behaviour.js';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

let s: Scope;
beforeEach(() => {
  s = new Scope('cli-metrics');
});
afterEach(async () => {
  await s.dispose();
});

function kyoo(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  s.defer(() => child.exitCode === null && child.kill('SIGKILL'));
  return { child, done: new Promise((r) => child.once('close', (code) => r({ code, stdout, stderr }))), stderr: () => stderr };
}

it('kyoo metrics: once, as JSON, and served on /metrics until Ctrl-C', async () => {
  const q = s.track(new Queue(s.name, { connection: s.url }));
  await q.addBulk(Array.from({ length: 12 }, (_, n) => ({ data: { n } })));
  const w = new Worker(s.name, async () => undefined, { connection: s.url, concurrency: 4 });
  await waitFor(async () => (await q.metrics()).counters.completed === 12, 10_000, 'the jobs to complete');
  await w.close();

  const once_ = await kyoo(['metrics', s.name]).done;
  expect(once_.code, once_.stderr).toBe(0);
  expect(once_.stdout).toContain(`kyoo_job_attempts_total{queue="${s.name}",outcome="completed"} 12`);
  const check = spawnSync(ensurePromtool(), ['check', 'metrics'], { input: once_.stdout });
  expect(String(check.stdout) + String(check.stderr)).toBe('');
  expect(check.status).toBe(0);

  const asJson = await kyoo(['metrics', s.name, '--json']).done;
  expect(asJson.code).toBe(0);
  expect(JSON.parse(asJson.stdout)).toMatchObject({ queue: s.name, counters: { completed: 12, added: 12 } });

  expect((await kyoo(['metrics', `${s.name}-missing`]).done).code).toBe(3);

  const served = kyoo(['metrics', s.name, '--port', '0']);
  await waitFor(() => /serving the metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(served.stderr()), 10_000, 'the server to listen');
  const url = /(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(served.stderr())![1]!;
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  expect(text).toContain(`kyoo_job_processing_seconds_count{queue="${s.name}"} 12`);
  expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
  served.child.kill('SIGINT');
  const [code] = (await once(served.child, 'close')) as [number | null];
  expect(code).toBe(0);
});
