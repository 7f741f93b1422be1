// Unit tests of the codecs: what data is kept exactly or refused (checkExact, encodeData),
// and the job record's framing (encodeRecord / decodeRecord), which lua/includes/record.lua
// reads too.
import { describe, expect, it } from 'vitest';
import { checkExact, decode, decodeData, decodeRecord, encode, encodeData, encodeRecord, type JobRecord } from './codec.js';
import { DecodeError, InvalidOptionError } from './errors.js';
import { RECORD_FIELDS, RECORD_VERSION } from './scripts.generated.js';

function refused(value: unknown, option = 'data'): string {
  let err: unknown;
  try {
    checkExact(option, value);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidOptionError);
  expect(err).toMatchObject({ code: 'INVALID_OPTION', option });
  return (err as Error).message;
}

describe('checkExact', () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const nested = (depth: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };

  it.each([
    ['a Map', { m: new Map() }, 'invalid data: m is a Map, which would not come back the same from Redis; use a plain object (Object.fromEntries) or an array of [key, value] pairs'],
    ['-0 at the top', -0, 'invalid data: the value is -0, which would not come back the same from Redis; send 0'],
    ['-0 deep inside', { a: { b: [1, -0] } }, 'invalid data: a.b[1] is -0, which would not come back the same from Redis; send 0'],
    ['a class instance', { price: new Money(5) }, 'invalid data: price is an instance of Money, which would not come back the same from Redis; send plain data (an object, array, string, number, ...) and rebuild the instance in the worker'],
    ['an Error', [new TypeError('x')], 'invalid data: [0] is an instance of TypeError, which would not come back the same from Redis; send plain data (an object, array, string, number, ...) and rebuild the instance in the worker'],
    ['a hole', { a: [1, , 3] }, 'invalid data: a[1] is a hole in an array, which would not come back the same from Redis; send plain data'], // eslint-disable-line no-sparse-arrays
    ['a function', { f: () => 1 }, 'invalid data: f is a function, which would not come back the same from Redis; send plain data'],
    ['a symbol', { s: Symbol('x') }, 'invalid data: s is a symbol, which would not come back the same from Redis; send plain data'],
    ['a symbol key', { [Symbol('k')]: 1 }, 'invalid data: the value is an object with symbol keys, which would not come back the same from Redis; send plain data'],
    ['a __proto__ key', { x: JSON.parse('{"__proto__": 1}') }, 'invalid data: x is an object with a "__proto__" key, which would not come back the same from Redis; send plain data'],
    ['a Map inside a Set', new Set([1, new Map()]), 'invalid data: <set member 1> is a Map, which would not come back the same from Redis; use a plain object (Object.fromEntries) or an array of [key, value] pairs'],
  ])('refuses %s, naming where it is and what to send instead', (_what, value, message) => {
    expect(refused(value)).toBe(message);
  });

  it('names the option it is given (a result, a job of a bulk add)', () => {
    expect(refused(new Map(), 'jobs[3].data')).toMatch(/^invalid jobs\[3\]\.data: the value is a Map/);
  });

  it('accepts containers inside 256 levels of containers and refuses one level more (a cycle gets there too)', () => {
    // nested(n): n arrays, the innermost inside n - 1 others
    expect(() => checkExact('data', nested(257))).not.toThrow();
    expect(refused(nested(258))).toMatch(/nested deeper than 256 levels \(a cycle\?\)/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(refused(cycle)).toMatch(/^invalid data: self(\.self)+ is nested deeper than 256 levels/);
  });

  it('accepts every kind of data the data codec keeps', () => {
    const ok = [
      null, undefined, true, 0, -1.5, 2 ** 53, 'text', 10n ** 30n, -(2n ** 63n),
      new Date(0), Buffer.from([1, 2]), new Uint8Array(3), new Float64Array([1.5]), new BigInt64Array([5n]),
      new Set(['a', 1]), [1, [2, [3]]], { a: { b: null } }, Object.create(null) as object,
    ];
    for (const v of ok) expect(() => checkExact('data', v)).not.toThrow();
  });
});

describe('encodeData / decodeData', () => {
  it('round-trips what JSON would change: BigInts, undefined, Sets, Dates, typed arrays', () => {
    const data = { big: 2n ** 64n + 1n, small: 7n, u: undefined, list: [1, undefined], tags: new Set(['x']), at: new Date(1_700_000_000_123), bytes: new Uint8Array([0, 255]) };
    expect(decodeData(encodeData('data', data))).toStrictEqual(data);
  });

  it('checks before it encodes: nothing unexact gets through', () => {
    expect(() => encodeData('result', { m: new Map() })).toThrow(InvalidOptionError);
    expect(() => encodeData('result', { m: new Map() })).toThrow(/^invalid result: m is a Map/);
  });

  it('decodeData and decode throw DecodeError on malformed bytes, naming what they decoded', () => {
    const truncated = Uint8Array.from([0xa5, 0x68]); // a 5-byte string cut after 1 byte
    expect(() => decodeData(truncated, 'job payload')).toThrow(DecodeError);
    expect(() => decodeData(truncated, 'job payload')).toThrow(/^could not decode job payload: /);
    expect(() => decode(truncated, 'error history')).toThrow(DecodeError);
    expect(decode(encode([1, 'a', { b: 2 }]))).toEqual([1, 'a', { b: 2 }]);
  });
});

describe('job records', () => {
  const rec = (over: Partial<JobRecord> = {}): JobRecord => ({
    payload: encodeData('data', { hello: 'world' }),
    attempts: 4,
    backoffType: 'exponential',
    backoffMs: 250,
    backoffMaxMs: 10_000,
    jitter: 0.2,
    createdAt: 1_700_000_000_000,
    timeoutMs: 30_000,
    priority: -7,
    dedupKey: 'invoice:1',
    dedupMode: 3,
    ...over,
  });

  it('are framed as 0xC1, the header length (2 bytes, big-endian), the header, then the payload bytes as they are', () => {
    const r = rec();
    const bytes = encodeRecord(r);
    expect(bytes[0]).toBe(0xc1);
    const len = bytes.readUInt16BE(1);
    // the header is [version, ...fields in schema order], backoffType as its number (exponential = 1);
    // a record without schedule fields is written as version 2, which older workers read
    expect(decode(bytes.subarray(3, 3 + len))).toEqual([2, 4, 1, 250, 10_000, 0.2, 1_700_000_000_000, 30_000, -7, 'invoice:1', 3]);
    expect(RECORD_FIELDS.map((f) => f.name)).toEqual(['attempts', 'backoffType', 'backoffMs', 'backoffMaxMs', 'jitter', 'createdAt', 'timeoutMs', 'priority', 'dedupKey', 'dedupMode', 'schedule', 'occurrence', 'traceparent', 'tracestate', 'group']);
    expect(Buffer.from(bytes.subarray(3 + len))).toEqual(Buffer.from(r.payload));
  });

  it('with schedule fields are written as version 3, the fields appended', () => {
    const bytes = encodeRecord(rec({ schedule: 'nightly', occurrence: 1_800_000_000_000, traceparent: '', tracestate: '' }));
    const len = bytes.readUInt16BE(1);
    expect(decode(bytes.subarray(3, 3 + len))).toEqual([3, 4, 1, 250, 10_000, 0.2, 1_700_000_000_000, 30_000, -7, 'invoice:1', 3, 'nightly', 1_800_000_000_000]);
    expect(decodeRecord(bytes)).toMatchObject({ version: 3, schedule: 'nightly', occurrence: 1_800_000_000_000, traceparent: '' });
  });

  it('with a trace context are written as version 4, the fields of version 3 empty when unused', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const bytes = encodeRecord(rec({ traceparent }));
    const len = bytes.readUInt16BE(1);
    expect(decode(bytes.subarray(3, 3 + len))).toEqual([4, 4, 1, 250, 10_000, 0.2, 1_700_000_000_000, 30_000, -7, 'invoice:1', 3, '', 0, traceparent, '']);
    expect(decodeRecord(bytes)).toMatchObject({ version: 4, schedule: '', occurrence: 0, traceparent, tracestate: '', group: '' });
    const both = decodeRecord(encodeRecord(rec({ schedule: 'nightly', occurrence: 1, traceparent, tracestate: 'vendor=abc' })));
    expect(both).toMatchObject({ version: 4, schedule: 'nightly', occurrence: 1, traceparent, tracestate: 'vendor=abc' });
    // the payload stays apart, byte for byte
    expect(Buffer.from(both.payload)).toEqual(Buffer.from(rec().payload));
  });

  it('with a group are written as version 5, the fields before it empty when unused', () => {
    const bytes = encodeRecord(rec({ group: 'tenant:7' }));
    const len = bytes.readUInt16BE(1);
    expect(decode(bytes.subarray(3, 3 + len))).toEqual([5, 4, 1, 250, 10_000, 0.2, 1_700_000_000_000, 30_000, -7, 'invoice:1', 3, '', 0, '', '', 'tenant:7']);
    expect(RECORD_VERSION).toBe(5);
    expect(decodeRecord(bytes)).toMatchObject({ version: 5, group: 'tenant:7', traceparent: '' });
  });

  it('decode to what was encoded, with the version', () => {
    const r = rec({ backoffType: 'fixed' });
    const back = decodeRecord(encodeRecord(r));
    expect({ ...back, payload: Buffer.from(back.payload) }).toEqual({ ...r, payload: Buffer.from(r.payload), version: 2, schedule: '', occurrence: 0, traceparent: '', tracestate: '', group: '' });
  });

  it('refuse options whose header would not fit in 65,535 bytes', () => {
    expect(() => encodeRecord(rec({ dedupKey: 'k'.repeat(70_000) }))).toThrow(InvalidOptionError);
    expect(() => encodeRecord(rec({ dedupKey: 'k'.repeat(70_000) }))).toThrow(/over 65535/);
  });

  it('of version 1 (one length byte, eight fields) decode with the later fields empty', () => {
    const header = encode([1, 3, 1, 100, 0, 0, 1_600_000_000_000, 5000]);
    const payload = encode({ legacy: true });
    const back = decodeRecord(Buffer.concat([Buffer.from([header.length]), header, payload]));
    expect({ ...back, payload: Buffer.from(back.payload) }).toEqual({
      version: 1, attempts: 3, backoffType: 'exponential', backoffMs: 100, backoffMaxMs: 0, jitter: 0,
      createdAt: 1_600_000_000_000, timeoutMs: 5000, priority: 0, dedupKey: '', dedupMode: 0, schedule: '', occurrence: 0, traceparent: '', tracestate: '', group: '', payload,
    });
  });

  it('of a newer version decode the fields this version knows, and tell their version', () => {
    const header = encode([RECORD_VERSION + 1, 2, 0, 5, 0, 0, 1, 0, 3, '', 0, 'a field from the future']);
    const payload = encode('x');
    const out = Buffer.alloc(3);
    out[0] = 0xc1;
    out.writeUInt16BE(header.length, 1);
    const back = decodeRecord(Buffer.concat([out, header, payload]));
    expect(back).toMatchObject({ version: RECORD_VERSION + 1, attempts: 2, backoffMs: 5, priority: 3 });
    expect(Buffer.from(back.payload)).toEqual(payload);
  });

  it('read attempts 0 or missing as 1, and fields of the wrong type as empty', () => {
    const header = encode([2, 0, 'x', null, 'y', Number.NaN]);
    const out = Buffer.alloc(3);
    out[0] = 0xc1;
    out.writeUInt16BE(header.length, 1);
    expect(decodeRecord(Buffer.concat([out, header]))).toMatchObject({ attempts: 1, backoffType: 'fixed', backoffMs: 0, backoffMaxMs: 0, jitter: 0, dedupKey: '' });
  });

  it.each([
    ['empty bytes', Buffer.alloc(0)],
    ['text', Buffer.from('not a record')],
    ['a header length past the end', Buffer.from([0xc1, 0x00, 0x09, 0x93, 1])],
    ['0xC1 with no length', Buffer.from([0xc1, 0x00])],
    ['a header that is not an array', Buffer.concat([Buffer.from([0xc1, 0x00, 0x06]), encode('hello')])],
    ['version 1 in the 0xC1 framing', Buffer.concat([Buffer.from([0xc1, 0x00, 0x02]), encode([1])])],
    ['version 2 in the one-byte framing', Buffer.concat([Buffer.from([2]), encode([2])])],
    ['a version that is not an integer', Buffer.concat([Buffer.from([0xc1, 0x00, 0x0a]), encode([2.5])])],
  ])('that are not records (%s) throw DecodeError', (_what, bytes) => {
    expect(() => decodeRecord(bytes)).toThrow(DecodeError);
    expect(() => decodeRecord(bytes)).toThrow(/^could not decode job record/);
  });
});
