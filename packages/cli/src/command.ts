import type { OptionSpecs, Parsed } from './args.js';
import type { Context } from './context.js';
import type { ExitCode } from './exit.js';

/** One `kyoo` command: its help and what it does. */
export interface Command {
  /** Its words, e.g. `dlq replay`. */
  name: string;
  /** The usage line after `kyoo `, e.g. `dlq replay <queue> [filters] [options]`. */
  usage: string;
  /** One line, for the list of commands. */
  summary: string;
  /** What it does, for its --help. */
  about: string;
  options: OptionSpecs;
  /** More help after the options (examples). */
  extra?: string;
  run(ctx: Context, p: Parsed): Promise<ExitCode>;
}
