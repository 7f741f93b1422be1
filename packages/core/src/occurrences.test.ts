// Unit tests of schedule timing: validation (each error names its option), intervals, bounds,
// catch-up counts, and the DST contract of cron schedules, pinned with exact instants in
// Europe/Berlin (2026 and 2027) and a few other zones, then checked two more ways: against a
// brute-force reading of the wall clock through Intl, and by a property test that nextAfter(t)
// agrees with the chain walked from a fixed earlier anchor.
import { CronExpressionParser } from 'cron-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DURATION_MS } from './options.js';
import { CATCH_UP_COUNT_CAP, Occurrences, resolveTiming, type TimingOptions } from './occurrences.js';
import { invalidOption } from '../../../test/support/invalid-option.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (t: number): string => (t === 0 ? 'none' : new Date(t).toISOString().replace('.000Z', 'Z'));
const H = 3_600_000;
const occurrences = (o: TimingOptions): Occurrences => new Occurrences(resolveTiming(o));

/** The first `n` occurrences after `from`, as ISO instants. */
function walk(o: TimingOptions, from: string, n: number): string[] {
  const occ = occurrences(o);
  const out: string[] = [];
  for (let t = at(from), i = 0; i < n; i++) out.push(iso((t = occ.nextAfter(t))));
  return out;
}

describe('resolveTiming', () => {
  const invalid = (o: unknown, option: string): string => invalidOption(() => resolveTiming(o as TimingOptions), option).message;

  it('wants exactly one of cron and everyMs', () => {
    expect(invalid({}, 'cron')).toMatch(/exactly one of cron and everyMs/);
    expect(invalid({ cron: '* * * * *', everyMs: 1000 }, 'cron')).toMatch(/exactly one/);
  });

  it('resolves defaults: tz UTC for cron, none for intervals, no bounds', () => {
    expect(resolveTiming({ cron: ' 30 2 * * * ' })).toEqual({ cron: '30 2 * * *', tz: 'UTC', everyMs: 0, startAt: 0, endAt: 0 });
    expect(resolveTiming({ everyMs: 60_000 })).toEqual({ cron: '', tz: '', everyMs: 60_000, startAt: 0, endAt: 0 });
    const startAt = new Date('2026-01-01T00:00:00Z');
    expect(resolveTiming({ everyMs: 100, startAt, endAt: startAt.getTime() + 1 })).toMatchObject({ startAt: startAt.getTime(), endAt: startAt.getTime() + 1 });
  });

  it('cron: 5 or 6 fields or an alias, at most 256 characters, as cron-parser reads it', () => {
    expect(resolveTiming({ cron: '*/7 * * * * *' }).cron).toBe('*/7 * * * * *');
    expect(resolveTiming({ cron: '@daily' }).cron).toBe('@daily');
    expect(invalid({ cron: '* * * *' }, 'cron')).toMatch(/expected 5 fields .* or 6 .*, got 4/);
    expect(invalid({ cron: '0 0 0 * * * *' }, 'cron')).toMatch(/got 7/);
    expect(invalid({ cron: '' }, 'cron')).toMatch(/got none/);
    expect(invalid({ cron: 5 }, 'cron')).toMatch(/got number/);
    expect(invalid({ cron: `0 0 ${'1,'.repeat(130)}1 * *` }, 'cron')).toMatch(/at most 256 characters/);
    expect(invalid({ cron: '61 * * * *' }, 'cron')).toMatch(/not a valid cron expression: Constraint error, got value 61/);
    expect(invalid({ cron: '@fortnightly' }, 'cron')).toMatch(/not a valid cron expression/);
  });

  it('cron: refuses an expression that never fires', () => {
    expect(invalid({ cron: '0 0 30 2 *' }, 'cron')).toMatch(/Invalid explicit day of month definition/);
    expect(invalid({ cron: '0 0 31 4,6 *' }, 'cron')).toMatch(/"0 0 31 4,6 \*"/);
  });

  it('tz: an IANA zone this runtime knows, for cron only', () => {
    expect(resolveTiming({ cron: '0 9 * * *', tz: 'America/New_York' }).tz).toBe('America/New_York');
    expect(invalid({ cron: '0 9 * * *', tz: 'Mars/Olympus' }, 'tz')).toMatch(/"Mars\/Olympus" is not a time zone/);
    expect(invalid({ cron: '0 9 * * *', tz: '' }, 'tz')).toMatch(/IANA time zone/);
    expect(invalid({ cron: '0 9 * * *', tz: 1 }, 'tz')).toMatch(/IANA time zone/);
    expect(invalid({ everyMs: 1000, tz: 'UTC' }, 'tz')).toMatch(/cron only: everyMs intervals are real time/);
  });

  it('everyMs: an integer from 100 ms to about 10 years', () => {
    expect(resolveTiming({ everyMs: 100 }).everyMs).toBe(100);
    expect(resolveTiming({ everyMs: MAX_DURATION_MS }).everyMs).toBe(MAX_DURATION_MS);
    for (const bad of [99, 1000.5, MAX_DURATION_MS + 1, '1000', Number.NaN]) invalid({ everyMs: bad }, 'everyMs');
  });

  it('startAt / endAt: a valid Date or integer ms, endAt after startAt', () => {
    for (const option of ['startAt', 'endAt']) {
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, new Date('nope'), '2026-01-01', Date.UTC(10000, 0, 1)]) {
        invalid({ everyMs: 1000, [option]: bad }, option);
      }
    }
    expect(invalid({ everyMs: 1000, startAt: 2000, endAt: 2000 }, 'endAt')).toMatch(/must be after startAt/);
    expect(invalid({ cron: '* * * * *', startAt: 2000, endAt: 1000 }, 'endAt')).toMatch(/must be after startAt/);
  });
});

describe('everyMs', () => {
  it('without startAt: the multiples of everyMs since the epoch (every minute fires on the minute)', () => {
    const occ = occurrences({ everyMs: 60_000 });
    expect(iso(occ.nextAfter(at('2026-05-01T10:00:30.250Z')))).toBe('2026-05-01T10:01:00Z');
    expect(iso(occ.nextAfter(at('2026-05-01T10:01:00Z')))).toBe('2026-05-01T10:02:00Z');
    expect(occ.nextAfter(-5)).toBe(60_000);
  });

  it('with startAt: startAt + k * everyMs, k ≥ 0; with endAt: none after it', () => {
    const occ = occurrences({ everyMs: 7_000, startAt: 1_000_003, endAt: 1_000_003 + 21_000 });
    expect(occ.nextAfter(0)).toBe(1_000_003);
    expect(occ.nextAfter(1_000_003)).toBe(1_007_003);
    expect(occ.nextAfter(1_007_002)).toBe(1_007_003);
    expect(occ.nextAfter(1_014_003)).toBe(1_021_003);
    expect(occ.nextAfter(1_021_003)).toBe(0);
  });

  it('catchUp is arithmetic: exact counts, the last `keep`, the cap on huge ranges', () => {
    const occ = occurrences({ everyMs: 1000, startAt: 500 });
    expect(occ.catchUp(0, 10_500, 3)).toEqual({ last: [8_500, 9_500, 10_500], total: 11 });
    expect(occ.catchUp(600, 1_400, 5)).toEqual({ last: [], total: 0 });
    expect(occ.catchUp(1_500, 1_500, 0)).toEqual({ last: [], total: 1 });
    const month = occurrences({ everyMs: 100 }).catchUp(at('2026-01-01T00:00:00Z'), at('2026-02-01T00:00:00Z'), 2);
    expect(month).toEqual({ last: [at('2026-01-31T23:59:59.900Z'), at('2026-02-01T00:00:00Z')], total: CATCH_UP_COUNT_CAP });
  });
});

describe('cron basics', () => {
  it('5 fields run on the minute, 6 on the second, in UTC by default', () => {
    expect(walk({ cron: '0 0 * * *' }, '2026-05-01T12:00:00Z', 2)).toEqual(['2026-05-02T00:00:00Z', '2026-05-03T00:00:00Z']);
    expect(walk({ cron: '*/7 * * * * *' }, '2026-05-01T12:00:50.500Z', 3)).toEqual(['2026-05-01T12:00:56Z', '2026-05-01T12:01:00Z', '2026-05-01T12:01:07Z']);
    expect(walk({ cron: '0 0 1 * *', tz: 'Asia/Kolkata' }, '2026-05-01T12:00:00Z', 2)).toEqual(['2026-05-31T18:30:00Z', '2026-06-30T18:30:00Z']);
  });

  it('H (hashed) fields are seeded with the expression: every process computes the same times', () => {
    const times = (): string[] => walk({ cron: 'H H * * *' }, '2026-05-01T00:00:00Z', 2);
    expect(times()).toEqual(times());
  });

  it('only within [startAt, endAt], both inclusive', () => {
    const o = { cron: '0 * * * *', startAt: at('2026-05-01T10:00:00Z'), endAt: at('2026-05-01T12:00:00Z') };
    expect(walk(o, '2026-01-01T00:00:00Z', 4)).toEqual(['2026-05-01T10:00:00Z', '2026-05-01T11:00:00Z', '2026-05-01T12:00:00Z', 'none']);
    expect(occurrences(o).catchUp(0, at('2030-01-01T00:00:00Z'), 10)).toEqual({ last: [o.startAt, o.startAt + H, o.endAt], total: 3 });
  });

  it('catchUp counts exactly when few, returns the last `keep` ascending, and saturates at the cap', () => {
    const halfHours = occurrences({ cron: '*/30 * * * *', tz: 'Europe/Berlin' });
    // 25 October 2026 has 25 hours in Berlin: 50 half hours.
    expect(halfHours.catchUp(at('2026-10-24T22:00:00Z'), at('2026-10-25T22:59:59Z'), 2)).toEqual({ last: [at('2026-10-25T22:00:00Z'), at('2026-10-25T22:30:00Z')], total: 50 });
    expect(halfHours.catchUp(at('2026-10-25T22:00:00Z'), at('2026-10-25T22:00:00Z'), 5)).toEqual({ last: [at('2026-10-25T22:00:00Z')], total: 1 });
    expect(halfHours.catchUp(5, 4, 5)).toEqual({ last: [], total: 0 });
    const seconds = occurrences({ cron: '* * * * * *', tz: 'Europe/Berlin' }).catchUp(at('2026-03-01T00:00:00Z'), at('2026-03-31T00:00:00Z'), 3);
    expect(seconds).toEqual({ last: ['2026-03-30T23:59:58Z', '2026-03-30T23:59:59Z', '2026-03-31T00:00:00Z'].map(at), total: CATCH_UP_COUNT_CAP });
  });
});

describe('DST in Europe/Berlin (2026-03-29 02:00 → 03:00 at 01:00Z; 2026-10-25 03:00 → 02:00 at 01:00Z)', () => {
  const berlin = (cron: string, from: string, n: number): string[] => walk({ cron, tz: 'Europe/Berlin' }, from, n);

  it('rule 1, every hour, spring: wall times in the gap do not exist and do not run', () => {
    expect(berlin('30 * * * *', '2026-03-29T00:00:00Z', 3)).toEqual(['2026-03-29T00:30:00Z', '2026-03-29T01:30:00Z', '2026-03-29T02:30:00Z']);
    expect(berlin('0 * * * *', '2026-03-28T23:30:00Z', 3)).toEqual(['2026-03-29T00:00:00Z', '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z']);
    expect(berlin('* * * * * *', '2026-03-29T00:59:58Z', 3)).toEqual(['2026-03-29T00:59:59Z', '2026-03-29T01:00:00Z', '2026-03-29T01:00:01Z']);
  });

  it('rule 1, every hour, fall: both passes of the repeated hour run, in real time', () => {
    expect(berlin('*/30 * * * *', '2026-10-24T23:45:00Z', 5)).toEqual(['2026-10-25T00:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', '2026-10-25T01:30:00Z', '2026-10-25T02:00:00Z']);
    expect(berlin('0 * * * *', '2026-10-24T23:30:00Z', 3)).toEqual(['2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T02:00:00Z']);
    expect(berlin('* * * * * *', '2026-10-25T00:59:58Z', 3)).toEqual(['2026-10-25T00:59:59Z', '2026-10-25T01:00:00Z', '2026-10-25T01:00:01Z']);
  });

  it('rule 2, specific hours, spring: a skipped wall time runs once at 03:00, and all of one gap collapse there', () => {
    expect(berlin('30 2 * * *', '2026-03-28T00:00:00Z', 3)).toEqual(['2026-03-28T01:30:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z']);
    expect(berlin('*/20 2 * * *', '2026-03-28T23:00:00Z', 3)).toEqual(['2026-03-29T01:00:00Z', '2026-03-30T00:00:00Z', '2026-03-30T00:20:00Z']);
    expect(berlin('0 1-3 * * *', '2026-03-28T22:00:00Z', 3)).toEqual(['2026-03-29T00:00:00Z', '2026-03-29T01:00:00Z', '2026-03-29T23:00:00Z']);
  });

  it('rule 2, specific hours, fall: a repeated wall time runs once, at its first pass', () => {
    expect(berlin('30 2 * * *', '2026-10-24T12:00:00Z', 2)).toEqual(['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']);
    expect(berlin('*/20 2 * * *', '2026-10-24T23:00:00Z', 4)).toEqual(['2026-10-25T00:00:00Z', '2026-10-25T00:20:00Z', '2026-10-25T00:40:00Z', '2026-10-26T01:00:00Z']);
    expect(berlin('0 1-3 * * *', '2026-10-24T22:00:00Z', 4)).toEqual(['2026-10-24T23:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T02:00:00Z', '2026-10-26T00:00:00Z']);
  });

  it('rule 3: the result does not depend on where the computation starts (where cron-parser alone differs)', () => {
    // From the second pass of 02:15 the second pass of 02:30 is not a new run.
    expect(berlin('30 2 * * *', '2026-10-25T00:45:00Z', 1)).toEqual(['2026-10-26T01:30:00Z']);
    expect(berlin('30 2 * * *', '2026-10-25T01:15:00Z', 1)).toEqual(['2026-10-26T01:30:00Z']);
    expect(berlin('30 2 * * *', '2026-10-25T00:29:59Z', 1)).toEqual(['2026-10-25T00:30:00Z']);
    // Just before the gap the skipped 02:30 is still to run (at 03:00); from 03:00 on it has run.
    expect(berlin('30 2 * * *', '2026-03-29T00:59:59Z', 1)).toEqual(['2026-03-29T01:00:00Z']);
    expect(berlin('30 2 * * *', '2026-03-29T01:00:00Z', 1)).toEqual(['2026-03-30T00:30:00Z']);
    expect(berlin('*/20 2 * * *', '2026-10-25T01:00:00Z', 1)).toEqual(['2026-10-26T01:00:00Z']);
    expect(berlin('*/20 2 * * *', '2026-10-25T01:20:00Z', 1)).toEqual(['2026-10-26T01:00:00Z']);
  });

  it('2027 too: 28 March and 31 October', () => {
    expect(berlin('30 2 * * *', '2027-03-27T12:00:00Z', 2)).toEqual(['2027-03-28T01:00:00Z', '2027-03-29T00:30:00Z']);
    expect(berlin('30 * * * *', '2027-03-28T00:00:00Z', 2)).toEqual(['2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z']);
    expect(berlin('30 2 * * *', '2027-10-30T12:00:00Z', 2)).toEqual(['2027-10-31T00:30:00Z', '2027-11-01T01:30:00Z']);
    expect(berlin('*/30 * * * *', '2027-10-31T00:45:00Z', 3)).toEqual(['2027-10-31T01:00:00Z', '2027-10-31T01:30:00Z', '2027-10-31T02:00:00Z']);
  });

  it('catchUp walks back over a gap and a repeated hour the same way', () => {
    const occ = occurrences({ cron: '*/20 2 * * *', tz: 'Europe/Berlin' });
    expect(occ.catchUp(at('2026-03-28T00:00:00Z'), at('2026-03-30T00:20:00Z'), 10)).toEqual({
      last: ['2026-03-28T01:00:00Z', '2026-03-28T01:20:00Z', '2026-03-28T01:40:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:00:00Z', '2026-03-30T00:20:00Z'].map(at),
      total: 6,
    });
    const halfHours = occurrences({ cron: '*/30 * * * *', tz: 'Europe/Berlin' });
    expect(halfHours.catchUp(0, at('2026-10-25T01:30:00Z'), 3).last.map(iso)).toEqual(['2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', '2026-10-25T01:30:00Z']);
  });
});

describe('DST elsewhere', () => {
  it('New York: 01:30 runs once on 1 November (first pass, EDT)', () => {
    expect(walk({ cron: '30 1 * * *', tz: 'America/New_York' }, '2026-11-01T05:00:00Z', 2)).toEqual(['2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z']);
    expect(walk({ cron: '30 1 * * *', tz: 'America/New_York' }, '2026-11-01T06:15:00Z', 1)).toEqual(['2026-11-02T06:30:00Z']);
  });

  it('Lord Howe shifts by 30 minutes: 02:00-02:29 is skipped in October, 01:30-01:59 repeated in April', () => {
    expect(walk({ cron: '0 2 * * *', tz: 'Australia/Lord_Howe' }, '2026-10-03T12:00:00Z', 2)).toEqual(['2026-10-03T15:30:00Z', '2026-10-04T15:00:00Z']);
    expect(walk({ cron: '30 * * * *', tz: 'Australia/Lord_Howe' }, '2026-10-03T14:45:00Z', 2)).toEqual(['2026-10-03T15:00:00Z', '2026-10-03T15:30:00Z']);
    expect(walk({ cron: '45 1 * * *', tz: 'Australia/Lord_Howe' }, '2026-04-04T12:00:00Z', 2)).toEqual(['2026-04-04T14:45:00Z', '2026-04-05T15:15:00Z']);
    expect(walk({ cron: '*/15 * * * *', tz: 'Australia/Lord_Howe' }, '2026-04-04T14:40:00Z', 4)).toEqual(['2026-04-04T14:45:00Z', '2026-04-04T15:00:00Z', '2026-04-04T15:15:00Z', '2026-04-04T15:30:00Z']);
  });
});

// The expressions, zones and changes the two checks below range over.
const EXPRESSIONS = ['*/30 * * * *', '* * * * * *', '0 * * * *', '30 * * * *', '*/7 * * * * *', '30 2 * * *', '0 1-3 * * *', '*/20 2 * * *', '0 0 * * *', '15 3 * * 0', '0 0 1 * *', '30 1 * * *', '15 2 * * *', '45 1 * * *'];
/** Each zone with its clock changes (Lord Howe shifts by 30 minutes); the zones without take all of them as start times. */
const CHANGES_BY_ZONE: Record<string, number[]> = {
  'Europe/Berlin': ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2027-03-28T01:00:00Z', '2027-10-31T01:00:00Z'].map(at),
  'America/New_York': ['2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z'].map(at),
  'Australia/Lord_Howe': ['2026-04-04T15:00:00Z', '2026-10-03T15:30:00Z'].map(at),
};
const CHANGES = Object.values(CHANGES_BY_ZONE).flat();
CHANGES_BY_ZONE['Asia/Kolkata'] = CHANGES;
CHANGES_BY_ZONE['UTC'] = CHANGES;
const ZONES = Object.keys(CHANGES_BY_ZONE);
const hasSeconds = (cron: string): boolean => cron.split(' ').length === 6;

describe('against the wall clock read through Intl, instant by instant', () => {
  // Rule 1: s runs iff its wall time matches. Rule 2: s runs iff some matching wall time W is
  // reached first at s, i.e. lies in (the latest wall time shown before s, the wall time of s].
  function bruteForce(cron: string, tz: string, from: number, to: number): number[] {
    const format = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    const wall = (t: number): number => {
      const p = new Map(format.formatToParts(t).map((x) => [x.type, Number(x.value)]));
      const get = (type: string): number => p.get(type as Intl.DateTimeFormatPartTypes) ?? Number.NaN;
      return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    };
    const expr = CronExpressionParser.parse(cron, { tz: 'UTC' });
    const matches = (w: number): boolean => expr.includesDate(new Date(w));
    const step = hasSeconds(cron) ? 1000 : 60_000;
    const realTime = expr.fields.hour.values.length === 24;
    const out: number[] = [];
    let shown = wall(from - step);
    for (let s = from; s <= to; s += step) {
      const w = wall(s);
      let runs = false;
      if (realTime) runs = matches(w);
      else for (let x = Math.max(shown + step, w - 2 * H); x <= w && !runs; x += step) runs = matches(x);
      if (w > shown) shown = w;
      if (runs) out.push(s);
    }
    return out;
  }

  const cases = ZONES.slice(0, 3).flatMap((tz) => (CHANGES_BY_ZONE[tz] ?? []).map((change) => ({ tz, change })));
  it.each(EXPRESSIONS)('%s', (cron) => {
    const span = hasSeconds(cron) ? 75 * 60_000 : 3 * H;
    for (const { tz, change } of cases) {
      const occ = occurrences({ cron, tz });
      const from = change - span;
      const to = change + span;
      const got: number[] = [];
      for (let t = occ.nextAfter(from - 1); t > 0 && t <= to; t = occ.nextAfter(t)) got.push(t);
      expect(got.map(iso), `${cron} in ${tz} around ${iso(change)}`).toEqual(bruteForce(cron, tz, from, to).map(iso));
    }
  });
});

describe('property: nextAfter(t) is the next element of the chain walked from a fixed anchor', () => {
  const chains = new Map<string, number[]>();
  /** The chain from `change - anchor` to one element past `change + span`, strictly increasing. */
  function chain(cron: string, tz: string, change: number, anchor: number, span: number): number[] {
    const key = `${cron}|${tz}|${change}`;
    let c = chains.get(key);
    if (!c) {
      const occ = occurrences({ cron, tz });
      c = [];
      for (let t = occ.nextAfter(change - anchor); ; t = occ.nextAfter(t)) {
        expect(t > (c.at(-1) ?? 0), `${key}: ${iso(t)} after ${iso(c.at(-1) ?? 0)}`).toBe(true);
        c.push(t);
        if (t > change + span) break;
      }
      chains.set(key, c);
    }
    return c;
  }

  const zoneAndChange = fc.constantFrom(...ZONES).chain((tz) => fc.tuple(fc.constant(tz), fc.constantFrom(...(CHANGES_BY_ZONE[tz] ?? []))));

  it('for random expressions, zones and start times near clock changes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...EXPRESSIONS), zoneAndChange, fc.double({ min: -1, max: 1, noNaN: true }), (cron, [tz, change], where) => {
        // Start times within 70 min of the change for per-second expressions (past any repeated
        // hour), within 6 h for the others; the anchor is before them all and before the change.
        const [anchor, span] = hasSeconds(cron) ? [80 * 60_000, 70 * 60_000] : [24 * H, 6 * H];
        const c = chain(cron, tz, change, anchor, span);
        const t = Math.round(change + where * span);
        const expected = c.find((x) => x > t);
        expect(iso(occurrences({ cron, tz }).nextAfter(t)), `${cron} in ${tz} from ${new Date(t).toISOString()}`).toBe(iso(expected ?? 0));
      }),
      { numRuns: 300 },
    );
  });
});
