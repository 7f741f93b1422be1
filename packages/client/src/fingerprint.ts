import { createHash } from 'node:crypto';

/** What groups dead jobs together: their last error's name, normalised message and top stack frame. */
export interface ErrorFingerprint {
  /** 12 hex characters naming the group (a hash of the three fields below). */
  fingerprint: string;
  /** The error's name, e.g. `TypeError`. */
  name: string;
  /** The message with what varies from job to job replaced: quoted strings by `<str>`, UUIDs by `<uuid>`, hex ids by `<hex>`, numbers by `<n>`. */
  message: string;
  /** The top frame of the stack without line and column, and of its file the name only (`sendMail (mail.js)`); `''` without a stack. */
  frame: string;
}

/** A quoted string; a quote inside a word (`can't`) opens none. */
const QUOTED = /(?<!\w)(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)(?!\w)/g;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
/** `0x1f`, or a run of 6 or more hex digits with both a digit and a letter in it (object ids, hashes, request ids). */
const HEX = /\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b/gi;
const NUMBER = /\d+/g;

/**
 * An error message with what varies from one job to the next replaced, so
 * that `order 1234 failed: "timeout" after 5000 ms` and `order 98 failed:
 * "refused" after 30 ms` read the same: `order <n> failed: <str> after <n> ms`.
 */
export function normaliseMessage(message: string): string {
  return message
    .replace(QUOTED, '<str>')
    .replace(UUID, '<uuid>')
    .replace(HEX, '<hex>')
    .replace(NUMBER, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The first `at ...` line of a V8 stack, without line and column and with
 * only the file's name: deploying to another directory, or a change elsewhere
 * in the file, leaves the group as it was.
 */
export function topFrame(stack: string | undefined): string {
  if (!stack) return '';
  const line = stack.split('\n').find((l) => /^\s+at\s/.test(l));
  if (!line) return '';
  const text = line.trim().slice(3).trim();
  const m = /^(.*?)\s*\((.*)\)$/.exec(text);
  const [fn, location] = m ? [m[1]!, m[2]!] : ['', text];
  const file = location.replace(/(:\d+)+$/, '').replace(/^.*[\\/]/, '');
  return fn ? `${fn} (${file})` : file;
}

/**
 * The fingerprint of an error as the dead-letter queue keeps it: jobs whose
 * last errors share one came to grief the same way, and can be replayed or
 * purged together (`queue.dead.groups()`, a filter's `fingerprint`).
 * @example
 * errorFingerprint({ name: 'SmtpError', message: 'smtp-3.example.com refused (421)' })
 * // { fingerprint: '…', name: 'SmtpError', message: 'smtp-<n>.example.com refused (<n>)', frame: '' }
 */
export function errorFingerprint(error: { name: string; message: string; stack?: string } | undefined): ErrorFingerprint {
  const name = error?.name ?? '';
  const message = normaliseMessage(error?.message ?? '');
  const frame = topFrame(error?.stack);
  const fingerprint = createHash('sha1').update(`${name}\n${message}\n${frame}`).digest('hex').slice(0, 12);
  return { fingerprint, name, message, frame };
}
