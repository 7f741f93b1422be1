// The image-upload demo (DESIGN.md story 1, examples/image-upload, `scripts/demo`) in a short form:
// 200 uploads against the suite's Redis. Every job is done once, every upload gets one notification
// through queue.result(), the figures are printed, and the demo removes its keys.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { adminConnection, redisUrl, scanKeys } from '../support/redis.js';

const run = promisify(execFile);
const JOBS = 200;

it(`the image-upload demo: ${JOBS} uploads, each done once and notified once, with the figures`, async () => {
  const demo = fileURLToPath(new URL('../../examples/image-upload/demo.mjs', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl(), DEMO_JOBS: String(JOBS) };
  delete env.NODE_OPTIONS;
  const running = run(process.execPath, [demo], { env, timeout: 60_000 });
  const pid = running.child.pid;
  const { stdout } = await running; // rejects unless it exits 0

  // the first three notifications in full, then none
  const notices = stdout.match(/^notify u\d+: thumbnails of https:\/\/img\.example\/u\d+\/\d+\.jpg are ready \(64, 128, 256, 512, 1024 px\)(, progress heard up to [1-5]\/5)?, \d+\.\d ms after upload$/gm);
  expect(notices).toHaveLength(3);
  expect(stdout.match(/^notify /gm)).toHaveLength(3);
  // the live line ends with every job done and notified
  const live = stdout.match(/^done +\d+ \/ \d+ +notified +\d+ +ready \d+ +running \d+ +dead \d+$/gm) ?? [];
  expect(live.length).toBeGreaterThan(0);
  expect(live.at(-1)).toMatch(new RegExp(`^done +${JOBS} / ${JOBS} +notified +${JOBS} +ready 0 +running 0 +dead 0$`));

  expect(stdout).toMatch(new RegExp(`^  jobs done +${JOBS} of ${JOBS} \\(0 done twice\\), by 3 worker processes$`, 'm'));
  expect(stdout).toMatch(new RegExp(`^  enqueue latency +p50 \\d+\\.\\d\\d ms +p99 \\d+\\.\\d\\d ms +\\(50 requests in flight, all ${JOBS} added in \\d+ ms\\)$`, 'm'));
  const n = new RegExp(`^  notifications +(\\d+) of ${JOBS} uploads \\((\\d+) notified twice, (\\d+) not notified\\), (\\d+) progress reports heard$`, 'm').exec(stdout);
  expect(n?.slice(1, 4).map(Number)).toEqual([JOBS, 0, 0]);
  // a wait that begins while its job runs hears the latest report first, so not every one of the 5 per job
  const heard = Number(n![4]);
  expect(heard).toBeGreaterThan(0);
  expect(heard).toBeLessThanOrEqual(JOBS * 5);
  const t = /^  upload to notice p50 (\d+\.\d\d) ms +p95 (\d+\.\d\d) ms +p99 (\d+\.\d\d) ms +max (\d+\.\d\d) ms +\(just before add\(\) to result\(\), backlog included\)$/m.exec(stdout);
  const [p50, p95, p99, max] = t!.slice(1).map(Number) as [number, number, number, number];
  expect(p50).toBeGreaterThan(0);
  expect(p95).toBeGreaterThanOrEqual(p50);
  expect(p99).toBeGreaterThanOrEqual(p95);
  expect(max).toBeGreaterThanOrEqual(p99);
  expect(stdout).toMatch(/^  wall time +\d+\.\d\d s$/m);
  expect(stdout).toMatch(new RegExp(`^  left in queue +ready 0, running 0, dead 0 \\(${JOBS} completed kept with their results\\)$`, 'm'));
  expect(stdout).toMatch(/^  result +OK$/m);

  // on a server it did not start, the demo removes its queue's keys
  const admin = adminConnection();
  try {
    expect(await scanKeys(admin, `kyoo:{images-demo-${pid}}:*`)).toEqual([]);
  } finally {
    admin.disconnect();
  }
});
