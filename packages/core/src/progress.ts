import { InvalidOptionError } from './errors.js';

/** A value that JSON carries exactly: what a job's progress may be. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A job's latest progress, as `getJob()` and waiting producers see it. */
export interface JobProgress {
  /** What the handler reported (`job.progress(value)`). */
  value: JsonValue;
  /** The run that reported it. */
  attempt: number;
  /** When (ms since epoch, Redis clock). */
  at: number;
}

/** Largest progress value accepted, as JSON (bytes). */
export const MAX_PROGRESS_BYTES = 4096;

/**
 * The JSON of a progress value: a finite number, or a small object, array,
 * string, boolean or null of such values, at most {@link MAX_PROGRESS_BYTES}
 * as JSON. Anything JSON would not give back exactly (`undefined`, `NaN`,
 * `-0`, a `Date`, a `Map`, a class instance, a hole in an array) is refused
 * with {@link InvalidOptionError}, never changed.
 */
export function encodeProgress(value: unknown): string {
  const fail = (path: string, what: string): never => {
    throw new InvalidOptionError('progress', `${path === '' ? 'the value' : path} is ${what}; progress is a number or a small object of JSON values (strings, finite numbers, booleans, null, arrays, plain objects)`);
  };
  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > 32) fail(path, 'nested deeper than 32 levels');
    switch (typeof v) {
      case 'string': case 'boolean': return;
      case 'number':
        if (!Number.isFinite(v)) fail(path, String(v));
        if (Object.is(v, -0)) fail(path, '-0');
        return;
      case 'object': break;
      default: fail(path, typeof v);
    }
    if (v === null) return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) fail(`${path}[${i}]`, 'a hole in an array');
        walk(v[i], `${path}[${i}]`, depth + 1);
      }
      return;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) fail(path, `an instance of ${(v as object).constructor?.name || 'a class'}`);
    if (Object.getOwnPropertySymbols(v).length > 0) fail(path, 'an object with symbol keys');
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) fail(path, 'an object with a "__proto__" key');
    for (const [k, member] of Object.entries(v as Record<string, unknown>)) walk(member, path === '' ? k : `${path}.${k}`, depth + 1);
  };
  walk(value, '', 0);
  const json = JSON.stringify(value);
  if (Buffer.byteLength(json) > MAX_PROGRESS_BYTES) fail('', `${Buffer.byteLength(json)} bytes as JSON, more than ${MAX_PROGRESS_BYTES}`);
  return json;
}

/** A `progress` hash value, `<attempt>,<ms>,<json>` (lua/progress.lua); `undefined` when unreadable. */
export function decodeProgress(stored: string | null | undefined): JobProgress | undefined {
  if (!stored) return undefined;
  const m = /^(\d+),(\d+),/.exec(stored);
  if (!m) return undefined;
  try {
    return { value: JSON.parse(stored.slice(m[0].length)) as JsonValue, attempt: Number(m[1]), at: Number(m[2]) };
  } catch {
    return undefined;
  }
}
