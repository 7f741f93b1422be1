// The retry delay is computed in two places: in TypeScript (backoffDelay, when a handler
// fails) and in Lua (record_backoff in lua/includes/record.lua, when a lease expires and the
// reclaim step retries the job). Both must give the same delay for the same record and the
// same random draw. The include is run on the real server by an EVAL of test-only Lua that
// decodes real records (encodeRecord) with record_header and calls record_backoff.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { backoffDelay, encodeData, encodeRecord, type ResolvedBackoff } from '@kyoo/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { recordSchemaLua } from '../../scripts/build-lua.mjs';
import { adminConnection } from '../support/redis.js';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');
const schemaLua = (recordSchemaLua as (schema: unknown) => string)(JSON.parse(read('../../packages/core/record-schema.json')));
const recordLua = read('../../lua/includes/record.lua');

// ARGV: groups of (record bytes, attempt made, rnd); returns each delay
const SCRIPT = [
  recordLua.replace('--!include record_schema', schemaLua),
  'local out = {}',
  'for i = 1, #ARGV, 3 do',
  '  local h = record_header(ARGV[i])',
  "  if not h then return redis.error_reply('unreadable record at ' .. i) end",
  '  out[#out + 1] = record_backoff(h, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]))',
  'end',
  'return out',
].join('\n');

interface Case { backoff: ResolvedBackoff; attempt: number; rnd: number }

const redis = adminConnection();
afterAll(async () => {
  await redis.quit();
});

/** Delays from the Lua include, one per case, in one EVAL. */
async function luaDelays(cases: readonly Case[]): Promise<number[]> {
  const payload = encodeData('data', null);
  const args = cases.flatMap(({ backoff: b, attempt, rnd }) => [
    encodeRecord({
      payload, attempts: 100, backoffType: b.type, backoffMs: b.delayMs, backoffMaxMs: b.maxDelayMs, jitter: b.jitter,
      createdAt: 1_700_000_000_000, timeoutMs: 0, priority: 0, dedupKey: '', dedupMode: 0,
    }),
    String(attempt),
    String(rnd),
  ]);
  return (await redis.eval(SCRIPT, 0, ...args)) as number[];
}

const tsDelays = (cases: readonly Case[]): number[] => cases.map((c) => backoffDelay(c.backoff, c.attempt, () => c.rnd));

describe('backoffDelay (TypeScript) and record_backoff (Lua) agree', () => {
  it('on a table of types, delays, caps, jitters, attempts and draws', async () => {
    const cases: Case[] = [];
    for (const type of ['fixed', 'exponential'] as const) {
      for (const delayMs of [0, 1, 100, 1000, 123_457]) {
        for (const maxDelayMs of [0, 300, 5000]) {
          for (const jitter of [0, 0.2, 1 / 3, 1]) {
            for (const attempt of [1, 2, 3, 7, 20]) {
              for (const rnd of [0, 0.5, 0.999_999]) cases.push({ backoff: { type, delayMs, maxDelayMs, jitter }, attempt, rnd });
            }
          }
        }
      }
    }
    const expected = tsDelays(cases);
    // the table is not trivial: waits capped, uncapped, jittered, doubled
    expect(expected).toContain(300);
    expect(expected).toContain(0);
    expect(expected).toContain(100 * 2 ** 19);
    expect(expected).toContain(Math.floor(1000 * (1 - 0.2 * 0.5)));
    const got: number[] = [];
    for (let i = 0; i < cases.length; i += 500) got.push(...(await luaDelays(cases.slice(i, i + 500))));
    const differ = cases.map((c, i) => ({ ...c, ts: expected[i], lua: got[i] })).filter((d) => d.ts !== d.lua);
    expect(differ).toEqual([]);
    expect(got).toHaveLength(cases.length);
  });

  it('on random inputs', async () => {
    const arbCase = fc.record({
      backoff: fc.record({
        type: fc.constantFrom('fixed' as const, 'exponential' as const),
        delayMs: fc.integer({ min: 0, max: 10_000_000 }),
        maxDelayMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_000_000_000 })),
        jitter: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
      }),
      attempt: fc.integer({ min: 1, max: 30 }),
      rnd: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    });
    await fc.assert(fc.asyncProperty(fc.array(arbCase, { minLength: 1, maxLength: 200 }), async (cases) => {
      expect(await luaDelays(cases)).toEqual(tsDelays(cases));
    }), { numRuns: 20 });
  });
});
