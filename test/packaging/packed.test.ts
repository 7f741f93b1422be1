// The packages as a user gets them: every workspace package is packed with
// `pnpm pack`, the tarballs are installed with npm into a fresh app, the
// README's quick start runs there against real Redis, and a typed consumer
// compiles with `tsc --strict` and without `skipLibCheck` (so every published
// `.d.ts`, and every type it imports, must resolve from declared dependencies).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PACKAGES = ['core', 'client', 'worker', 'kyoo', 'dashboard', 'cli'];
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

let app: string;
let server: RedisServer;
let tarballs: Record<string, string>;

beforeAll(async () => {
  server = await startRedis();
  app = mkdtempSync(join(tmpdir(), 'kyoo-consumer-'));
  const packs = join(app, 'tarballs');
  tarballs = {};
  for (const p of PACKAGES) {
    const dir = join(root, 'packages', p);
    const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string };
    const before = new Set(existsSync(packs) ? readdirSync(packs) : []);
    await run('pnpm', ['pack', '--pack-destination', packs], { cwd: dir });
    const made = readdirSync(packs).filter((f) => !before.has(f));
    expect(made, `pnpm pack of ${name}`).toHaveLength(1);
    tarballs[name] = `file:./tarballs/${made[0]}`;
  }
  // the tarballs depend on each other by version; overrides point those at the tarballs too
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'consumer', private: true, type: 'module',
    dependencies: { ...tarballs, '@types/node': '^20.19.0' },
    overrides: tarballs,
  }, null, 2));
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, timeout: 240_000 });
}, 300_000);

afterAll(async () => {
  await server?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

test('every tarball carries dist, a README and a LICENSE, and no @internal declarations', async () => {
  expect(Object.keys(tarballs).sort()).toEqual(['@kyoo/cli', '@kyoo/client', '@kyoo/core', '@kyoo/dashboard', '@kyoo/worker', 'kyoo']);
  for (const name of Object.keys(tarballs)) {
    const dir = join(app, 'node_modules', name);
    const files = readdirSync(dir);
    expect(files, name).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist']));
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) expect(range, `${name} -> ${dep}`).not.toMatch(/^workspace:/);
    for (const f of readdirSync(join(dir, 'dist')).filter((f) => f.endsWith('.d.ts'))) {
      if (name === '@kyoo/cli') break; // a command, not a library: its declarations are not public
      expect(readFileSync(join(dir, 'dist', f), 'utf8'), `${name}/dist/${f}`).not.toContain('@internal');
    }
  }
});

test('the kyoo command is installed as a bin and talks to Redis', async () => {
  const bin = join(app, 'node_modules', '.bin', 'kyoo');
  const { stdout: help } = await run(bin, ['--help'], { cwd: app, timeout: 30_000 });
  expect(help).toMatch(/^Usage: kyoo <command>/);
  const { stdout } = await run(bin, ['queues', '--json', '--redis', server.url], { cwd: app, timeout: 30_000 });
  expect(JSON.parse(stdout)).toEqual(expect.any(Array));
});

test('the installed dashboard serves its prebuilt page and its API, with nothing fetched from elsewhere', async () => {
  writeFileSync(join(app, 'dashboard.mjs'), `
import { createServer } from 'node:http';
import { createDashboard } from '@kyoo/dashboard';
const dashboard = createDashboard({ connection: process.env.REDIS_URL });
const server = createServer(dashboard.node).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const base = 'http://127.0.0.1:' + server.address().port + '/';
const html = await (await fetch(base)).text();
const js = await fetch(base + 'assets/app.js', { headers: { 'accept-encoding': 'gzip' } });
console.log('page', html.includes('assets/app.js'), /(src|href)=["']https?:/.test(html));
console.log('script', js.status, js.headers.get('content-encoding'));
console.log('overview', JSON.stringify(Object.keys(await (await fetch(base + 'api/overview')).json())));
server.close();
await dashboard.close();
`);
  const { stdout } = await run(process.execPath, ['dashboard.mjs'], { cwd: app, env: { ...process.env, REDIS_URL: server.url }, timeout: 30_000 });
  expect(stdout).toMatch(/^page true false$/m);
  expect(stdout).toMatch(/^script 200 gzip$/m);
  expect(stdout).toMatch(/^overview \["at","readOnly","queues"\]$/m);
});

test('the README quick start runs from the installed packages', async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const code = readme.match(/<!-- example: quickstart -->\n```js\n([\s\S]*?)```/)?.[1];
  expect(code).toContain("from 'kyoo'");
  writeFileSync(join(app, 'quickstart.mjs'), code!);
  const { stdout } = await run(process.execPath, ['quickstart.mjs'], { cwd: app, env: { ...process.env, REDIS_URL: server.url }, timeout: 30_000 });
  expect(stdout).toMatch(/^added job 1$/m);
  expect(stdout).toMatch(/job 1 done: \{"sizes":5\}/);
});

test('a strict TypeScript consumer compiles without skipLibCheck and runs', async () => {
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
      exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false,
      types: ['node'], outDir: 'out',
    },
    files: ['consumer.ts'],
  }));
  writeFileSync(join(app, 'consumer.ts'), `
import { Queue, InvalidOptionError, type JobInfo } from '@kyoo/client';
import { Worker, type Job } from '@kyoo/worker';
import * as kyoo from 'kyoo';
import { createDashboard, type Dashboard, type QueueSummary } from '@kyoo/dashboard';

interface Upload { imageUrl: string; userId: number }
const connection = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const queue = new Queue<Upload>('typed-consumer', { connection });
try {
  await queue.add({ imageUrl: 'x', userId: 1 }, { attempts: 0 });
} catch (err) {
  if (!(err instanceof InvalidOptionError)) throw err;
  console.log('refused', err.option);
}
const id: string = await queue.add({ imageUrl: 'https://example.com/a.png', userId: 5 });
const info: JobInfo<Upload> | null = await queue.getJob(id);
console.log('state', info?.state, info?.data?.imageUrl);
const done = new Promise<number>((resolve) => {
  const worker = new Worker<Upload, { sizes: number }>('typed-consumer', async (job: Job<Upload>) => ({ sizes: job.data.userId }), { connection });
  worker.on('completed', (_job, result) => {
    void worker.close().then(() => resolve(result.sizes));
  });
});
console.log('sizes', await done);
console.log('same class', kyoo.Queue === Queue);
const dashboard: Dashboard = createDashboard({ connection, readOnly: true, authorize: (_req, action) => action.name === 'view' });
const summary: QueueSummary['counts'] | undefined = undefined;
console.log('dashboard', typeof dashboard.fetch, summary === undefined);
await dashboard.close();
await queue.close();
`);
  await run(process.execPath, [tsc, '-p', '.'], { cwd: app, timeout: 120_000 }).catch((err: { stdout?: string }) => {
    throw new Error(`tsc failed:\n${err.stdout ?? String(err)}`);
  });
  const { stdout } = await run(process.execPath, ['out/consumer.js'], { cwd: app, env: { ...process.env, REDIS_URL: server.url }, timeout: 30_000 });
  expect(stdout).toMatch(/^refused attempts$/m);
  expect(stdout).toMatch(/^state ready https:\/\/example.com\/a.png$/m);
  expect(stdout).toMatch(/^sizes 5$/m);
  expect(stdout).toMatch(/^same class true$/m);
  expect(stdout).toMatch(/^dashboard function true$/m);
});
