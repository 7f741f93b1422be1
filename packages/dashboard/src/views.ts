import type { RedisConnection } from '@kyoo/core';
import { type JobInfo, type JobQuery, type JobState, type Queue, type RedriveTask, type ScheduleInfo } from '@kyoo/client';
import type { DeadGroups, GroupsPage, JobDetail, JobPage, JobRow, ListState, QueueDetail, RedriveProgress, ScheduleRow, Selection, TimelineEntry, WorkersPage } from './api-types.js';
import { HttpError } from './http.js';
import { jsonSafe } from './json.js';

/** The read side of the API: each view a few commands, none whose cost grows with the queue. */

const STATES: readonly ListState[] = ['ready', 'delayed', 'leased', 'completed', 'dead', 'cancelled'];
const PREVIEW = 160;
/** The dead-letter groups cover the newest this many dead jobs. */
export const DEAD_GROUPS_SCAN = 10_000;

export function checkState(s: string | null): ListState {
  if (s === null) return 'ready';
  if (!(STATES as readonly string[]).includes(s)) throw new HttpError(400, 'bad-request', `state must be one of ${STATES.join(', ')}`);
  return s as ListState;
}

/** A selection from a query string (`state`, `id`, `field`, `value`, `text`, `error`, `fingerprint`). */
export function selectionOf(q: URLSearchParams): Selection {
  const sel: Selection = { state: checkState(q.get('state')) };
  for (const k of ['id', 'field', 'value', 'text', 'error', 'fingerprint'] as const) {
    const v = q.get(k);
    if (v !== null && (v !== '' || k === 'value')) sel[k] = v;
  }
  if (sel.field === undefined) delete sel.value;
  return sel;
}

/** The library query of a selection (`null` when it selects every job of its state). */
export function queryOf(sel: Selection): JobQuery | null {
  const q: JobQuery = {};
  if (sel.field !== undefined) [q.field, q.value] = [sel.field, sel.value ?? ''];
  if (sel.text !== undefined) q.text = sel.text;
  if (sel.error !== undefined) q.error = sel.error;
  if (sel.fingerprint !== undefined) q.fingerprint = sel.fingerprint;
  return Object.keys(q).length === 0 ? null : q;
}

export async function queueDetail(redis: RedisConnection, queue: Queue, summary: Omit<QueueDetail, 'at' | 'readOnly' | 'groupCount' | 'scheduleCount' | 'policy' | 'redrive'>, readOnly: boolean, redrive: RedriveProgress | null): Promise<QueueDetail> {
  const [groupCount, schedules, policy] = await Promise.all([queue.groups.count(), redis.hlen(queue.keys.schedules), queue.getPolicy()]);
  return { ...summary, at: Date.now(), readOnly, groupCount, scheduleCount: schedules, policy: jsonSafe(policy) as Record<string, unknown>, redrive };
}

export async function jobPage(queue: Queue, q: URLSearchParams): Promise<JobPage> {
  const sel = selectionOf(q);
  const limit = intParam(q, 'limit', 50, 1, 200);
  if (sel.id !== undefined) {
    // by id: one read, whatever the state
    const job = await queue.getJob(sel.id);
    const total = await queue.jobs.count(sel.state);
    const jobs = job && job.state === sel.state ? [row(job)] : [];
    return { state: sel.state, total, jobs, scanned: jobs.length, scanLimit: 1, matched: jobs.length };
  }
  const query = queryOf(sel);
  if (query === null) {
    const offset = intParam(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const page = await queue.jobs.list(sel.state, { offset, limit });
    return { state: sel.state, total: page.total, jobs: page.jobs.map(row), offset, limit };
  }
  const scanLimit = intParam(q, 'scan', 10_000, 1, 100_000);
  const cursor = q.get('cursor');
  const page = await queue.jobs.search(sel.state, query, cursor ? { limit, scanLimit, cursor } : { limit, scanLimit });
  const out: JobPage = { state: sel.state, total: page.total, jobs: page.jobs.map(row), scanned: page.scanned, scanLimit, matched: page.jobs.length };
  if (page.cursor) out.cursor = page.cursor;
  return out;
}

export async function jobDetail(queue: Queue, id: string): Promise<JobDetail> {
  const job = await queue.getJob(id);
  if (!job) throw new HttpError(404, 'not-found', `no job ${JSON.stringify(id)} in queue ${queue.name}`);
  const d: JobDetail = {
    queue: queue.name,
    id: job.id,
    state: job.state,
    data: jsonSafe(job.data),
    createdAt: job.createdAt,
    attemptsMade: job.attemptsMade,
    options: { attempts: job.attempts, priority: job.priority, timeoutMs: job.timeoutMs ?? 0 },
    errors: [...job.errors].reverse().map((e) => ({ ...e })),
    timeline: timeline(job),
  };
  if (job.decodeError) d.decodeError = job.decodeError;
  if (job.stateSince !== undefined) d.stateSince = job.stateSince;
  if (job.group) d.options.group = job.group;
  if (job.dedupKey) d.options.dedupKey = job.dedupKey;
  if (job.backoff) d.options.backoff = job.backoff;
  if (job.schedule) d.schedule = job.schedule;
  if (job.lease) d.lease = job.lease;
  if (job.traceId) d.traceId = job.traceId;
  if (job.result !== undefined) d.result = jsonSafe(job.result);
  if (job.progress) d.progress = { value: job.progress.value, at: job.progress.at, attempt: job.progress.attempt };
  return d;
}

function timeline(job: JobInfo): TimelineEntry[] {
  const t: TimelineEntry[] = [{ at: job.createdAt, kind: 'added', text: `added${job.group ? ` to group ${job.group}` : ''}${job.schedule ? ` by schedule ${job.schedule.id}` : ''}` }];
  for (const e of job.errors) t.push({ at: e.at, kind: 'failed', text: `attempt ${e.attempt} failed: ${e.name}: ${e.message}` });
  if (job.progress) t.push({ at: job.progress.at, kind: 'progress', text: `attempt ${job.progress.attempt} reported progress ${short(JSON.stringify(job.progress.value))}` });
  const since = job.stateSince;
  if (since !== undefined) {
    const what: Partial<Record<JobState, [TimelineEntry['kind'], string]>> = {
      leased: ['leased', `attempt ${job.attemptsMade} running; lease until this time${job.lease?.worker ? ` (worker ${job.lease.worker})` : ''}`],
      delayed: ['delayed', job.attemptsMade > 0 ? `retry ${job.attemptsMade + 1} due` : 'due'],
      completed: ['completed', `completed after ${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}`],
      dead: ['dead', `dead-lettered after ${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}`],
      cancelled: ['cancelled', 'cancelled'],
    };
    const w = what[job.state];
    if (w) t.push({ at: since, kind: w[0], text: w[1] });
  }
  return t.sort((a, b) => a.at - b.at);
}

export function row(job: JobInfo): JobRow {
  const r: JobRow = { id: job.id, state: job.state, createdAt: job.createdAt, attemptsMade: job.attemptsMade, attempts: job.attempts, priority: job.priority, preview: job.decodeError ? `(${job.decodeError})` : short(JSON.stringify(jsonSafe(job.data)) ?? 'undefined') };
  if (job.group) r.group = job.group;
  if (job.stateSince !== undefined) r.stateSince = job.stateSince;
  if (job.lastError) r.error = short(`${job.lastError.name}: ${job.lastError.message}`);
  return r;
}

/**
 * The dead-letter queue by error fingerprint, over its newest
 * {@link DEAD_GROUPS_SCAN} jobs (a bounded read however large it is).
 */
export async function deadGroups(redis: RedisConnection, queue: Queue, redrive: RedriveProgress | null): Promise<DeadGroups> {
  const total = await queue.dead.count();
  let groups;
  if (total <= DEAD_GROUPS_SCAN) {
    groups = await queue.dead.groups();
  } else {
    // the time of death of the N-th newest (O(log N)), as an age: the groups read from there on
    const [[, died], [sec]] = (await Promise.all([
      redis.zrevrange(queue.keys.dead, DEAD_GROUPS_SCAN - 1, DEAD_GROUPS_SCAN - 1, 'WITHSCORES'),
      redis.time(),
    ])) as unknown as [[string, string], [string]];
    groups = await queue.dead.groups({ newerThanMs: Math.max(0, Math.ceil(Number(sec) * 1000 - Number(died))) });
  }
  const scanned = groups.reduce((n, g) => n + g.count, 0);
  return { total, scanned, groups, redrive };
}

export async function schedules(queue: Queue): Promise<{ schedules: ScheduleRow[] }> {
  const list = await queue.schedules.list();
  return { schedules: list.slice(0, 1000).map(scheduleRow) };
}

function scheduleRow(s: ScheduleInfo): ScheduleRow {
  const every = s.cron !== undefined ? `cron ${s.cron}${s.tz ? ` (${s.tz})` : ''}` : `every ${s.everyMs} ms`;
  return { id: s.id, every, paused: s.paused, ended: s.ended, nextRunAt: s.nextRunAt, lastRunAt: s.lastRunAt, lastJobId: s.lastJobId, runs: s.runs };
}

export async function groupsPage(queue: Queue, q: URLSearchParams): Promise<GroupsPage> {
  const cursor = q.get('cursor');
  const [total, page] = await Promise.all([queue.groups.count(), queue.groups.list(cursor ? { cursor, count: 100 } : { count: 100 })]);
  return page.cursor ? { total, groups: page.groups, cursor: page.cursor } : { total, groups: page.groups };
}

export async function workersPage(queue: Queue): Promise<WorkersPage> {
  return { at: Date.now(), workers: (await queue.workers()).slice(0, 1000) };
}

export function redriveProgress(task: RedriveTask, ratePerSec: number | null, running: boolean): RedriveProgress {
  const p: RedriveProgress = { id: task.id, status: task.status, total: task.total, replayed: task.replayed, skipped: task.skipped, left: task.left, ratePerSec, running, filter: { ...task.filter }, createdAt: task.createdAt };
  if (task.finishedAt !== undefined) p.finishedAt = task.finishedAt;
  return p;
}

export function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, 'bad-request', `${name} must be a whole number from ${min} to ${max}`);
  return n;
}

function short(s: string): string {
  return s.length > PREVIEW ? `${s.slice(0, PREVIEW - 1)}…` : s;
}
