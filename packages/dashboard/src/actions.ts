import { log } from '@kyoo/core';
import { RedriveError, type DeadLetterFilter, type DeadLetterResult, type Queue } from '@kyoo/client';
import type { ActionName, ActionRequest, ActionResult, RedriveProgress, Selection } from './api-types.js';
import { HttpError } from './http.js';
import { checkState, queryOf, redriveProgress } from './views.js';

export const ACTIONS: readonly ActionName[] = ['pause', 'resume', 'replay', 'retry', 'promote', 'cancel', 'remove', 'purge', 'stop-redrive'];
const JOB_ACTIONS = new Set<ActionName>(['replay', 'retry', 'promote', 'cancel', 'remove', 'purge']);
/** A bulk action on a filter acts on this many jobs at most (narrow the filter for more). */
export const MAX_BULK = 100_000;
const MAX_IDS = 10_000;
const PAGE = 1000;
const PARALLEL = 50;

/** A redrive this process runs. */
interface Running {
  controller: AbortController;
  ratePerSec: number | null;
  done: Promise<void>;
}

/**
 * The write side of the API. Every action is a library call, the same the
 * CLI makes (`queue.pause`, `dead.replay`, `dead.createRedrive` and
 * `runRedrive`, `jobs.runNow`, `queue.cancel`, `queue.remove`,
 * `dead.purge`), and every one is logged under `kyoo:dashboard`.
 */
export class Actions {
  private readonly running = new Map<string, Running>();

  constructor(private readonly onRedrive: (queue: string, progress: RedriveProgress) => void) {}

  async run(queue: Queue, body: unknown): Promise<ActionResult> {
    const req = checkRequest(body);
    const a = req.action;
    if (a === 'pause' || a === 'resume') {
      await (a === 'pause' ? queue.pause() : queue.resume());
      log.dashboard('%s queue %s', a, queue.name);
      return { action: a, count: 1, done: 1, skipped: [] };
    }
    if (a === 'stop-redrive') return this.stopRedrive(queue);
    const { ids, filter } = await this.target(queue, req);
    const count = !filter ? ids.length : Object.keys(filter).length === 0 ? await queue.dead.count() : await queue.dead.count(filter);
    if (req.dryRun) return { action: a, count, done: 0, skipped: [], dryRun: true };
    if (req.select && req.expect !== count) {
      throw new HttpError(409, 'conflict', `the filter matches ${count.toLocaleString('en-US')} jobs now, not ${String(req.expect ?? '?')}: look again before you confirm`);
    }
    if (a === 'replay' && req.ratePerSec !== undefined) return this.startRedrive(queue, filter ?? { ids }, req.ratePerSec, count);
    const result = await this.apply(queue, a, filter ?? ids);
    log.dashboard('%s on %s: %d of %d done, %d skipped%s', a, queue.name, result.done, count, result.skipped.length, req.select ? ` (filter ${JSON.stringify(req.select)})` : '');
    return { ...result, count };
  }

  /** The queue's redrive task as this process sees it. */
  async redrive(queue: Queue): Promise<RedriveProgress | null> {
    const task = await queue.dead.redrive();
    if (!task) return null;
    const r = this.running.get(queue.name);
    return redriveProgress(task, r?.ratePerSec ?? null, r !== undefined);
  }

  /** Stops the redrives this process runs (their tasks stay, to resume). */
  async close(): Promise<void> {
    for (const r of this.running.values()) r.controller.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /**
   * The jobs an action names: its ids, or what its selection matches. A
   * selection of dead jobs by fingerprint alone (or of every dead job) stays
   * a library filter, so a replay or purge reaches every match however many;
   * any other is collected as ids, at most {@link MAX_BULK}.
   */
  private async target(queue: Queue, req: ActionRequest): Promise<{ ids: string[]; filter?: DeadLetterFilter }> {
    if (req.ids) return { ids: [...new Set(req.ids)] };
    const sel = req.select!;
    const deadFilter = sel.state === 'dead' && (req.action === 'replay' || req.action === 'purge') && onlyFingerprint(sel);
    if (deadFilter) return { ids: [], filter: sel.fingerprint ? { fingerprint: sel.fingerprint } : {} };
    return { ids: await collect(queue, sel) };
  }

  private async apply(queue: Queue, action: ActionName, target: string[] | DeadLetterFilter): Promise<Omit<ActionResult, 'count'>> {
    const out: Omit<ActionResult, 'count'> = { action, done: 0, skipped: [] };
    const dead = (r: DeadLetterResult): void => {
      out.done += r.done.length;
      for (const id of r.notDead) out.skipped.push({ id, reason: 'not dead' });
      for (const id of r.notFound) out.skipped.push({ id, reason: 'not found' });
      for (const id of r.changed) out.skipped.push({ id, reason: 'dead again since' });
    };
    if (!Array.isArray(target)) {
      // a filter: every dead job it matches ('all' for the empty one, as the library wants it said)
      const f = Object.keys(target).length === 0 ? 'all' : target;
      dead(await (action === 'purge' ? queue.dead.purge(f) : queue.dead.replay(f)));
      return out;
    }
    const ids = target;
    if (ids.length === 0) return out;
    switch (action) {
      case 'replay':
        dead(await queue.dead.replay(ids));
        break;
      case 'purge':
        dead(await queue.dead.purge(ids));
        break;
      case 'promote':
      case 'retry': {
        // run now what is delayed; a dead job "retried" is replayed
        const r = await queue.jobs.runNow(ids);
        out.done += r.done.length;
        for (const id of r.notFound) out.skipped.push({ id, reason: 'not found' });
        if (action === 'promote') for (const id of r.notDelayed) out.skipped.push({ id, reason: 'not delayed' });
        else if (r.notDelayed.length > 0) dead(await queue.dead.replay(r.notDelayed));
        break;
      }
      case 'cancel':
        await each(ids, async (id) => {
          const o = await queue.cancel(id);
          if (o === 'cancelled' || o === 'cancelling') out.done++;
          else out.skipped.push({ id, reason: o === 'finished' ? 'already ended' : 'not found' });
        });
        break;
      case 'remove':
        await each(ids, async (id) => {
          if (await queue.remove(id)) out.done++;
          else out.skipped.push({ id, reason: 'not found' });
        });
        break;
      default:
        throw new HttpError(400, 'bad-request', `${action} does not act on jobs`);
    }
    return out;
  }

  private async startRedrive(queue: Queue, filter: DeadLetterFilter, ratePerSec: number, count: number): Promise<ActionResult> {
    if (this.running.has(queue.name)) throw new HttpError(409, 'conflict', 'a replay of this queue is running: stop it first');
    if (filter.ids && filter.ids.length > MAX_IDS) {
      throw new HttpError(400, 'bad-request', `a rate-limited replay names at most ${MAX_IDS.toLocaleString('en-US')} jobs one by one: select them by error group instead, or narrow the filter`);
    }
    if (filter.ids && filter.ids.length === 0) return { action: 'replay', count: 0, done: 0, skipped: [] };
    let task;
    try {
      task = await queue.dead.createRedrive(filter);
    } catch (err) {
      if (err instanceof RedriveError && err.reason === 'exists') throw new HttpError(409, 'conflict', 'an unfinished replay task exists for this queue: stop it (its jobs not yet replayed stay dead) or let it finish');
      throw err;
    }
    const controller = new AbortController();
    const name = queue.name;
    log.dashboard('replay on %s: task %s of %d jobs at %d/s', name, task.id, task.total, ratePerSec);
    const done = queue.dead
      .runRedrive({ ratePerSec, signal: controller.signal, onProgress: (t) => this.onRedrive(name, redriveProgress(t, ratePerSec, t.status !== 'done')) })
      .then(
        (t) => {
          log.dashboard('replay on %s: task %s %s, %d replayed, %d skipped', name, t.id, t.status === 'done' ? 'done' : 'stopped', t.replayed, t.skipped);
          this.running.delete(name);
          this.onRedrive(name, redriveProgress(t, ratePerSec, false));
        },
        (err: Error) => {
          log.dashboard('replay on %s failed: %s', name, err.message);
          this.running.delete(name);
        },
      );
    this.running.set(name, { controller, ratePerSec, done });
    const progress = redriveProgress(task, ratePerSec, true);
    this.onRedrive(name, progress);
    return { action: 'replay', count, done: 0, skipped: [], redrive: progress };
  }

  private async stopRedrive(queue: Queue): Promise<ActionResult> {
    const r = this.running.get(queue.name);
    if (r) {
      r.controller.abort();
      await r.done;
    }
    // the task is dropped: what it has not replayed stays dead, and a new replay may start
    const dropped = await queue.dead.dropRedrive();
    log.dashboard('replay on %s stopped%s', queue.name, dropped ? ', task dropped' : ' (there was no task)');
    return { action: 'stop-redrive', count: dropped ? 1 : 0, done: dropped ? 1 : 0, skipped: [] };
  }
}

function onlyFingerprint(sel: Selection): boolean {
  return sel.id === undefined && sel.field === undefined && sel.text === undefined && sel.error === undefined;
}

/** Every id a selection matches, in its state's order (refused over {@link MAX_BULK}). */
async function collect(queue: Queue, sel: Selection): Promise<string[]> {
  if (sel.id !== undefined) {
    const job = await queue.getJob(sel.id);
    return job && job.state === sel.state ? [job.id] : [];
  }
  const query = queryOf(sel);
  const ids: string[] = [];
  if (query === null) {
    const total = await queue.jobs.count(sel.state);
    if (total > MAX_BULK) throw tooMany(total);
    for (let offset = 0; offset < total; offset += PAGE) {
      const page = await queue.jobs.list(sel.state, { offset, limit: PAGE });
      for (const j of page.jobs) ids.push(j.id);
      if (page.jobs.length === 0) break;
    }
    return [...new Set(ids)];
  }
  let cursor: string | undefined;
  do {
    const page = await queue.jobs.search(sel.state, query, cursor ? { limit: PAGE, scanLimit: 1_000_000, cursor } : { limit: PAGE, scanLimit: 1_000_000 });
    for (const j of page.jobs) ids.push(j.id);
    if (ids.length > MAX_BULK) throw tooMany(ids.length);
    cursor = page.cursor;
  } while (cursor);
  return ids;
}

function tooMany(n: number): HttpError {
  return new HttpError(400, 'bad-request', `the filter matches ${n.toLocaleString('en-US')} jobs or more; a bulk action takes ${MAX_BULK.toLocaleString('en-US')} at most: narrow the filter`);
}

/** Runs `fn` for every id, {@link PARALLEL} calls in flight. */
async function each(ids: string[], fn: (id: string) => Promise<void>): Promise<void> {
  for (let i = 0; i < ids.length; i += PARALLEL) await Promise.all(ids.slice(i, i + PARALLEL).map(fn));
}

function checkRequest(body: unknown): ActionRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'bad-request', 'expected a JSON object { action, ids | select, ... }');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['action', 'ids', 'select', 'dryRun', 'expect', 'ratePerSec'].includes(k)) throw new HttpError(400, 'bad-request', `unknown field ${JSON.stringify(k)}`);
  if (!ACTIONS.includes(b['action'] as ActionName)) throw new HttpError(400, 'bad-request', `action must be one of ${ACTIONS.join(', ')}`);
  const req: ActionRequest = { action: b['action'] as ActionName };
  if (JOB_ACTIONS.has(req.action)) {
    if ((b['ids'] === undefined) === (b['select'] === undefined)) throw new HttpError(400, 'bad-request', `${req.action} needs either ids or select`);
    if (b['ids'] !== undefined) {
      const ids = b['ids'];
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDS || !ids.every((id) => typeof id === 'string' && id !== '' && id.length <= 512)) {
        throw new HttpError(400, 'bad-request', `ids must be an array of 1 to ${MAX_IDS.toLocaleString('en-US')} job ids`);
      }
      req.ids = ids as string[];
    } else {
      req.select = checkSelection(b['select']);
    }
  } else if (b['ids'] !== undefined || b['select'] !== undefined) {
    throw new HttpError(400, 'bad-request', `${req.action} takes no ids or select`);
  }
  if (b['dryRun'] !== undefined) {
    if (typeof b['dryRun'] !== 'boolean') throw new HttpError(400, 'bad-request', 'dryRun must be true or false');
    req.dryRun = b['dryRun'];
  }
  if (b['expect'] !== undefined) {
    if (!Number.isSafeInteger(b['expect']) || (b['expect'] as number) < 0) throw new HttpError(400, 'bad-request', 'expect must be the count a dry run answered');
    req.expect = b['expect'] as number;
  }
  if (b['ratePerSec'] !== undefined) {
    const r = b['ratePerSec'];
    if (req.action !== 'replay') throw new HttpError(400, 'bad-request', 'ratePerSec goes with replay only');
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 100_000) throw new HttpError(400, 'bad-request', 'ratePerSec must be a whole number of jobs per second from 1 to 100,000');
    req.ratePerSec = r;
  }
  return req;
}

function checkSelection(s: unknown): Selection {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new HttpError(400, 'bad-request', 'select must be an object { state, ... }');
  const o = s as Record<string, unknown>;
  const sel: Selection = { state: checkState(typeof o['state'] === 'string' ? o['state'] : '?') };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'state') continue;
    if (!['id', 'field', 'value', 'text', 'error', 'fingerprint'].includes(k)) throw new HttpError(400, 'bad-request', `unknown select field ${JSON.stringify(k)}`);
    if (typeof v !== 'string') throw new HttpError(400, 'bad-request', `select.${k} must be a string`);
    sel[k as Exclude<keyof Selection, 'state'>] = v;
  }
  return sel;
}
