import { EventsGapError, type QueueEvent, type QueueEventType } from '@kyoo/client';
import { int, list, positionals, str } from '../args.js';
import type { Command } from '../command.js';
import { CliError, EXIT, UsageError } from '../exit.js';
import { toJson, type Style } from '../output.js';

const TYPES: readonly QueueEventType[] = ['added', 'started', 'progress', 'completed', 'failed', 'retried', 'dead', 'replayed', 'removed', 'cancelled', 'lease-expired'];
const COLOURS: Partial<Record<QueueEventType, Style>> = { completed: 'green', failed: 'yellow', retried: 'yellow', dead: 'red', 'lease-expired': 'magenta', replayed: 'cyan', cancelled: 'dim', removed: 'dim' };

export const tail: Command = {
  name: 'tail',
  usage: 'tail <queue> [options]',
  summary: 'follow a queue\'s events live',
  about: [
    'Prints the events of a queue as they happen (added, started, progress, completed, failed, retried, dead,',
    'replayed, removed, cancelled, lease-expired), until Ctrl-C. Each has an id: pass the last one printed as',
    '--from to go on where it stopped, missing and repeating nothing.',
  ].join('\n'),
  options: {
    from: { type: 'string', value: 'ID', help: 'start after this event id; 0 for every event the stream still holds (default: from now on)' },
    type: { type: 'string', multiple: true, value: 'TYPE[,TYPE...]', help: 'only events of these types' },
    max: { type: 'string', value: 'N', help: 'stop after N events' },
  },
  extra: 'Example: kyoo tail emails --type dead,failed --json',
  async run(ctx, p) {
    const [name] = positionals('tail', p, ['queue']);
    const types = list(p, 'type');
    const unknown = types?.find((t) => !TYPES.includes(t as QueueEventType));
    if (unknown !== undefined) throw new UsageError(`--type: no event type ${JSON.stringify(unknown)}; the types are ${TYPES.join(', ')}`, 'tail');
    const max = int(p, 'max', 0, 1, Number.MAX_SAFE_INTEGER);
    const q = await ctx.existingQueue(name!);
    const from = str(p, 'from') ?? '$';
    const { out } = ctx;
    let seen = 0;
    try {
      for await (const e of q.events({ from, signal: ctx.signal })) {
        if (types && !types.includes(e.type)) continue;
        if (out.json) out.data(e);
        else out.line(line(e, out.paint.bind(out)));
        if (max > 0 && ++seen >= max) break;
      }
    } catch (err) {
      if (err instanceof EventsGapError) throw new CliError(`${err.message}; go on with --from ${err.oldest} (or --from 0)`);
      throw err;
    }
    return EXIT.OK;
  },
};

function line(e: QueueEvent, paint: (style: Style, text: string) => string): string {
  const time = new Date(e.at).toISOString().slice(11, 23);
  const type = e.type.padEnd(13);
  const attempt = e.attempt > 0 ? `  attempt ${e.attempt}` : '';
  const progress = e.progress === undefined ? '' : `  ${toJson(e.progress)}`;
  const style = COLOURS[e.type];
  return `${paint('dim', time)}  ${style ? paint(style, type) : type}  ${e.jobId}${attempt}${progress}  ${paint('dim', e.id)}`;
}
