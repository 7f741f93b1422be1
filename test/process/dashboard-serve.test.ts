// The dashboard served as users serve it, each in its own process: the README's examples for
// node:http, Express and Hono (mounted under /kyoo), and `kyoo dashboard --port 0`. Each serves
// the page and its files under the mount path, answers the API for a real queue, and applies
// its own safety choice (an authorize hook, read-only, or none).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope } from '../support/behaviour.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}packages/cli/dist/bin.js`;

let s: Scope;
let q: Queue;
beforeEach(async () => {
  s = new Scope('dash-serve');
  q = s.track(new Queue(s.name, { connection: s.url }));
  await q.add({ hello: 'world' });
});
afterEach(async () => {
  await s.dispose();
});

/** Starts `args` with node and resolves with the URL it prints (`http://...`). */
async function start(args: string[], env: Record<string, string> = {}): Promise<string> {
  return (await startChild(args, env)).url;
}

async function startChild(args: string[], env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, REDIS_URL: s.url, PORT: '0', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  s.defer(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(out);
      if (m) resolve({ url: m[1]!.replace(/[;,]$/, ''), child });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it served: ${out}${err}`)));
  });
}

/** Checks that `base` (ending in /) serves the page, its script, and the API with the test's queue. */
async function servesTheDashboard(base: string): Promise<void> {
  const page = await fetch(base);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain("'assets/app.js'");
  expect(html).not.toMatch(/(src|href)=["']https?:/); // nothing from elsewhere
  expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  const js = await fetch(`${base}assets/app.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toMatch(/javascript/);
  const overview = (await (await fetch(`${base}api/overview`)).json()) as { queues: { name: string; counts: { ready: number } }[] };
  expect(overview.queues.find((x) => x.name === s.name)?.counts.ready).toBe(1);
  // the mount path without its slash still reaches the page (which then redirects itself)
  const bare = await fetch(base.replace(/\/$/, ''));
  expect(bare.status).toBe(200);
}

/** Bytes (gzip, as the server sends them) of the page and everything it loads. */
async function firstPageBytes(base: string): Promise<{ files: number; gzip: number }> {
  const seen = new Set<string>();
  let gzip = 0;
  const load = async (path: string): Promise<string> => {
    const r = await fetch(`${base}${path}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(r.status, path).toBe(200);
    expect(r.headers.get('content-encoding'), path).toBe('gzip');
    gzip += Number(r.headers.get('content-length'));
    return r.text();
  };
  const walk = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const js = await load(`assets/${file}`);
    for (const m of js.matchAll(/(?:from|import)\s*\(?\s*['"]\.\/([\w-]+\.js)['"]/g)) await walk(m[1]!);
  };
  await load('');
  await load('assets/app.css');
  await walk('app.js');
  return { files: seen.size + 2, gzip };
}

const pause = (base: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${base}api/queues/${s.name}/actions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ action: 'pause' }) });

describe('the README examples', () => {
  it('node:http, with an authorize hook: anyone may look, only the admin may act', async () => {
    const base = await start(['examples/dashboard/node-http.mjs'], { ADMIN_TOKEN: 'sesame' });
    expect(base).toMatch(/\/kyoo\/$/);
    await servesTheDashboard(base);
    const refused = await pause(base);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'forbidden' });
    expect(await q.isPaused()).toBe(false);
    expect((await pause(base, { authorization: 'Bearer sesame' })).status).toBe(200);
    expect(await q.isPaused()).toBe(true);
  });

  it('Express, read-only', async () => {
    const base = await start(['examples/dashboard/express.mjs']);
    await servesTheDashboard(base);
    const refused = await pause(base);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'read-only' });
    expect(await q.isPaused()).toBe(false);
  });

  it('Hono, with the fetch handler', async () => {
    const base = await start(['examples/dashboard/hono.mjs']);
    await servesTheDashboard(base);
    expect((await pause(base)).status).toBe(200);
    expect(await q.isPaused()).toBe(true);
  });
});

describe('kyoo dashboard', () => {
  it('serves on 127.0.0.1, read-only when asked, and stops on SIGTERM', async () => {
    const { url: base, child } = await startChild([BIN, 'dashboard', '--port', '0', '--read-only', '--queue', s.name]);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await servesTheDashboard(base);
    expect((await pause(base)).status).toBe(403);
    const other = await fetch(`${base}api/queues/not-this-one`);
    expect(other.status).toBe(404);
    // the first page, everything it loads (the page, its stylesheet, app.js and any module it
    // imports), compressed as served: app.js is one bundle, so three requests in all
    const sizes = await firstPageBytes(base);
    expect(sizes.files).toBe(3);
    expect(sizes.gzip).toBeLessThan(100 * 1024);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
