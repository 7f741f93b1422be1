/** The exit codes of `kyoo`, documented in docs/operations.md. */
export const EXIT = {
  /** Done as asked. */
  OK: 0,
  /** Something failed: Redis unreachable, a refused redrive, an unexpected error. */
  ERROR: 1,
  /** The command line is wrong (unknown option, bad value, missing `--yes` when stdin is no terminal): nothing was done. */
  USAGE: 2,
  /** The queue, job, dead job or redrive task named does not exist. */
  NOT_FOUND: 3,
  /** Part of the work was done: an interrupted replay, or jobs that were asked for but not replayed or purged. */
  PARTIAL: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the command with its exit code and message (no stack). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.ERROR,
  ) {
    super(message);
  }
}

/** The command line is wrong. */
export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose help to point at. */
    readonly command = '',
  ) {
    super(message, EXIT.USAGE);
  }
}

/** What was named does not exist. */
export class NotFoundError extends CliError {
  constructor(message: string) {
    super(message, EXIT.NOT_FOUND);
  }
}
