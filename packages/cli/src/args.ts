import { parseArgs } from 'node:util';
import { UsageError } from './exit.js';

/** One option of a command, as `node:util` parseArgs takes it, with its help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown after the option in the help, e.g. `URL`. */
  value?: string;
  help: string;
  /** The help section it is listed under. @defaultValue 'Options' */
  section?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** What parsing gives a command. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** The options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  redis: { type: 'string', value: 'URL', section: 'Global options', help: 'Redis to use: redis://, rediss://, or redis-cluster://host:port,host:port for a Redis Cluster (default: $REDIS_URL, else redis://127.0.0.1:6379)' },
  prefix: { type: 'string', value: 'PREFIX', section: 'Global options', help: 'key prefix of the queues (default: kyoo)' },
  json: { type: 'boolean', section: 'Global options', help: 'machine-readable output: one JSON document (NDJSON, one object a line, for tail and --watch)' },
  help: { type: 'boolean', short: 'h', section: 'Global options', help: 'show this help' },
};

/** Global options that take a value: skipped when looking for the command's words. */
const VALUED = new Set(['--redis', '--prefix']);

/**
 * Splits argv into the command's words (`dlq`, `replay`), found among the
 * first non-option arguments (global options may come before them), and
 * the rest.
 */
export function commandWords(argv: readonly string[], isGroup: (word: string) => boolean): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      rest.push(a);
      if (VALUED.has(a) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    words.push(a);
    if (words.length === 2 || !isGroup(a)) {
      i++;
      break;
    }
  }
  return { words, rest: [...rest, ...argv.slice(i)] };
}

/** Parses a command's arguments; a mistake is a {@link UsageError} naming it. */
export function parse(command: string, args: readonly string[], specs: OptionSpecs): Parsed {
  const options = Object.fromEntries(Object.entries({ ...GLOBAL_OPTIONS, ...specs }).map(([name, s]) => [name, {
    type: s.type,
    ...(s.short === undefined ? {} : { short: s.short }),
    ...(s.multiple === undefined ? {} : { multiple: s.multiple }),
  }]));
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option/, 'unknown option');
    throw new UsageError(message, command);
  }
}

/** A string option, or undefined. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable option, commas splitting values too. */
export function list(p: Parsed, name: string): string[] | undefined {
  const v = p.values[name];
  if (v === undefined) return undefined;
  const all = (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  return all;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** A whole number option within bounds, or `dflt`. */
export function int(p: Parsed, name: string, dflt: number, min: number, max: number): number {
  const v = str(p, name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} takes a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** A number option within bounds (e.g. a rate: `0.5`, `20`). */
export function positive(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} takes a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration option: `500ms`, `30s`, `5m`, `2h`, `7d`, `1w` (a number needs its unit). */
export function duration(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(v.trim());
  if (!m) throw new UsageError(`--${name} takes a duration with its unit, like 90s, 15m, 2h or 7d; got ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** Checks the positionals' count against `names` (a trailing `?` marks an optional one). */
export function positionals(command: string, p: Parsed, names: readonly string[]): string[] {
  const required = names.filter((n) => !n.endsWith('?')).length;
  if (p.positionals.length < required) throw new UsageError(`missing ${names.slice(p.positionals.length).filter((n) => !n.endsWith('?')).map((n) => `<${n}>`).join(' ')}`, command);
  if (p.positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[names.length])}`, command);
  return p.positionals;
}

/** The help of one command. */
export function renderHelp(usage: string, about: string, specs: OptionSpecs, extra = ''): string {
  const sections = new Map<string, [string, string][]>();
  for (const [name, s] of Object.entries({ ...specs, ...GLOBAL_OPTIONS })) {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.value ? ` ${s.value}` : ''}`;
    const section = s.section ?? 'Options';
    sections.set(section, [...(sections.get(section) ?? []), [left, s.help]]);
  }
  const width = Math.max(...[...sections.values()].flat().map(([l]) => l.length)) + 2;
  const out = [`Usage: ${usage}`, '', about];
  for (const [title, rows] of sections) {
    out.push('', `${title}:`);
    for (const [l, r] of rows) out.push(`  ${l.padEnd(width)}${r}`);
  }
  if (extra) out.push('', extra);
  out.push('', 'Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 partial success.');
  return `${out.join('\n')}\n`;
}
