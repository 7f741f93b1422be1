import { readFileSync } from 'node:fs';
import { KyooError, RedriveError } from '@kyoo/client';
import { GLOBAL_OPTIONS, commandWords, parse, renderHelp, type Parsed } from './args.js';
import type { Command } from './command.js';
import { dlqPurge, dlqReplay } from './commands/dlq-act.js';
import { dlqGroups, dlqList, dlqShow, dlqTask } from './commands/dlq-read.js';
import { job, pause, resume, schedules } from './commands/queue.js';
import { queues, stats } from './commands/stats.js';
import { tail } from './commands/tail.js';
import { metrics } from './commands/metrics.js';
import { dashboard } from './commands/dashboard.js';
import { Context } from './context.js';
import { CliError, EXIT, UsageError, type ExitCode } from './exit.js';

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [queues, stats, dlqList, dlqShow, dlqGroups, dlqReplay, dlqPurge, dlqTask, job, pause, resume, tail, schedules, metrics, dashboard];

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

/** Where `main` writes its own messages (help, errors), for tests. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: Io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function index(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: kyoo <command> [arguments] [options]',
    '',
    'The operator\'s command for kyoo queues: inspect them, watch them, and work their dead-letter queues.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Global options (every command):',
    ...Object.entries(GLOBAL_OPTIONS).map(([n, s]) => `  ${`${s.short ? `-${s.short}, ` : ''}--${n}${s.value ? ` ${s.value}` : ''}`.padEnd(width + 6)}${s.help}`),
    '',
    'kyoo <command> --help tells more. Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 partial success.',
    '',
  ].join('\n');
}

/**
 * Runs one `kyoo` command line and resolves with its exit code. `signal`
 * aborts long commands (tail, stats --watch, a replay) at their next safe point.
 */
export async function main(argv: readonly string[], signal: AbortSignal, io: Io = processIo): Promise<ExitCode> {
  const { words, rest } = commandWords(argv, (w) => GROUPS.has(w));
  if (words.length === 0 || words[0] === 'help') {
    const asked = words[0] === 'help' || rest.includes('--help') || rest.includes('-h');
    if (rest.includes('--version')) {
      io.stdout(`${version()}\n`);
      return EXIT.OK;
    }
    if (words[0] === 'help' && words.length > 1) return main([...words.slice(1), '--help'], signal, io);
    (asked ? io.stdout : io.stderr)(index());
    return asked ? EXIT.OK : EXIT.USAGE;
  }
  const name = words.join(' ');
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    if (GROUPS.has(words[0]!)) {
      const sub = COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `));
      const text = `Usage: kyoo ${words[0]} <command> ...\n\nCommands:\n${sub.map((c) => `  ${c.name.padEnd(14)}${c.summary}`).join('\n')}\n`;
      const help = rest.includes('--help') || rest.includes('-h');
      if (words.length === 1) {
        (help ? io.stdout : io.stderr)(text);
        return help ? EXIT.OK : EXIT.USAGE;
      }
    }
    io.stderr(`kyoo: no command ${JSON.stringify(name)}. kyoo --help lists them\n`);
    return EXIT.USAGE;
  }
  let ctx: Context | undefined;
  try {
    const p: Parsed = parse(command.name, rest, command.options);
    if (p.values['help'] === true) {
      io.stdout(renderHelp(`kyoo ${command.usage}`, command.about, command.options, command.extra));
      return EXIT.OK;
    }
    ctx = new Context(p, signal);
    return await command.run(ctx, p);
  } catch (err) {
    const { code, message } = describe(err);
    const hint = err instanceof UsageError ? ` (kyoo ${err.command || command.name} --help)` : '';
    io.stderr(`kyoo ${command.name}: ${message}${hint}\n`);
    if (code === EXIT.ERROR && process.env['KYOO_DEBUG'] && err instanceof Error && !(err instanceof CliError)) io.stderr(`${err.stack}\n`);
    return code;
  } finally {
    await ctx?.close();
  }
}

/** The flag an option error of the library is about. */
const FLAGS: [RegExp, string][] = [
  [/^filter\.errorName/, '--error-name'], [/^filter\.message/, '--message'], [/^filter\.fingerprint/, '--group'],
  [/^filter\.ids/, '--id'], [/^filter\.olderThanMs/, '--older-than'], [/^filter\.newerThanMs/, '--newer-than'],
  [/^page\.cursor/, '--cursor'], [/^from$/, '--from'], [/^options\.ratePerSec/, '--rate'],
];

function describe(err: unknown): { code: ExitCode; message: string } {
  if (err instanceof CliError) return { code: err.exitCode, message: err.message };
  if (err instanceof KyooError && err.code === 'INVALID_OPTION') {
    const option = (err as KyooError & { option: string }).option;
    const flag = FLAGS.find(([re]) => re.test(option))?.[1];
    return { code: EXIT.USAGE, message: flag ? `${flag}: ${err.message.replace(/^invalid [^:]*: /, '')}` : err.message };
  }
  if (err instanceof RedriveError) return { code: err.reason === 'none' ? EXIT.NOT_FOUND : EXIT.ERROR, message: err.message };
  return { code: EXIT.ERROR, message: err instanceof Error ? err.message : String(err) };
}
