import { createInterface } from 'node:readline/promises';
import { CliError, EXIT, UsageError } from './exit.js';

/** Where a confirmation is asked. */
export interface Terminal {
  /** stdin is a terminal: someone can answer. */
  interactive: boolean;
  ask(question: string): Promise<string>;
}

/** The process's own terminal. */
export const processTerminal: Terminal = {
  interactive: process.stdin.isTTY === true,
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    // Ctrl-C at the prompt reaches readline, not the process: it is a no
    const stop = new AbortController();
    rl.on('SIGINT', () => stop.abort());
    try {
      return await rl.question(question, { signal: stop.signal });
    } catch {
      process.stderr.write('\n');
      return '';
    } finally {
      rl.close();
    }
  },
};

/**
 * Lets a destructive action go ahead: at once with `--yes`; on a terminal
 * after the operator answers yes to `question()` (asked only then); never
 * otherwise (a script must say `--yes`), and then nothing has been changed.
 */
export async function confirm(verb: string, question: () => string | Promise<string>, yes: boolean, terminal: Terminal = processTerminal): Promise<void> {
  if (yes) return;
  if (!terminal.interactive) {
    throw new UsageError(`refusing to ${verb} without --yes (stdin is not a terminal, so no one can confirm); nothing was changed. --dry-run shows what it would do`);
  }
  const what = await question();
  const answer = (await terminal.ask(`${what[0]!.toUpperCase()}${what.slice(1)}? [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new CliError('not confirmed; nothing was changed', EXIT.ERROR);
}
