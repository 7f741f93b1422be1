// The record schema: one field table (packages/core/record-schema.json) for TypeScript and
// Lua; version-1 records (written before it) still run; a record of a newer version is
// released untouched, without using an attempt, and reported, never dead-lettered.
import { RECORD_FIELDS, RECORD_VERSION, decodeRecord, encode, encodeRecord } from '@kyoo/core';
import { RecordVersionError, Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, enqueueEntry, record, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('schema');
});
afterEach(async () => {
  await s.dispose();
});

/** A record as a kyoo of schema `version` with extra appended fields would write it. */
function recordOfVersion(version: number, data: unknown, extra: unknown[] = []): Buffer {
  const current = record(data, { attempts: 2 });
  const parsed = decodeRecord(current);
  const header = encode([version, ...RECORD_FIELDS.map((f) => (f.name === 'backoffType' ? 0 : (parsed as unknown as Record<string, unknown>)[f.name])), ...extra]);
  const out = Buffer.alloc(3 + header.length + parsed.payload.length);
  out[0] = 0xc1;
  out.writeUInt16BE(header.length, 1);
  header.copy(out, 3);
  out.set(parsed.payload, 3 + header.length);
  return out;
}

describe('record schema', () => {
  it('round-trips every field of the schema', () => {
    const r = { payload: encode({ a: 1 }), attempts: 4, backoffType: 'exponential' as const, backoffMs: 10, backoffMaxMs: 99, jitter: 0.5, createdAt: 1_700_000_000_000, timeoutMs: 7, priority: -3, dedupKey: 'k', dedupMode: 2, schedule: 'nightly', occurrence: 1_800_000_000_000, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=abc', group: 'tenant:7' };
    const back = decodeRecord(encodeRecord(r));
    expect(back).toEqual({ ...r, payload: back.payload, version: RECORD_VERSION });
    expect(Buffer.from(back.payload)).toEqual(r.payload);
    expect(RECORD_FIELDS.map((f) => f.name)).toEqual(Object.keys(r).filter((k) => k !== 'payload'));
  });

  it('runs a version-1 record (one length byte, eight header positions)', async () => {
    const header = encode([1, 3, 0, 0, 0, 0, Date.now(), 0]);
    const payload = encode({ legacy: true });
    const v1 = Buffer.concat([Buffer.from([header.length]), header, payload]);
    await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry('old', v1)] });
    const seen = deferred<unknown>();
    s.trackWorker(new Worker(s.name, (job) => seen.resolve({ data: job.data, attempts: job.attempts }), { connection: s.url }));
    expect(await seen.promise).toEqual({ data: { legacy: true }, attempts: 3 });
  });

  it('releases a record of a newer version untouched, without an attempt, and reports it', async () => {
    const newer = recordOfVersion(RECORD_VERSION + 1, { from: 'the future' }, ['a field this version does not know']);
    await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry('future', newer)] });
    const errors: Error[] = [];
    const ran: string[] = [];
    const reported = deferred();
    const w = s.trackWorker(new Worker(s.name, (job) => void ran.push(job.id), { connection: s.url }));
    w.on('error', (e) => {
      errors.push(e);
      reported.resolve();
    });
    await reported.promise;
    expect(errors[0]).toBeInstanceOf(RecordVersionError);
    expect(errors[0]).toMatchObject({ code: 'RECORD_VERSION', jobId: 'future', version: RECORD_VERSION + 1, supported: RECORD_VERSION });
    // released for later (delayed), attempt given back, record byte for byte as it was, not dead
    await waitFor(async () => (await s.admin.zscore(s.keys.delayed, 'future')) !== null, 2000, 'the release');
    const q = s.track(new Queue(s.name, { connection: s.url }));
    expect(await q.getJob('future')).toMatchObject({ state: 'delayed', attemptsMade: 0, errors: [] });
    expect(await s.admin.hgetBuffer(s.keys.jobs, 'future')).toEqual(newer);
    expect(await q.counts()).toMatchObject({ dead: 0, leased: 0 });
    expect(ran).toEqual([]);
  });
});
