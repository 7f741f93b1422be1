// One check for "refused with InvalidOptionError naming `option`", shared by the unit tests next
// to the code (packages/*/src/*.test.ts), which import the errors from source, and by tests that
// import them from the built packages: so it checks the error's name and code, not its class.
import { expect } from 'vitest';

/** Runs `fn`, which must throw an InvalidOptionError naming `option` (field and message); returns the error. */
export function invalidOption(fn: () => unknown, option: string): Error & { option: string } {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(Error);
  expect(err).toMatchObject({ name: 'InvalidOptionError', code: 'INVALID_OPTION', option });
  expect((err as Error).message.startsWith(`invalid ${option}: `)).toBe(true);
  return err as Error & { option: string };
}
