// The dashboard driven in headless Chromium against real Redis: the dead-letter story done
// entirely in the browser (the DLQ grows live, a group is opened, an error read, the group
// replayed at a limited rate, the jobs complete), search by a data field, pause and resume,
// read-only mode refusing every action, and cross-site writes refused.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'kyoo';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { launchBrowser, serveDashboard, type Browser, type Served } from '../support/browser.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

let s: Scope;
let served: Served | undefined;
beforeEach(() => {
  s = new Scope('dash');
  browser.errors.length = 0;
});
afterEach(async () => {
  // what the pages logged while the test ran (closing the server after cuts their live streams)
  const errors = [...browser.errors];
  for (const page of browser.context.pages()) await page.close();
  await served?.close();
  served = undefined;
  await s.dispose();
  expect(errors).toEqual([]);
});

class SmtpError extends Error {
  override name = 'SmtpError';
}

describe('the dead-letter story, in the browser', () => {
  it('shows the DLQ grow, opens the group, reads an error, replays it at a limited rate and sees the jobs complete', async () => {
    const q = s.track(new Queue<{ to: string; userId: number }>(s.name, { connection: s.url }));
    await q.setPolicy({ keepCompleted: { count: 1000 } });
    served = await serveDashboard({ connection: s.url, queues: [s.name], sampleMs: 250 });
    const page = await browser.page();
    await page.goto(`${served.url}#/q/${s.name}`);
    await page.getByTestId('count-dead').filter({ hasText: /^0$/ }).waitFor();

    // the provider is down: every send fails, three attempts each, then the DLQ
    let providerDown = true;
    s.trackWorker(new Worker<{ to: string; userId: number }>(s.name, async (job) => {
      if (providerDown) throw new SmtpError(`smtp-${job.data.userId % 3}.example.com refused (421)`);
    }, { connection: s.url, concurrency: 10 }));
    await q.addBulk(Array.from({ length: 30 }, (_, i) => ({ data: { to: `user${i}@example.com`, userId: i }, opts: { attempts: 3, backoff: { type: 'fixed', delayMs: 20 } } })));
    // the page was not reloaded: the count comes live
    await page.getByTestId('count-dead').filter({ hasText: /^30$/ }).waitFor({ timeout: 20_000 });

    // the dead-letter queue by error: one group, its message normalised
    await page.goto(`${served.url}#/q/${s.name}/dead`);
    const [group] = await q.dead.groups();
    expect(group).toMatchObject({ name: 'SmtpError', count: 30 });
    const row = page.getByTestId(`dead-group-${group!.fingerprint}`);
    await row.waitFor();
    await expect.poll(() => row.innerText()).toMatch(/smtp-<n>\.example\.com refused/);
    await expect.poll(() => row.innerText()).toMatch(/30/);

    // open the group, then one of its jobs, and read its errors, newest first, with the stack
    await page.getByTestId(`dead-open-${group!.fingerprint}`).click();
    const firstJob = (await q.dead.find({ fingerprint: group!.fingerprint }, { limit: 1 })).jobs[0]!;
    await page.getByTestId(`job-row-${firstJob.id}`).waitFor();
    await page.getByTestId(`job-row-${firstJob.id}`).getByRole('link', { name: firstJob.id, exact: true }).click();
    await page.getByTestId('job-state').filter({ hasText: /dead/i }).waitFor();
    const errors = page.getByTestId('job-errors');
    await expect.poll(() => errors.innerText()).toMatch(/SmtpError/);
    const text = await errors.innerText();
    expect(text).toContain(firstJob.lastError!.message);
    expect((text.match(/SmtpError/g) ?? []).length).toBeGreaterThanOrEqual(3);

    // the provider is back: replay the group at 10 jobs a second
    providerDown = false;
    await page.goto(`${served.url}#/q/${s.name}/dead`);
    await page.getByTestId(`dead-replay-${group!.fingerprint}`).click();
    // the count is shown before anything is done (a dry run), with the rate to replay at
    await expect.poll(() => page.locator('dialog[open]').innerText()).toMatch(/Replay 30 jobs/);
    await page.getByTestId('replay-rate').fill('10');
    await page.getByTestId('confirm').click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await page.getByTestId('redrive-progress').filter({ hasText: /30\s*\/\s*30/ }).waitFor({ timeout: 20_000 });
    await page.goto(`${served.url}#/q/${s.name}`);
    await page.getByTestId('count-completed').filter({ hasText: /^30$/ }).waitFor({ timeout: 20_000 });
    await page.getByTestId('count-dead').filter({ hasText: /^0$/ }).waitFor();

    // the rate held: 30 at 10/s (a burst of at most one batch, then evenly) takes 2 s at least,
    // by the task's own times (Redis's clock)
    const task = (await q.dead.redrive())!;
    expect(task).toMatchObject({ status: 'done', total: 30, replayed: 30 });
    expect(task.finishedAt! - task.createdAt).toBeGreaterThanOrEqual(2000);
    expect(await q.jobs.count('completed')).toBe(30);
  });
});

describe('search', () => {
  it('finds jobs by a field of their data, showing how many it scanned', async () => {
    const q = s.track(new Queue<{ userId: number; url: string }>(s.name, { connection: s.url }));
    const ids = await q.addBulk(Array.from({ length: 300 }, (_, i) => ({ data: { userId: i % 100, url: `https://img.example/${i}.png` } })));
    served = await serveDashboard({ connection: s.url, queues: [s.name] });
    const page = await browser.page();
    await page.goto(`${served.url}#/q/${s.name}/jobs/ready`);
    await page.getByTestId('search-field').fill('userId');
    await page.getByTestId('search-value').fill('42');
    await page.getByTestId('search-submit').click();
    const summary = page.getByTestId('search-summary');
    await expect.poll(() => summary.innerText()).toMatch(/3 match/);
    expect(await summary.innerText()).toMatch(/300/);
    const rows = page.locator('[data-testid^="job-row-"]');
    await expect.poll(() => rows.count()).toBe(3);
    const shown = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('job-row-'.length)));
    expect(shown.sort()).toEqual([ids[42]!, ids[142]!, ids[242]!].sort());
  });
});

describe('pause and resume', () => {
  it('pauses the queue for every worker and resumes it', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.add({ n: 1 });
    served = await serveDashboard({ connection: s.url, queues: [s.name] });
    const page = await browser.page();
    await page.goto(`${served.url}#/q/${s.name}`);
    await page.getByTestId('pause').click();
    await page.getByTestId('paused-badge').waitFor();
    await waitFor(() => q.isPaused(), 5000, 'the queue to be paused');
    await page.getByTestId('resume').click();
    await page.getByTestId('paused-badge').waitFor({ state: 'detached' });
    expect(await q.isPaused()).toBe(false);
  });
});

describe('read-only', () => {
  it('shows no actions and refuses every one, changing nothing', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { delayMs: 3_600_000 });
    served = await serveDashboard({ connection: s.url, queues: [s.name], readOnly: true });
    const page = await browser.page();
    await page.goto(`${served.url}#/q/${s.name}`);
    await page.getByTestId('readonly-badge').waitFor();
    expect(await page.getByTestId('pause').count()).toBe(0);
    await page.goto(`${served.url}#/q/${s.name}/job/${id}`);
    await page.getByTestId('job-state').waitFor();
    expect(await page.locator('[data-testid^="job-action-"]:visible:enabled').count()).toBe(0);
    // the page's own origin, its own fetch: refused all the same, for every action
    const actions = ['pause', 'resume', 'replay', 'retry', 'promote', 'cancel', 'remove', 'purge', 'stop-redrive'];
    const answers = await page.evaluate(async ({ actions, id, queue }) => Promise.all(actions.map(async (action) => {
      const body = ['pause', 'resume', 'stop-redrive'].includes(action) ? { action } : { action, ids: [id] };
      const r = await fetch(`api/queues/${queue}/actions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return [action, r.status, ((await r.json()) as { error: string }).error];
    })), { actions, id, queue: s.name });
    expect(answers).toEqual(actions.map((a) => [a, 403, 'read-only']));
    expect(await q.isPaused()).toBe(false);
    expect((await q.getJob(id))!.state).toBe('delayed');
  });
});

describe('cross-site writes', () => {
  it('refuses a POST from another site, by form or by fetch, and changes nothing', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 });
    served = await serveDashboard({ connection: s.url, queues: [s.name] });
    const target = `${served.url}api/queues/${s.name}/actions`;
    // another site, on another port: a form that posts on its own, and a fetch
    const evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><form id=f method=POST action="${target}" enctype="text/plain"><input name='{"action":"pause","x":"' value='"}'></form>
        <script>fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ action: 'cancel', ids: [${JSON.stringify(id)}] }) }).finally(() => document.getElementById('f').submit())</script>`);
    });
    evil.listen(0, '127.0.0.1');
    await new Promise<void>((r) => evil.once('listening', r));
    try {
      const page = await browser.page();
      const answered = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST' && r.request().resourceType() === 'document');
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      const response = await answered;
      expect(response.status()).toBe(403);
      expect(await response.text()).toMatch(/cross-site/);
    } finally {
      evil.closeAllConnections();
      await new Promise((r) => evil.close(r));
    }
    expect(await q.isPaused()).toBe(false);
    expect((await q.getJob(id))!.state).toBe('ready');
    // and a request that says it comes from elsewhere, with JSON, is refused too
    const r = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ action: 'pause' }) });
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: 'cross-site' });
    // the same request from no browser at all (no Origin, no Sec-Fetch-Site) is the operator's script: allowed
    const ok = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'pause' }) });
    expect(ok.status).toBe(200);
    expect(await q.isPaused()).toBe(true);
  });
});
