import { InvalidOptionError } from './errors.js';

/** Retry spacing for a failed job. */
export interface BackoffOptions {
  /**
   * `fixed` waits `delayMs` before every retry; `exponential` waits
   * `delayMs * 2^(attempt-1)`.
   * @defaultValue `'exponential'`
   */
  type?: 'fixed' | 'exponential';
  /** @defaultValue `1000` */
  delayMs?: number;
  /** Upper bound of one wait (0 = none). @defaultValue `0` */
  maxDelayMs?: number;
  /**
   * Fraction of each wait drawn at random and taken off, so that jobs that
   * failed together do not retry together: 0 = none, 1 = anywhere in [0, delay].
   * @defaultValue `0.2`
   */
  jitter?: number;
}

/** Defaults of job options, in one place. */
export const JOB_DEFAULTS = Object.freeze({
  attempts: 3,
  backoff: Object.freeze({ type: 'exponential' as const, delayMs: 1000, maxDelayMs: 0, jitter: 0.2 }),
  timeoutMs: 0,
  maxPayloadBytes: 512 * 1024,
});

/** Largest delay or duration accepted (about 10 years), to catch unit mistakes. */
export const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;

/** Throws {@link InvalidOptionError} unless `value` is an integer in [min, max]. */
export function checkInt(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `expected an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** Throws {@link InvalidOptionError} unless `value` is a finite number in [min, max]. */
export function checkNumber(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `expected a number from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a plain object (or undefined); returns it typed. */
export function checkObject<T extends object>(option: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(option, `expected an object, got ${show(value)}`);
  }
  return value as Partial<T>;
}

/** Throws unless every key of `value` is one of `known` (catches typos such as `attempt`). */
export function checkKnownKeys(option: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(`${option}.${key}`, `unknown option; expected one of ${known.join(', ')}`);
    }
  }
}

/** Throws {@link InvalidOptionError} naming `option` unless `value` is a job id: a non-empty string. */
export function checkId(option: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(option, `expected a job id (a non-empty string), got ${value === '' ? 'an empty string' : show(value)}`);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A group key: 1-256 characters, no control characters (the scripts order a
 * group's jobs after a NUL byte), and well-formed UTF-16 (a lone surrogate
 * would not come back from Redis as it was). Throws {@link InvalidOptionError} naming `option`.
 */
export function checkGroup(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /[\x00-\x1f\x7f]/.test(value) || LONE_SURROGATE.test(value)) {
    throw new InvalidOptionError(option, `expected a group key: 1-256 characters without control characters, got ${value === '' ? 'an empty string' : show(value)}`);
  }
  return value;
}

/** Validated, complete backoff settings. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** Validates backoff options over `base` (the defaults, or a worker's settings). */
export function resolveBackoff(option: string, value: unknown, base: ResolvedBackoff = JOB_DEFAULTS.backoff): ResolvedBackoff {
  const b = checkObject<BackoffOptions>(option, value);
  checkKnownKeys(option, b, ['type', 'delayMs', 'maxDelayMs', 'jitter']);
  const type = b.type ?? base.type;
  if (type !== 'fixed' && type !== 'exponential') {
    throw new InvalidOptionError(`${option}.type`, `expected 'fixed' or 'exponential', got ${show(type)}`);
  }
  return {
    type,
    delayMs: checkInt(`${option}.delayMs`, b.delayMs ?? base.delayMs, 0, MAX_DURATION_MS),
    maxDelayMs: checkInt(`${option}.maxDelayMs`, b.maxDelayMs ?? base.maxDelayMs, 0, MAX_DURATION_MS),
    jitter: checkNumber(`${option}.jitter`, b.jitter ?? base.jitter, 0, 1),
  };
}

/** The wait before retry number `attempt` (1-based: the wait after the first failure is attempt 1). */
export function backoffDelay(b: ResolvedBackoff, attempt: number, random: () => number = Math.random): number {
  let delay = b.type === 'exponential' ? b.delayMs * 2 ** (attempt - 1) : b.delayMs;
  if (b.maxDelayMs > 0 && delay > b.maxDelayMs) delay = b.maxDelayMs;
  if (b.jitter > 0) delay *= 1 - b.jitter * random();
  return Math.floor(delay);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return typeof value;
}
