// The `kyoo` command as an operator uses it, run as a subprocess (the built binary) against a
// real Redis, through the dead-letter story: the mail provider is down, jobs die; the DLQ's size
// in stats; a filtered list; one dead job; its groups; a dry run; refusals without --yes; a
// replay of one group at a limited rate, interrupted by Ctrl-C and resumed, replaying nothing
// twice (not even the jobs it replayed that died again); a purge of the poison; then, with the
// provider back, every other job completes. Also: --json everywhere, --help on every command,
// and the documented exit codes.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Queue, type DeadLetterGroup, type QueueStats, type RedriveTask } from 'kyoo';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../fixtures/flaky-worker.mjs', import.meta.url));
const SMTP = 24;
const TIMEOUTS = 6;
const BAD = 2;

let s: Scope;
let q: Queue;
let worker: ChildProcess;
const switchKey = (): string => `test:{${s.name}}:provider`;

beforeAll(async () => {
  s = new Scope('cli');
  q = s.track(new Queue(s.name, { connection: s.url }));
  await q.setPolicy({ keepCompleted: true, eventsMaxLen: 1_000_000 });
  await s.admin.set(switchKey(), 'down');
  s.defer(() => s.admin.del(switchKey()));
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name, SWITCH_KEY: switchKey() };
  delete env.NODE_OPTIONS;
  worker = fork(WORKER, [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  s.defer(async () => {
    if (worker.exitCode !== null || worker.signalCode !== null) return;
    worker.kill('SIGTERM');
    await once(worker, 'exit');
  });
  await once(worker, 'message');
});
afterAll(async () => {
  await s.dispose();
});

interface Run { code: number | null; stdout: string; stderr: string }

/** Starts `kyoo <args>` with stdin a closed pipe (not a terminal), as a script would. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<Run> } {
  const e: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, ...env };
  delete e.NODE_OPTIONS;
  const child = spawn(process.execPath, [BIN, ...args], { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  s.defer(() => child.exitCode === null && child.kill('SIGKILL'));
  return { child, done };
}
const kyoo = (...args: string[]): Promise<Run> => start(args).done;

/** Runs `kyoo <args> --json`, expects `code`, and parses stdout. */
async function json<T>(code: number, ...args: string[]): Promise<T> {
  const r = await kyoo(...args, '--json');
  expect(r.code, `kyoo ${args.join(' ')}: ${r.stderr}`).toBe(code);
  return JSON.parse(r.stdout) as T;
}

/** How many times the stream says each job was replayed. */
async function replays(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const entries = (await s.admin.xrange(s.keys.events, '-', '+')) as [string, string[]][];
  for (const [, fields] of entries) {
    const f = Object.fromEntries(fields.flatMap((v, i) => (i % 2 === 0 ? [[v, fields[i + 1]]] : [])));
    if (f.e === 'replayed') for (const id of String(f.j).split('\n')) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/** Runs `fn` over `items`, `width` at a time (each is a node process: the machine may have 2 cores). */
async function pooled<T>(items: readonly T[], fn: (item: T) => Promise<void>, width = 3): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

const settled = async (dead: number, completed: number): Promise<boolean> => {
  const c = await q.counts();
  return c.ready === 0 && c.delayed === 0 && c.leased === 0 && c.dead === dead && c.completed === completed;
};

it('plays the dead-letter story as an operator, with the exit codes documented', async () => {
  const add = (kind: string, n: number) => ({ data: { kind, n, to: `${kind}-${n}@example.com` }, opts: { attempts: 2, backoff: { type: 'fixed' as const, delayMs: 20, jitter: 0 } } });
  const ids = await q.addBulk([
    ...Array.from({ length: SMTP }, (_, n) => add('smtp', n)),
    ...Array.from({ length: TIMEOUTS }, (_, n) => add('timeout', n)),
    ...Array.from({ length: BAD }, (_, n) => add('bad', n)),
  ]);
  const smtpIds = ids.slice(0, SMTP);
  const badIds = ids.slice(SMTP + TIMEOUTS);
  await waitFor(() => settled(SMTP + TIMEOUTS + BAD, 0), 20_000, 'every job to die while the provider is down');

  // the DLQ's size, as the team watches it
  const queues = await json<string[]>(0, 'queues');
  expect(queues).toContain(s.name);
  const stats = await json<QueueStats & { queue: string }>(0, 'stats', s.name, '--redis', s.url);
  expect(stats).toMatchObject({ queue: s.name, counts: { ready: 0, dead: 32, leased: 0, paused: false }, oldestWaiting: null, recent: { dead: 32, completed: 0 } });
  const all = await json<{ queue: string }[]>(0, 'stats');
  expect(all.map((r) => r.queue)).toContain(s.name);
  const table = await kyoo('stats', s.name);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(new RegExp(`^QUEUE +READY +DELAYED +LEASED +DEAD .*\\n${s.name} +0 +0 +0 +32 `));
  expect(table.stdout).not.toMatch(/\x1b\[/); // not a terminal: no colour

  // what went wrong, grouped
  const groups = await json<DeadLetterGroup[]>(0, 'dlq', 'groups', s.name);
  expect(groups.map((g) => [g.name, g.message, g.frame, g.count])).toEqual([
    ['SmtpError', 'smtp-<n>.example.com refused the connection (<n>)', 'sendMail (flaky-worker.mjs)', SMTP],
    ['TimeoutError', 'lookup of user <n> timed out after <n> ms', 'lookupUser (flaky-worker.mjs)', TIMEOUTS],
    ['TypeError', "Cannot read properties of undefined (reading <str>)", 'render (flaky-worker.mjs)', BAD],
  ]);
  const [smtpGroup, , badGroup] = groups as [DeadLetterGroup, DeadLetterGroup, DeadLetterGroup];

  // a filtered list, in pages, and one job in full
  const timeouts = await json<{ jobs: { id: string; lastError: { name: string } }[] }>(0, 'dlq', 'list', s.name, '--error-name', 'TimeoutError');
  expect(timeouts.jobs).toHaveLength(TIMEOUTS);
  expect(new Set(timeouts.jobs.map((j) => j.lastError.name))).toEqual(new Set(['TimeoutError']));
  const host1 = await json<{ jobs: { id: string }[] }>(0, 'dlq', 'list', s.name, '--message-regex', '/SMTP-1\\./i', '--limit', '100');
  // listed by time of death; at concurrency 4 jobs die in no fixed order of their ids
  expect(host1.jobs.map((j) => j.id).sort()).toEqual(smtpIds.filter((_, n) => n % 3 === 1).sort());
  const page1 = await json<{ jobs: { id: string }[]; cursor: string }>(0, 'dlq', 'list', s.name, '--group', smtpGroup.fingerprint, '--limit', '10');
  const page2 = await json<{ jobs: { id: string }[]; cursor?: string }>(0, 'dlq', 'list', s.name, '--group', smtpGroup.fingerprint, '--limit', '20', '--cursor', page1.cursor);
  expect([...page1.jobs, ...page2.jobs].map((j) => j.id).sort()).toEqual([...smtpIds].sort());
  expect(page2.cursor).toBeUndefined();
  const text = await kyoo('dlq', 'list', s.name, '--older-than', '1h');
  expect(text).toMatchObject({ code: 0, stdout: '' });
  expect(text.stderr).toMatch(/no dead jobs of .* match/);

  const shown = await json<{ id: string; state: string; attemptsMade: number; errors: unknown[]; fingerprint: string; data: unknown }>(0, 'dlq', 'show', s.name, smtpIds[4]!);
  expect(shown).toMatchObject({ id: smtpIds[4], state: 'dead', attemptsMade: 2, fingerprint: smtpGroup.fingerprint, data: { kind: 'smtp', n: 4 } });
  expect(shown.errors).toHaveLength(2);
  const shownText = await kyoo('dlq', 'show', s.name, smtpIds[4]!);
  expect(shownText.stdout).toMatch(/errors \(2, oldest first\)/);
  expect(shownText.stdout).toMatch(/at sendMail \(.*flaky-worker\.mjs:\d+:\d+\)/);
  expect(await json<{ state: string }>(0, 'job', s.name, badIds[0]!)).toMatchObject({ state: 'dead' });

  // a dry run, and destructive commands without --yes off a terminal: nothing changes
  const dry = await json<{ dryRun: boolean; matched: number; ids: string[] }>(0, 'dlq', 'replay', s.name, '--group', smtpGroup.fingerprint, '--dry-run');
  expect(dry).toMatchObject({ dryRun: true, matched: SMTP });
  expect(dry.ids.sort()).toEqual([...smtpIds].sort());
  for (const args of [['dlq', 'replay', s.name, '--group', smtpGroup.fingerprint], ['dlq', 'purge', s.name, '--group', badGroup.fingerprint], ['dlq', 'purge', s.name, '--all']]) {
    const refused = await kyoo(...args);
    expect(refused.code, args.join(' ')).toBe(2);
    expect(refused.stderr).toMatch(/refusing to .* without --yes .* nothing was changed/);
  }
  expect(await q.counts()).toMatchObject({ dead: 32, ready: 0 });
  expect(await q.dead.redrive()).toBeNull();

  // replay the SMTP group at 8 a second; Ctrl-C once a few are back (the provider is still down: they die again)
  const run = start(['dlq', 'replay', s.name, '--group', smtpGroup.fingerprint, '--rate', '8', '--yes']);
  await waitFor(async () => ((await q.dead.redrive())?.replayed ?? 0) >= 6, 10_000, 'the replay to get going');
  run.child.kill('SIGINT');
  const stopped = await run.done;
  expect(stopped.code, stopped.stderr).toBe(4);
  expect(stopped.stderr).toMatch(new RegExp(`interrupted: \\d+ jobs left .*kyoo dlq replay ${s.name} --resume`));
  const paused = (await q.dead.redrive())!;
  expect(paused).toMatchObject({ status: 'active', total: SMTP, skipped: 0 });
  expect(paused.left).toBeGreaterThan(0);
  expect(paused.replayed + paused.left).toBe(SMTP);
  const firstRun = [...(await replays()).keys()];
  expect(firstRun).toHaveLength(paused.replayed);
  await waitFor(() => settled(32, 0), 20_000, 'the replayed jobs to die again');

  // the provider is back; the resumed task replays the rest, and not the ones that died again
  await s.admin.set(switchKey(), 'up');
  const resumed = await json<{ task: RedriveTask; interrupted: boolean }>(0, 'dlq', 'replay', s.name, '--resume', '--yes');
  expect(resumed).toMatchObject({ interrupted: false, task: { id: paused.id, status: 'done', total: SMTP, replayed: SMTP, skipped: 0, left: 0 } });
  const rest = SMTP - firstRun.length;
  await waitFor(() => settled(32 - rest, rest), 20_000, 'the resumed jobs to complete');
  const counted = await replays();
  expect(counted.size).toBe(SMTP);
  expect([...counted.values()].every((n) => n === 1)).toBe(true);
  for (const id of firstRun) expect((await q.getJob(id))?.state, `job ${id}, replayed before the interruption`).toBe('dead');
  expect(await json<RedriveTask>(0, 'dlq', 'task', s.name)).toMatchObject({ status: 'done', replayed: SMTP });

  // the poison goes: one by id (with an id that is not there: partial), then the group
  const partial = await json<{ done: string[] }>(4, 'dlq', 'purge', s.name, '--id', `${badIds[0]},no-such-job`, '--yes');
  expect(partial.done).toEqual([badIds[0]]);
  expect(await json<{ done: string[] }>(0, 'dlq', 'purge', s.name, '--group', badGroup.fingerprint, '--yes')).toMatchObject({ done: [badIds[1]] });
  expect(await q.getJob(badIds[0]!)).toBeNull();

  // and everything else is replayed and completes
  const last = await json<{ task: RedriveTask }>(0, 'dlq', 'replay', s.name, '--all', '--yes');
  expect(last.task).toMatchObject({ status: 'done', total: firstRun.length + TIMEOUTS, replayed: firstRun.length + TIMEOUTS });
  await waitFor(() => settled(0, SMTP + TIMEOUTS), 20_000, 'every job to complete');
  for (const id of ids.slice(0, SMTP + TIMEOUTS)) expect((await q.getJob(id))?.state).toBe('completed');

  // tail from the start: NDJSON, one event a line
  const tail = await kyoo('tail', s.name, '--from', '0', '--type', 'completed', '--max', '5', '--json');
  expect(tail.code).toBe(0);
  const events = tail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; jobId: string; id: string });
  expect(events).toHaveLength(5);
  expect(events.every((e) => e.type === 'completed' && ids.includes(e.jobId))).toBe(true);
  const next = await kyoo('tail', s.name, '--from', events[4]!.id, '--max', '1', '--json');
  expect((JSON.parse(next.stdout) as { id: string }).id).not.toBe(events[4]!.id);

  // pause and resume, schedules
  expect(await json(0, 'pause', s.name)).toEqual({ queue: s.name, paused: true });
  expect(await json(0, 'stats', s.name)).toMatchObject({ counts: { paused: true } });
  expect(await json(0, 'resume', s.name)).toEqual({ queue: s.name, paused: false });
  await q.schedules.upsert('digest', { cron: '0 3 * * *', tz: 'UTC', data: { kind: 'timeout', n: 0, to: 'x' } });
  expect(await json(0, 'schedules', s.name)).toMatchObject([{ id: 'digest', cron: '0 3 * * *', paused: false }]);
}, 120_000);

it('documents and keeps its exit codes, and has --help on every command', async () => {
  const commands = ['queues', 'stats', 'dlq list', 'dlq show', 'dlq groups', 'dlq replay', 'dlq purge', 'dlq task', 'job', 'pause', 'resume', 'tail', 'schedules'];
  await pooled(commands, async (c) => {
    const r = await kyoo(...c.split(' '), '--help');
    expect(r.code, c).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: kyoo ${c}`));
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 partial success/);
  });
  expect((await kyoo('--help')).stdout).toMatch(/dlq replay/);
  const usage: string[][] = [[], ['frobnicate'], ['dlq'], ['dlq', 'list'], ['dlq', 'list', s.name, '--limit', '0'], ['dlq', 'list', s.name, '--older-than', '5'],
    ['dlq', 'list', s.name, '--bogus'], ['dlq', 'list', s.name, '--group', 'not-hex'], ['dlq', 'replay', s.name, '--yes'], ['dlq', 'list', s.name, '--message-regex', '(']];
  await pooled(usage, async (args) => expect((await kyoo(...args)).code, args.join(' ')).toBe(2));
  expect((await kyoo('dlq', 'list', s.name, '--group', 'not-hex')).stderr).toMatch(/--group: expected 12 hex characters/);
  // the story left a done redrive task; dropped, there is none to show or resume
  expect(await json(0, 'dlq', 'task', s.name, '--drop')).toMatchObject({ dropped: { status: 'done' } });
  const notFound: string[][] = [['stats', `${s.name}-nope`], ['job', s.name, 'nope'], ['dlq', 'show', s.name, 'nope'], ['pause', `${s.name}-nope`],
    ['dlq', 'replay', s.name, '--resume'], ['dlq', 'task', s.name]];
  await pooled(notFound, async (args) => expect((await kyoo(...args)).code, args.join(' ')).toBe(3));
  const down = await kyoo('stats', '--redis', 'redis://127.0.0.1:1');
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
}, 60_000);
