// Unit tests of the per-year offset tables behind Occurrences: changes pinned to the second,
// a 30-minute shift, a zone without changes, and questions that span a year boundary.
import { describe, expect, it } from 'vitest';
import { ZoneOffsets } from './zone-offsets.js';

const at = (iso: string): number => Date.parse(iso);
const H = 3_600_000;

describe('ZoneOffsets', () => {
  it('finds both of Berlin’s 2026 changes to the second, with the offsets either side', () => {
    const berlin = ZoneOffsets.of('Europe/Berlin');
    const spring = at('2026-03-29T01:00:00Z');
    const fall = at('2026-10-25T01:00:00Z');
    expect(berlin.firstChange(at('2026-01-01T00:00:00Z'), at('2026-12-31T00:00:00Z'))).toBe(spring);
    expect(berlin.lastChange(at('2026-01-01T00:00:00Z'), at('2026-12-31T00:00:00Z'))).toBe(fall);
    expect(berlin.offsetAt(spring - 1)).toBe(H);
    expect(berlin.offsetAt(spring)).toBe(2 * H);
    expect(berlin.offsetAt(fall - 1)).toBe(2 * H);
    expect(berlin.offsetAt(fall)).toBe(H);
  });

  it('ranges are (from, to]: a change at `from` is not in it, one at `to` is', () => {
    const berlin = ZoneOffsets.of('Europe/Berlin');
    const spring = at('2026-03-29T01:00:00Z');
    expect(berlin.firstChange(spring, spring + H)).toBeUndefined();
    expect(berlin.firstChange(spring - H, spring)).toBe(spring);
    expect(berlin.lastChange(spring - H, spring)).toBe(spring);
    expect(berlin.lastChange(spring, spring + H)).toBeUndefined();
  });

  it('answers across year boundaries, in both directions', () => {
    const berlin = ZoneOffsets.of('Europe/Berlin');
    expect(berlin.firstChange(at('2026-11-01T00:00:00Z'), at('2027-12-31T00:00:00Z'))).toBe(at('2027-03-28T01:00:00Z'));
    expect(berlin.lastChange(at('2025-01-01T00:00:00Z'), at('2026-03-01T00:00:00Z'))).toBe(at('2025-10-26T01:00:00Z'));
  });

  it('Lord Howe shifts by 30 minutes', () => {
    const lordHowe = ZoneOffsets.of('Australia/Lord_Howe');
    const end = at('2026-04-04T15:00:00Z'); // 02:00 +11 becomes 01:30 +10:30
    expect(lordHowe.firstChange(end - H, end + H)).toBe(end);
    expect(lordHowe.offsetAt(end - 1)).toBe(11 * H);
    expect(lordHowe.offsetAt(end)).toBe(10.5 * H);
  });

  it('Kolkata has no change in a year, and one offset', () => {
    const kolkata = ZoneOffsets.of('Asia/Kolkata');
    expect(kolkata.firstChange(at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z'))).toBeUndefined();
    expect(kolkata.offsetAt(at('2026-07-01T00:00:00Z'))).toBe(5.5 * H);
  });

  it('refuses an unknown zone with a RangeError', () => {
    expect(() => ZoneOffsets.of('Mars/Olympus')).toThrow(RangeError);
  });
});
