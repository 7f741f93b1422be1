import type { DeadLetterFilter } from '@kyoo/client';
import { duration, flag, list, str, type OptionSpecs, type Parsed } from '../args.js';
import { UsageError } from '../exit.js';

/** The options that choose dead jobs, shared by dlq list, groups, replay and purge. */
export const FILTER_OPTIONS: OptionSpecs = {
  'error-name': { type: 'string', value: 'NAME', section: 'Filters', help: 'the last error\'s name is NAME (e.g. TypeError)' },
  message: { type: 'string', value: 'TEXT', section: 'Filters', help: 'the last error\'s message contains TEXT' },
  'message-regex': { type: 'string', value: 'RE', section: 'Filters', help: 'the last error\'s message matches RE (a JavaScript RegExp: "refused|timed out", or "/smtp-\\d+/i")' },
  group: { type: 'string', value: 'FINGERPRINT', section: 'Filters', help: 'the last error\'s fingerprint, as kyoo dlq groups shows it' },
  'older-than': { type: 'string', value: 'AGE', section: 'Filters', help: 'died at least AGE ago (90s, 15m, 2h, 7d)' },
  'newer-than': { type: 'string', value: 'AGE', section: 'Filters', help: 'died at most AGE ago' },
  id: { type: 'string', multiple: true, value: 'ID[,ID...]', section: 'Filters', help: 'only these jobs (repeat it, or separate ids with commas)' },
};

/** The filter the command line asks for; `{}` when it names none. */
export function filterOf(p: Parsed): DeadLetterFilter {
  const f: { -readonly [K in keyof DeadLetterFilter]: DeadLetterFilter[K] } = {};
  const name = str(p, 'error-name');
  if (name !== undefined) f.errorName = name;
  const text = str(p, 'message');
  const re = str(p, 'message-regex');
  if (text !== undefined && re !== undefined) throw new UsageError('give --message or --message-regex, not both');
  if (text !== undefined) f.message = text;
  if (re !== undefined) f.message = regex(re);
  const group = str(p, 'group');
  if (group !== undefined) f.fingerprint = group;
  const older = duration(p, 'older-than');
  if (older !== undefined) f.olderThanMs = older;
  const newer = duration(p, 'newer-than');
  if (newer !== undefined) f.newerThanMs = newer;
  const ids = list(p, 'id');
  if (ids !== undefined) f.ids = ids;
  return f;
}

/** Whether a filter names anything. */
export const isEmpty = (f: DeadLetterFilter): boolean => Object.keys(f).length === 0;

/**
 * The filter of a replay or purge: it must name something, or `--all` must
 * say that every dead job is meant (and then nothing else).
 */
export function actionFilter(p: Parsed, verb: string): DeadLetterFilter {
  const f = filterOf(p);
  if (flag(p, 'all') && !isEmpty(f)) throw new UsageError(`--all ${verb}s every dead job: leave the filters out, or --all`);
  if (!flag(p, 'all') && isEmpty(f)) throw new UsageError(`say which dead jobs to ${verb}: a filter (--group, --error-name, --message, --older-than, --id, ...) or --all`);
  return f;
}

function regex(source: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(source);
  try {
    return m ? new RegExp(m[1]!, m[2]) : new RegExp(source);
  } catch (err) {
    throw new UsageError(`--message-regex: ${(err as Error).message}`);
  }
}

/** A filter described for people (what a replay or purge is about to do). */
export function describeFilter(f: DeadLetterFilter): string {
  const parts: string[] = [];
  if (f.fingerprint) parts.push(`group ${f.fingerprint}`);
  if (f.errorName) parts.push(`error ${f.errorName}`);
  if (f.message !== undefined) parts.push(f.message instanceof RegExp ? `message matching ${String(f.message)}` : `message containing ${JSON.stringify(f.message)}`);
  if (f.olderThanMs !== undefined) parts.push(`dead for at least ${f.olderThanMs / 1000}s`);
  if (f.newerThanMs !== undefined) parts.push(`dead for at most ${f.newerThanMs / 1000}s`);
  if (f.ids) parts.push(`${f.ids.length} id${f.ids.length === 1 ? '' : 's'} given`);
  return parts.length === 0 ? 'every dead job' : parts.join(', ');
}
