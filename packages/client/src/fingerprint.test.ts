// Unit tests of error fingerprints: what the normalisation replaces, what it keeps, and which
// errors end up in one group. test/behaviour/dead-letter-admin.test.ts groups real dead jobs.
import { describe, expect, it } from 'vitest';
import { errorFingerprint, normaliseMessage, topFrame } from './fingerprint.js';

const stack = (first: string, ...rest: string[]): string => ['Error: x', `    at ${first}`, ...rest.map((r) => `    at ${r}`)].join('\n');

describe('normaliseMessage', () => {
  it.each([
    ['order 1234 failed after 5000 ms', 'order <n> failed after <n> ms'],
    ['took 1.25 s', 'took <n>.<n> s'],
    ['connect ECONNREFUSED 10.0.3.7:587', 'connect ECONNREFUSED <n>.<n>.<n>.<n>:<n>'],
    ['user 3f2b1c9e-0d4a-4c1e-9f7a-2b8c6d5e4f30 not found', 'user <uuid> not found'],
    ['user 3F2B1C9E-0D4A-4C1E-9F7A-2B8C6D5E4F30 not found', 'user <uuid> not found'],
    ['document 64b7f0c2e4a1d93b5c8e2f17 is locked', 'document <hex> is locked'],
    ['bad pointer 0x7ffd2a', 'bad pointer <hex>'],
    ['key "user:42:profile" missing', 'key <str> missing'],
    ["can't read 'x y' of `z`", "can't read <str> of <str>"],
    ["it's the user's 'id'", "it's the user's <str>"],
    ['unexpected token \'}\' in "a\\"b"', 'unexpected token <str> in <str>'],
    ['  spaces\n and\tnewlines  ', 'spaces and newlines'],
  ])('%j → %j', (message, expected) => {
    expect(normaliseMessage(message)).toBe(expected);
  });

  it('keeps words that merely look like hex, and plain words', () => {
    expect(normaliseMessage('cafe facade decade accepted')).toBe('cafe facade decade accepted');
    expect(normaliseMessage('mail provider unavailable')).toBe('mail provider unavailable');
  });
});

describe('topFrame', () => {
  it('takes the first frame, without line and column, and only the file name', () => {
    expect(topFrame(stack('sendMail (/srv/app/releases/41/dist/mail.js:42:13)', 'run (/srv/app/dist/worker.js:10:5)'))).toBe('sendMail (mail.js)');
    expect(topFrame(stack('file:///srv/app/dist/mail.mjs:42:13'))).toBe('mail.mjs');
    expect(topFrame(stack('async Promise.all (index 0)'))).toBe('async Promise.all (index 0)');
    expect(topFrame(stack('new Mailer (C:\\app\\dist\\mailer.js:3:1)'))).toBe('new Mailer (mailer.js)');
  });

  it('is empty without a stack or without frames', () => {
    expect(topFrame(undefined)).toBe('');
    expect(topFrame('')).toBe('');
    expect(topFrame('Error: no frames here\nat the start of a line is not a frame')).toBe('');
  });
});

describe('errorFingerprint', () => {
  const smtp = (host: number, code: number, line: number) => ({
    name: 'SmtpError',
    message: `smtp-${host}.example.com refused the connection (${code})`,
    stack: stack(`sendMail (/app/v${line}/mail.js:${line}:7)`),
  });

  it('is the same for errors that differ only in numbers, ids and where the code was deployed', () => {
    const a = errorFingerprint(smtp(3, 421, 42));
    const b = errorFingerprint(smtp(11, 450, 57));
    expect(a).toEqual(b);
    expect(a).toMatchObject({ name: 'SmtpError', message: 'smtp-<n>.example.com refused the connection (<n>)', frame: 'sendMail (mail.js)' });
    expect(a.fingerprint).toMatch(/^[0-9a-f]{12}$/);
  });

  it('differs with the name, the message or the top frame', () => {
    const base = errorFingerprint(smtp(3, 421, 42)).fingerprint;
    expect(errorFingerprint({ ...smtp(3, 421, 42), name: 'Error' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ ...smtp(3, 421, 42), message: 'smtp-3.example.com timed out' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ ...smtp(3, 421, 42), stack: stack('deliver (/app/queue.js:1:1)') }).fingerprint).not.toBe(base);
  });

  it('takes an error without a stack, and no error at all', () => {
    expect(errorFingerprint({ name: 'LeaseExpired', message: 'lease expired: the worker died' })).toMatchObject({ frame: '' });
    expect(errorFingerprint(undefined)).toMatchObject({ name: '', message: '', frame: '' });
  });
});
