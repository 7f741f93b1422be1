/**
 * UTC offsets of an IANA time zone, read from `Intl` and tabulated per UTC
 * year: the first question about a year samples its offset once a day and
 * pins each change to the second by bisection (about 400 formats, a few ms,
 * once per zone and year); after that every question is a lookup in a short
 * array, with no formatting on the hot path.
 *
 * Limit: two changes within one day that cancel out (none in current tzdata)
 * are not seen; two that do not cancel are both found.
 */

const DAY_MS = 86_400_000;

/** Offsets of one UTC year: `start` in force at its first instant, `after[i]` from `at[i]` on. */
interface YearTable {
  readonly start: number;
  readonly from: number;
  readonly to: number;
  readonly at: number[];
  readonly after: number[];
}

const zones = new Map<string, ZoneOffsets>();

/**
 * The offsets (wall clock minus UTC, in ms) of one zone. Instants are ms since
 * the epoch; offset changes happen on whole seconds.
 * @example
 * const berlin = ZoneOffsets.of('Europe/Berlin')
 * berlin.offsetAt(Date.parse('2026-07-01T00:00:00Z')) // 7_200_000
 */
export class ZoneOffsets {
  readonly #format: Intl.DateTimeFormat;
  readonly #years = new Map<number, YearTable>();
  #last: YearTable | undefined;

  private constructor(zone: string) {
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** The shared instance for `zone` (an IANA name `Intl` accepts; throws RangeError otherwise). */
  static of(zone: string): ZoneOffsets {
    let offsets = zones.get(zone);
    if (!offsets) zones.set(zone, (offsets = new ZoneOffsets(zone)));
    return offsets;
  }

  /** The offset in force at instant `t`. */
  offsetAt(t: number): number {
    const year = this.#table(t);
    let offset = year.start;
    for (let i = 0; i < year.at.length && (year.at[i] as number) <= t; i++) offset = year.after[i] as number;
    return offset;
  }

  /** The first instant in (from, to] where the offset changes, or undefined. */
  firstChange(from: number, to: number): number | undefined {
    for (let year = this.#table(from); year.from <= to; year = this.#table(year.to)) {
      for (const at of year.at) if (at > from) return at <= to ? at : undefined;
    }
    return undefined;
  }

  /** The last instant in (from, to] where the offset changes, or undefined. */
  lastChange(from: number, to: number): number | undefined {
    for (let year = this.#table(to); year.to > from; year = this.#table(year.from - 1)) {
      for (let i = year.at.length - 1; i >= 0; i--) {
        const at = year.at[i] as number;
        if (at <= to) return at > from ? at : undefined;
      }
    }
    return undefined;
  }

  #table(t: number): YearTable {
    const last = this.#last;
    if (last && t >= last.from && t < last.to) return last;
    const y = new Date(t).getUTCFullYear();
    let year = this.#years.get(y);
    if (!year) this.#years.set(y, (year = this.#build(y)));
    return (this.#last = year);
  }

  /** Samples the year daily; a day whose end has another offset holds a change, found by bisection. */
  #build(y: number): YearTable {
    const from = Date.UTC(y, 0, 1);
    const to = Date.UTC(y + 1, 0, 1);
    const at: number[] = [];
    const after: number[] = [];
    let lo = from;
    let offset = this.#measure(lo);
    const start = offset;
    while (lo < to) {
      const hi = Math.min(lo + DAY_MS, to);
      const end = this.#measure(hi);
      while (offset !== end) {
        const change = this.#bisect(lo, hi, offset);
        offset = this.#measure(change);
        at.push(change);
        after.push(offset);
        lo = change;
      }
      lo = hi;
    }
    return { start, from, to, at, after };
  }

  /** The first whole second in (lo, hi] whose offset is not `offset` (the offset at lo). */
  #bisect(lo: number, hi: number, offset: number): number {
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (this.#measure(mid) === offset) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  /** The offset at `t` according to Intl (whole seconds). */
  #measure(t: number): number {
    const s = Math.floor(t / 1000) * 1000;
    const f = [0, 1, 1, 0, 0, 0];
    for (const part of this.#format.formatToParts(s)) {
      const i = FIELDS.indexOf(part.type);
      if (i >= 0) f[i] = Number(part.value);
    }
    const wall = new Date(0);
    wall.setUTCFullYear(f[0] as number, (f[1] as number) - 1, f[2] as number);
    wall.setUTCHours(f[3] as number, f[4] as number, f[5] as number, 0);
    return wall.getTime() - s;
  }
}

const FIELDS: readonly string[] = ['year', 'month', 'day', 'hour', 'minute', 'second'];
