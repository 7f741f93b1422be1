import { Packr } from 'msgpackr';
import { DecodeError } from './errors.js';

/**
 * msgpack in plain mode (no record extension), so Redis's built-in `cmsgpack`
 * can read what the client writes: scripts decode a job record when a lease
 * expires, and error entries when they append to a job's history.
 */
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, mapsAsObjects: true, int64AsType: 'number' });

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

/** What a job record holds, as stored in the `jobs` hash. */
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
}

const RECORD_VERSION = 1;

/**
 * Encodes a job record as documented in `lua/includes/record.lua`: one byte
 * giving the header's length, the header (a msgpack array of numbers), then
 * the payload's msgpack bytes as they are. Scripts decode the header alone;
 * Redis's `cmsgpack` never sees the payload, whatever types it holds.
 */
export function encodeRecord(r: JobRecord): Buffer {
  const header = packr.pack([
    RECORD_VERSION,
    r.attempts,
    BACKOFF_TYPES[r.backoffType],
    r.backoffMs,
    r.backoffMaxMs,
    r.jitter,
    r.createdAt,
    r.timeoutMs,
  ]);
  const out = Buffer.allocUnsafe(1 + header.length + r.payload.length);
  out[0] = header.length;
  header.copy(out, 1);
  out.set(r.payload, 1 + header.length);
  return out;
}

/** Decodes a job record; throws {@link DecodeError} when it is not one. */
export function decodeRecord(bytes: Uint8Array): JobRecord {
  const len = bytes[0] ?? 0;
  const raw = len > 0 && bytes.length > len ? decode(bytes.subarray(1, 1 + len), 'job record') : undefined;
  if (!Array.isArray(raw) || raw[0] !== RECORD_VERSION) {
    throw new DecodeError('could not decode job record: not a kyoo v1 record');
  }
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    payload: bytes.subarray(1 + len),
    attempts: num(raw[1]) || 1,
    backoffType: raw[2] === 1 ? 'exponential' : 'fixed',
    backoffMs: num(raw[3]),
    backoffMaxMs: num(raw[4]),
    jitter: num(raw[5]),
    createdAt: num(raw[6]),
    timeoutMs: num(raw[7]),
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
