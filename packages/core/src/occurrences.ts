import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { InvalidOptionError } from './errors.js';
import { MAX_DURATION_MS, checkInt } from './options.js';
import { ZoneOffsets } from './zone-offsets.js';

/** The timing fields of a schedule, as given: exactly one of `cron` and `everyMs`. */
export interface TimingOptions {
  /**
   * A cron expression: 5 fields (minute precision) or 6 (seconds first), or
   * an alias such as `@daily`. `H` fields are seeded with the expression, so
   * every process computes the same times.
   */
  cron?: string;
  /** The IANA zone whose wall clock `cron` reads (not for `everyMs`). @defaultValue `'UTC'` */
  tz?: string;
  /** A fixed interval in real time, from 100 ms to about 10 years. */
  everyMs?: number;
  /** No occurrence before this instant (a Date or ms since the epoch), which may itself be one. */
  startAt?: Date | number;
  /** No occurrence after this instant, which may itself be one; later than `startAt`. */
  endAt?: Date | number;
}

/** Validated timing: `cron` is '' for intervals and `everyMs` 0 for cron; `tz` is '' for intervals; `startAt` / `endAt` 0 = none. */
export interface Timing {
  cron: string;
  tz: string;
  everyMs: number;
  startAt: number;
  endAt: number;
}

/** Largest `total` {@link Occurrences.catchUp} reports: counting stops there. */
export const CATCH_UP_COUNT_CAP = 10_000;

/** No occurrence lies after the end of year 9999 (UTC). */
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const MAX_CRON_LENGTH = 256;
const DAY_MS = 86_400_000;

/**
 * Validates timing options once, at the boundary.
 * @throws InvalidOptionError naming `cron`, `tz`, `everyMs`, `startAt` or `endAt`.
 * @example
 * resolveTiming({ cron: '30 2 * * *', tz: 'Europe/Berlin' })
 * // { cron: '30 2 * * *', tz: 'Europe/Berlin', everyMs: 0, startAt: 0, endAt: 0 }
 */
export function resolveTiming(o: TimingOptions): Timing {
  if ((o.cron === undefined) === (o.everyMs === undefined)) {
    throw new InvalidOptionError('cron', 'give exactly one of cron and everyMs');
  }
  const startAt = checkInstant('startAt', o.startAt);
  const endAt = checkInstant('endAt', o.endAt);
  if (startAt > 0 && endAt > 0 && endAt <= startAt) {
    throw new InvalidOptionError('endAt', `must be after startAt (${new Date(startAt).toISOString()}), got ${new Date(endAt).toISOString()}`);
  }
  if (o.everyMs !== undefined) {
    if (o.tz !== undefined) throw new InvalidOptionError('tz', 'applies to cron only: everyMs intervals are real time');
    return { cron: '', tz: '', everyMs: checkInt('everyMs', o.everyMs, 100, MAX_DURATION_MS), startAt, endAt };
  }
  const tz = checkZone(o.tz ?? 'UTC');
  return { cron: checkCron(o.cron), tz, everyMs: 0, startAt, endAt };
}

/**
 * The occurrence times of a schedule, as ms since the epoch, within
 * [startAt, endAt] (and after the epoch, up to the end of year 9999).
 *
 * `everyMs`: `startAt + k * everyMs` (k ≥ 0), or, without `startAt`, the
 * multiples of `everyMs` since the epoch (every 60000 fires on the minute, the
 * same in every process).
 *
 * `cron`: wall-clock times in `tz`, at the expression's precision. Where the
 * zone's clocks change:
 * 1. An expression whose hour field covers every hour (`* * * * * *`,
 *    `*\/30 * * * *`, `0 * * * *`) follows real time: in a repeated hour
 *    (clocks going back) it runs in both passes; wall times in a skipped hour
 *    (clocks going forward) do not exist and do not run (`30 * * * *` runs at
 *    01:30 and then 03:30, one real hour apart).
 * 2. An expression with specific hours (`30 2 * * *`, `0 1-3 * * *`): a wall
 *    time that exists twice runs once, at its first pass; one in a skipped
 *    hour runs once at the first instant after the gap, and all of them in one
 *    gap collapse into that one run (`*\/20 2 * * *` runs once at 03:00).
 * 3. Results do not depend on where a computation starts: `nextAfter(t)` is
 *    the next element of the chain walked from any earlier occurrence.
 *
 * Cost, by design (it runs after every occurrence): `nextAfter` is one step of
 * the expression over wall time read as UTC, where the cron library does no
 * time zone work, plus lookups in a table of the zone's offset changes built
 * once per zone and year; about 10-20 µs for a per-second expression in any
 * zone. `everyMs` is arithmetic. Zones are assumed not to change offset twice
 * within a day (none does in current tzdata).
 * @example
 * const occ = new Occurrences(resolveTiming({ cron: '0 9 * * 1-5', tz: 'America/New_York' }))
 * const next = occ.nextAfter(Date.now())
 */
export class Occurrences {
  readonly #timing: Timing;
  readonly #cron: CronExpression | undefined;
  readonly #zone: ZoneOffsets | undefined;
  /** Rule 1 (every hour, real time) rather than rule 2 (specific hours). */
  readonly #realTime: boolean;

  constructor(timing: Timing) {
    this.#timing = timing;
    this.#cron = timing.everyMs > 0 ? undefined : parseCron(timing.cron);
    this.#zone = this.#cron ? ZoneOffsets.of(timing.tz) : undefined;
    this.#realTime = this.#cron?.fields.hour.values.length === 24;
  }

  /** The first occurrence strictly after `t` (ms since the epoch), or 0 when there is none. */
  nextAfter(t: number): number {
    const { startAt, endAt } = this.#timing;
    const from = Math.max(t, startAt - 1, 0);
    if (!(from < LATEST)) return 0;
    const s = this.#zone ? (this.#realTime ? this.#realAfter(from) : this.#wallAfter(from)) : this.#everyAfter(from);
    return s > 0 && s <= LATEST && (endAt === 0 || s <= endAt) ? s : 0;
  }

  /**
   * The last `keep` occurrences in [from, to] (inclusive), ascending, and how
   * many there are in all. `total` is exact up to {@link CATCH_UP_COUNT_CAP}
   * and is that cap when there are more (counting stops there, so a
   * per-second schedule down for a month costs 10,000 steps, not 2.6 million).
   * `keep` is at most the cap; 0 asks for the count alone.
   * @example
   * const { last, total } = occ.catchUp(lastRunAt + 1, Date.now(), 1) // run the latest missed one
   */
  catchUp(from: number, to: number, keep: number): { last: number[]; total: number } {
    const { startAt, endAt } = this.#timing;
    const lo = Math.max(from, startAt, 1);
    const hi = Math.min(to, endAt || LATEST, LATEST);
    keep = Math.max(0, Math.min(Math.floor(keep), CATCH_UP_COUNT_CAP));
    if (!(lo <= hi)) return { last: [], total: 0 };
    if (!this.#zone) return this.#everyCatchUp(lo, hi, keep);
    const last: number[] = [];
    if (keep > 0) for (let s = this.#atOrBefore(hi); s >= lo && last.length < keep; s = this.#atOrBefore(s - 1)) last.push(s);
    let total = 0;
    for (let s = this.nextAfter(lo - 1); s > 0 && s <= hi && total < CATCH_UP_COUNT_CAP; s = this.nextAfter(s)) total++;
    return { last: last.reverse(), total };
  }

  #everyAfter(t: number): number {
    const { everyMs, startAt } = this.#timing;
    const k = Math.max(0, Math.floor((t - startAt) / everyMs) + 1);
    return startAt + k * everyMs;
  }

  #everyCatchUp(lo: number, hi: number, keep: number): { last: number[]; total: number } {
    const { everyMs, startAt } = this.#timing;
    const first = Math.max(0, Math.ceil((lo - startAt) / everyMs));
    const lastK = Math.floor((hi - startAt) / everyMs);
    const total = Math.max(0, lastK - first + 1);
    const last: number[] = [];
    for (let k = Math.max(first, lastK - keep + 1); k <= lastK; k++) last.push(startAt + k * everyMs);
    return { last, total: Math.min(total, CATCH_UP_COUNT_CAP) };
  }

  /** The last occurrence at or before `t` (ignoring startAt, which callers apply), or 0. */
  #atOrBefore(t: number): number {
    if (!(t > 0)) return 0;
    return this.#realTime ? this.#realAtOrBefore(Math.min(t, LATEST)) : this.#wallAtOrBefore(Math.min(t, LATEST));
  }

  // Rule 1: the instants whose wall time matches. Within a stretch of one offset the wall clock
  // is `instant + offset`, so the first match after the wall time of the stretch's first
  // candidate v, less that offset, is the answer, unless the offset changes before it: then
  // the search starts again at the change, with the offset after it.

  #realAfter(t: number): number {
    const zone = this.#zone as ZoneOffsets;
    for (let v = t + 1; ; ) {
      const offset = zone.offsetAt(v);
      const w = this.#naiveAfter(v + offset - 1);
      if (w === 0) return 0;
      const s = w - offset;
      const change = zone.firstChange(v, s);
      if (change === undefined) return s;
      v = change;
    }
  }

  #realAtOrBefore(t: number): number {
    const zone = this.#zone as ZoneOffsets;
    for (let u = t; ; ) {
      const offset = zone.offsetAt(u);
      const w = this.#naiveAtOrBefore(u + offset);
      if (w === 0) return 0;
      const s = w - offset;
      const change = zone.lastChange(s, u);
      if (change === undefined) return s;
      u = change - 1;
    }
  }

  // Rule 2: each matching wall time W runs once, at f(W) = the first instant whose wall time is
  // W or later: W's first pass or, for a W in a gap, the instant the gap ends (shared by every W
  // of that gap). f is monotonic and f(wall(t)) <= t (t itself shows wall(t)), so every W up to
  // wall(t) ran at or before t and the answer is f of the first match after wall(t): no
  // look-back is needed, and collapsed times are stepped over. The one exception is a t in the
  // second pass of a repeated stretch, whose matches all ran in the first: `settled` skips them.

  #wallAfter(t: number): number {
    const w = this.#naiveAfter(this.#settled(t));
    return w === 0 ? 0 : this.#firstReaching(w);
  }

  #wallAtOrBefore(t: number): number {
    const w = this.#naiveAtOrBefore(this.#settled(t));
    return w === 0 ? 0 : this.#firstReaching(w);
  }

  /**
   * The wall time of t, except in the second pass of a repeated stretch: there every wall time
   * up to the end of the stretch already ran in the first pass, so that end (less 1 ms) is returned.
   */
  #settled(t: number): number {
    const zone = this.#zone as ZoneOffsets;
    const offset = zone.offsetAt(t);
    const change = zone.lastChange(t - DAY_MS, t);
    if (change !== undefined) {
      const before = zone.offsetAt(change - 1);
      if (before > offset && t < change + (before - offset)) return change + before - 1;
    }
    return t + offset;
  }

  /** f(w): the first instant whose wall time is w (its first pass) or, for a w in a gap, the end of the gap. */
  #firstReaching(w: number): number {
    const zone = this.#zone as ZoneOffsets;
    const before = zone.offsetAt(w - DAY_MS);
    const after = zone.offsetAt(w + DAY_MS);
    const early = w - Math.max(before, after);
    const late = w - Math.min(before, after);
    if (zone.offsetAt(early) === Math.max(before, after)) return early;
    if (zone.offsetAt(late) === Math.min(before, after)) return late;
    return zone.firstChange(w - after, w - before) ?? late;
  }

  /** The first matching wall time after naive time n (wall clock read as UTC), or 0. */
  #naiveAfter(n: number): number {
    return this.#step(n, false);
  }

  /** The last matching wall time at or before naive time n, or 0. */
  #naiveAtOrBefore(n: number): number {
    return this.#step(n + 1, true);
  }

  #step(n: number, back: boolean): number {
    if (n > LATEST + DAY_MS) return 0;
    const cron = this.#cron as CronExpression;
    cron.reset(new Date(n));
    try {
      return (back ? cron.prev() : cron.next()).getTime();
    } catch {
      return 0; // the library's step limit
    }
  }
}

function checkInstant(option: string, value: unknown): number {
  if (value === undefined) return 0;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > LATEST) {
    const got = value instanceof Date ? (Number.isNaN(ms) ? 'an invalid Date' : String(ms)) : typeof value === 'number' ? String(value) : typeof value;
    throw new InvalidOptionError(option, `expected a valid Date or an integer of ms since the epoch, from 1970 to the end of 9999, got ${got}`);
  }
  return ms;
}

function checkZone(tz: unknown): string {
  if (typeof tz !== 'string' || tz === '') throw new InvalidOptionError('tz', `expected an IANA time zone name such as 'Europe/Berlin', got ${JSON.stringify(tz)}`);
  try {
    ZoneOffsets.of(tz);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new InvalidOptionError('tz', `${JSON.stringify(tz.slice(0, 64))} is not a time zone this runtime knows (${err.message})`);
  }
  return tz;
}

function checkCron(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_CRON_LENGTH) {
    throw new InvalidOptionError('cron', `expected a cron expression of at most ${MAX_CRON_LENGTH} characters, got ${typeof value === 'string' ? `${value.length} characters` : typeof value}`);
  }
  const expr = value.trim();
  const fields = expr.split(/\s+/).length;
  if (!expr.startsWith('@') && fields !== 5 && fields !== 6) {
    throw new InvalidOptionError('cron', `expected 5 fields (minute hour day month weekday) or 6 (seconds first), got ${expr === '' ? 'none' : fields} in ${JSON.stringify(expr)}`);
  }
  let cron: CronExpression;
  try {
    cron = parseCron(expr);
  } catch (err) {
    throw new InvalidOptionError('cron', `${JSON.stringify(expr)} is not a valid cron expression: ${(err as Error).message}`);
  }
  try {
    cron.next();
  } catch (err) {
    throw new InvalidOptionError('cron', `${JSON.stringify(expr)} never fires: ${(err as Error).message}`);
  }
  return expr;
}

/** Parsed over naive wall time (wall clock read as UTC); the zone is applied by {@link Occurrences}. */
function parseCron(expr: string): CronExpression {
  return CronExpressionParser.parse(expr, { tz: 'UTC', currentDate: 0, hashSeed: expr });
}
