import { Packr } from 'msgpackr';
import { DecodeError, InvalidOptionError } from './errors.js';
import { RECORD_FIELDS, RECORD_VERSION } from './scripts.generated.js';

/**
 * msgpack in plain mode (no record extension), so Redis's built-in `cmsgpack`
 * can read what the client writes: scripts decode a job record's header when
 * a lease expires, and error entries when they append to a job's history.
 */
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, mapsAsObjects: true, int64AsType: 'number' });

/**
 * msgpack for your data (job payloads and results), which scripts never
 * read: msgpackr's extensions keep `undefined`, BigInts of any size, `Set`,
 * `Date` and typed arrays exactly. {@link checkExact} refuses what would not
 * come back the same.
 */
const dataPackr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, int64AsType: 'bigint', useBigIntExtension: true });

/** Deepest nesting accepted in data (deeper is most likely a cycle). */
const MAX_DEPTH = 256;

const TYPED_ARRAYS = [
  Uint8Array, Uint8ClampedArray, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;

/**
 * Throws {@link InvalidOptionError} (naming `option` and the path inside it)
 * when `value` holds something the data codec would not give back exactly:
 * a `Map` (it would come back as an object), `-0` (as `0`), an array with
 * holes, a class instance other than `Date`, `Set`, `Buffer` and typed
 * arrays (its class would be lost), a function, a symbol, a symbol key, a
 * `__proto__` key (decoders rename it), or nesting deeper than 256 levels.
 */
export function checkExact(option: string, value: unknown): void {
  const fail = (path: string, what: string): never => {
    throw new InvalidOptionError(option, `${path === '' ? 'the value' : path} is ${what}, which would not come back the same from Redis; ${hint(what)}`);
  };
  const walk = (v: unknown, path: string, depth: number): void => {
    switch (typeof v) {
      case 'string': case 'boolean': case 'undefined': case 'bigint':
        return;
      case 'number':
        if (Object.is(v, -0)) fail(path, '-0');
        return;
      case 'function': case 'symbol':
        fail(path, `a ${typeof v}`);
    }
    if (v === null) return;
    if (depth > MAX_DEPTH) fail(path, `nested deeper than ${MAX_DEPTH} levels (a cycle?)`);
    const o = v as object;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        if (!(i in o)) fail(`${path}[${i}]`, 'a hole in an array');
        walk(o[i], `${path}[${i}]`, depth + 1);
      }
      return;
    }
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) {
      if (Object.getOwnPropertySymbols(o).length > 0) fail(path, 'an object with symbol keys');
      for (const key in o) {
        if (!Object.prototype.hasOwnProperty.call(o, key)) continue;
        if (key === '__proto__') fail(path, 'an object with a "__proto__" key');
        walk((o as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`, depth + 1);
      }
      if (Object.prototype.hasOwnProperty.call(o, '__proto__')) fail(path, 'an object with a "__proto__" key');
      return;
    }
    if (o instanceof Date || Buffer.isBuffer(o) || TYPED_ARRAYS.some((t) => o instanceof t)) return;
    if (o instanceof Set) {
      let i = 0;
      for (const member of o) walk(member, `${path}<set member ${i++}>`, depth + 1);
      return;
    }
    if (o instanceof Map) fail(path, 'a Map');
    fail(path, `an instance of ${(o.constructor as { name?: string } | undefined)?.name || 'a class'}`);
  };
  walk(value, '', 0);
}

function hint(what: string): string {
  if (what === 'a Map') return 'use a plain object (Object.fromEntries) or an array of [key, value] pairs';
  if (what.startsWith('an instance')) return 'send plain data (an object, array, string, number, ...) and rebuild the instance in the worker';
  if (what === '-0') return 'send 0';
  return 'send plain data';
}

/**
 * Encodes your data (a payload or result) exactly, or throws
 * {@link InvalidOptionError} naming `option` when it cannot round-trip (see {@link checkExact}).
 */
export function encodeData(option: string, value: unknown): Buffer {
  checkExact(option, value);
  try {
    return dataPackr.pack(value);
  } catch (cause) {
    throw new InvalidOptionError(option, `it cannot be encoded as msgpack: ${(cause as Error).message}`);
  }
}

/** Decodes data written by {@link encodeData}, throwing {@link DecodeError} on malformed input. */
export function decodeData(bytes: Uint8Array, what = 'data'): unknown {
  try {
    return dataPackr.unpack(bytes);
  } catch (cause) {
    throw new DecodeError(`could not decode ${what}: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
}

/** Encodes any msgpack-able value. */
export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes msgpack bytes, throwing {@link DecodeError} on malformed input. */
export function decode(bytes: Uint8Array, what = 'value'): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    throw new DecodeError(`could not decode ${what}: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
}

/** Backoff between retries. `fixed` waits `delayMs` each time; `exponential` doubles it per attempt. */
export const BACKOFF_TYPES = { fixed: 0, exponential: 1 } as const;

/** What a job record holds, as stored in the `jobs` hash (fields: `packages/core/record-schema.json`). */
export interface JobRecord {
  /** The encoded payload (decoded lazily, so that a bad payload is reported per job). */
  payload: Uint8Array;
  attempts: number;
  backoffType: keyof typeof BACKOFF_TYPES;
  backoffMs: number;
  backoffMaxMs: number;
  jitter: number;
  /** Producer clock, ms since epoch; informational. */
  createdAt: number;
  /** Per-job handler timeout in ms (0 = the worker's default). */
  timeoutMs: number;
  /** Higher runs first; 0 = none. */
  priority: number;
  /** Deduplication key ('' = none). */
  dedupKey: string;
  /** 0 none, 1 until the job completes, 2 a window from the first add, 3 debounce. */
  dedupMode: number;
  /** Id of the schedule whose occurrence made this job ('' or absent = none). */
  schedule?: string;
  /** The occurrence (ms since epoch) this job was made for (0 or absent = none). */
  occurrence?: number;
  /** W3C `traceparent` of the span that added the job ('' or absent = none); kept apart from the payload. */
  traceparent?: string;
  /** W3C `tracestate` that came with {@link JobRecord.traceparent} ('' or absent = none). */
  tracestate?: string;
  /** The job's group key ('' or absent = none). */
  group?: string;
}

/** A decoded record, with the schema version it was written with. */
export interface DecodedRecord extends JobRecord {
  /** The record's schema version; above {@link RECORD_VERSION} it was written by a newer kyoo. */
  version: number;
  schedule: string;
  occurrence: number;
  traceparent: string;
  tracestate: string;
  group: string;
}

/** First byte of a record since schema version 2 (0xC1 is never used by msgpack). */
const RECORD_MARK = 0xc1;
/** Longest header a record can carry (its length takes two bytes). */
const MAX_HEADER_BYTES = 0xffff;

type FieldName = (typeof RECORD_FIELDS)[number]['name'];
/** Records that use no field added later are written as version 2, which workers since 0.1 read. */
const BASE_VERSION = 2;
/** Fields a header of each version holds (fields are appended in the order of their versions). */
const FIELDS_OF = (version: number): number => RECORD_FIELDS.filter((f) => f.since <= version).length;
/** Fields added after the base version, with the version each came with: a non-empty one lifts a record to that version. */
const LATER_FIELDS = RECORD_FIELDS.filter((f) => f.since > BASE_VERSION);
/** Position of each field in a header array ([0] is the version), from the schema. */
const AT = Object.fromEntries(RECORD_FIELDS.map((f, i) => [f.name, i + 1])) as Record<FieldName, number>;

function numAt(h: unknown[], name: FieldName): number {
  const v = h[AT[name]];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function strAt(h: unknown[], name: FieldName): string {
  const v = h[AT[name]];
  return typeof v === 'string' ? v : '';
}

/**
 * Encodes a job record as documented in `lua/includes/record.lua`: the byte
 * 0xC1, the header's length in two bytes, the header (a msgpack array
 * [version, ...fields] in the order of the record schema), then the payload's
 * msgpack bytes as they are. Scripts decode the header alone; Redis's
 * `cmsgpack` never sees the payload, whatever types it holds.
 */
export function encodeRecord(r: JobRecord): Buffer {
  return frameRecord(encodeRecordHeader(r), r.payload);
}

/**
 * A record's header alone (everything but the payload), for {@link frameRecord}: jobs added with
 * the same options in the same millisecond share one, so a batch encodes it once.
 */
export function encodeRecordHeader(r: Omit<JobRecord, 'payload'>): Buffer {
  // the lowest version that holds the record's non-empty fields: workers of that version read it
  let version = BASE_VERSION;
  for (const f of LATER_FIELDS) if (f.since > version && r[f.name]) version = f.since;
  const count = FIELDS_OF(version);
  const fields: (number | string)[] = new Array(count + 1);
  fields[0] = version;
  for (let i = 0; i < count; i++) {
    const name = RECORD_FIELDS[i]!.name;
    fields[i + 1] = name === 'backoffType' ? BACKOFF_TYPES[r.backoffType] : (r[name] ?? (RECORD_FIELDS[i]!.type === 'string' ? '' : 0));
  }
  const header = packr.pack(fields);
  if (header.length > MAX_HEADER_BYTES) throw new InvalidOptionError('options', `the job's options take ${header.length} bytes, over ${MAX_HEADER_BYTES}`);
  return header;
}

/** A record from its header ({@link encodeRecordHeader}) and its encoded payload. */
export function frameRecord(header: Uint8Array, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(3 + header.length + payload.length);
  out[0] = RECORD_MARK;
  out[1] = header.length >> 8;
  out[2] = header.length & 0xff;
  out.set(header, 3);
  out.set(payload, 3 + header.length);
  return out;
}

/**
 * Decodes a job record of any version: a newer one yields the fields this
 * version knows (fields are only ever appended) and its `version`, for the
 * caller to decide. Throws {@link DecodeError} when it is not a record.
 */
export function decodeRecord(bytes: Uint8Array): DecodedRecord {
  let start: number;
  let len: number;
  const framed = bytes[0] === RECORD_MARK;
  if (framed) {
    len = bytes.length >= 3 ? ((bytes[1]! << 8) | bytes[2]!) : 0;
    start = 3;
  } else {
    len = bytes[0] ?? 0; // version 1: one length byte
    start = 1;
  }
  const raw: unknown = len > 0 && bytes.length >= start + len ? decode(bytes.subarray(start, start + len), 'job record') : undefined;
  // version 1 has the one-byte framing, every later version the 0xC1 one
  const version: unknown = Array.isArray(raw) ? raw[0] : undefined;
  if (!Array.isArray(raw) || typeof version !== 'number' || !Number.isInteger(version) || (framed ? version < 2 : version !== 1)) {
    throw new DecodeError('could not decode job record: not a kyoo record');
  }
  const h = raw as unknown[];
  return {
    version,
    payload: bytes.subarray(start + len),
    attempts: numAt(h, 'attempts') || 1,
    backoffType: numAt(h, 'backoffType') === 1 ? 'exponential' : 'fixed',
    backoffMs: numAt(h, 'backoffMs'),
    backoffMaxMs: numAt(h, 'backoffMaxMs'),
    jitter: numAt(h, 'jitter'),
    createdAt: numAt(h, 'createdAt'),
    timeoutMs: numAt(h, 'timeoutMs'),
    priority: numAt(h, 'priority'),
    dedupKey: strAt(h, 'dedupKey'),
    dedupMode: numAt(h, 'dedupMode'),
    schedule: strAt(h, 'schedule'),
    occurrence: numAt(h, 'occurrence'),
    traceparent: strAt(h, 'traceparent'),
    tracestate: strAt(h, 'tracestate'),
    group: strAt(h, 'group'),
  };
}

/** One entry of a job's error history. */
export interface JobError {
  /** Error class name, e.g. `TypeError` or `LeaseExpired`. */
  name: string;
  message: string;
  stack?: string;
  /** The attempt (1-based) that failed. */
  attempt: number;
  /** When it was recorded, ms since epoch (Redis clock). */
  at: number;
}

/** Decodes a job's error history (msgpack array), tolerating unknown shapes. */
export function decodeErrors(bytes: Uint8Array | null): JobError[] {
  if (!bytes) return [];
  const raw = decode(bytes, 'error history');
  if (!Array.isArray(raw)) return [];
  return raw.map((e: Record<string, unknown>) => {
    const entry: JobError = {
      name: typeof e?.name === 'string' ? e.name : 'Error',
      message: typeof e?.message === 'string' ? e.message : String(e?.message ?? ''),
      attempt: typeof e?.attempt === 'number' ? e.attempt : 0,
      at: typeof e?.at === 'number' ? e.at : 0,
    };
    if (typeof e?.stack === 'string') entry.stack = e.stack;
    return entry;
  });
}
