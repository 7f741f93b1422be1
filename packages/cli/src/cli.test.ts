// Unit tests of the kyoo command's parts that a subprocess off a terminal cannot show: colour and
// NO_COLOR, the confirmation on a terminal, the progress bar; and the argument helpers.
// test/process/cli.test.ts runs the built binary against Redis.
import { describe, expect, it } from 'vitest';
import { commandWords, duration, parse } from './args.js';
import { actionFilter, filterOf } from './commands/filter.js';
import { confirm, type Terminal } from './confirm.js';
import { EXIT } from './exit.js';
import { Output, age, toJson } from './output.js';
import { ProgressBar, progressLine } from './progress.js';

/** A stream that records what is written, a terminal or not. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('colour', () => {
  it('paints on a terminal, not when NO_COLOR is set, not off a terminal', () => {
    const on = new Output({ json: false, stdout: stream(true), stderr: stream(true), env: {} });
    expect(on.paint(['bold', 'red'], 'dead')).toBe('\x1b[1;31mdead\x1b[0m');
    for (const env of [{ NO_COLOR: '1' }, { NO_COLOR: 'yes' }, { TERM: 'dumb' }]) {
      expect(new Output({ json: false, stdout: stream(true), stderr: stream(true), env }).paint(['bold', 'red'], 'dead')).toBe('dead');
    }
    // an empty NO_COLOR does not count (no-color.org)
    expect(new Output({ json: false, stdout: stream(true), stderr: stream(true), env: { NO_COLOR: '' } }).color).toBe(true);
    expect(new Output({ json: false, stdout: stream(false), stderr: stream(true), env: {} }).paint('red', 'dead')).toBe('dead');
  });

  it('aligns table columns by what is shown, colour left out', () => {
    const out = stream(true);
    const o = new Output({ json: false, stdout: out, stderr: stream(false), env: {} });
    o.table(['QUEUE', 'DEAD'], [[{ text: 'emails' }, { text: '12', right: true, style: 'red' }], [{ text: 'images-long' }, { text: '3', right: true }]]);
    const plain = out.text.replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain).toBe('QUEUE        DEAD\nemails         12\nimages-long     3\n');
  });
});

describe('confirmation', () => {
  const terminal = (answer: string, asked: string[] = []): Terminal => ({ interactive: true, ask: async (q) => (asked.push(q), answer) });

  it('goes ahead with --yes without asking, and on a terminal after a yes', async () => {
    const asked: string[] = [];
    await confirm('purge dead jobs', () => 'delete 3 dead jobs', true, terminal('n', asked));
    expect(asked).toEqual([]);
    await confirm('purge dead jobs', () => 'delete 3 dead jobs', false, terminal('Y ', asked));
    expect(asked).toEqual(['Delete 3 dead jobs? [y/N] ']);
  });

  it('stops on any other answer (exit 1), and off a terminal refuses without asking (exit 2)', async () => {
    await expect(confirm('purge dead jobs', () => 'delete 3', false, terminal(''))).rejects.toMatchObject({ exitCode: EXIT.ERROR, message: expect.stringMatching(/not confirmed; nothing was changed/) });
    let counted = false;
    const script: Terminal = { interactive: false, ask: async () => 'y' };
    await expect(confirm('purge dead jobs', () => ((counted = true), 'x'), false, script)).rejects.toMatchObject({ exitCode: EXIT.USAGE, message: expect.stringMatching(/refusing to purge dead jobs without --yes/) });
    expect(counted).toBe(false);
  });
});

describe('progress bar', () => {
  it('draws on a terminal only, and clears its line at the end', () => {
    const err = stream(true);
    const bar = new ProgressBar(new Output({ json: false, stdout: stream(false), stderr: err, env: {} }));
    bar.update(6, 24, 0);
    bar.end();
    expect(err.text).toBe(`\r\x1b[2K[${'#'.repeat(8)}${'.'.repeat(22)}] 6/24 replayed\r\x1b[2K`);
    const off = stream(false);
    const quiet = new ProgressBar(new Output({ json: false, stdout: stream(false), stderr: off, env: {} }));
    quiet.update(6, 24, 0);
    quiet.end();
    expect(off.text).toBe('');
  });

  it('shows skipped jobs and an estimate', () => {
    expect(progressLine(10, 40, 2, 2000)).toBe(`[${'#'.repeat(9)}${'.'.repeat(21)}] 12/40 (10 replayed, 2 skipped)  5.0/s  eta 6s`);
    expect(progressLine(0, 0, 0, 0)).toBe(`[${'#'.repeat(30)}] 0/0 replayed`);
    expect(progressLine(3, 3, 0, 1000)).toBe(`[${'#'.repeat(30)}] 3/3 replayed  3.0/s`);
  });
});

describe('arguments', () => {
  it('finds the command words after global options', () => {
    const groups = (w: string) => w === 'dlq';
    expect(commandWords(['--redis', 'redis://h:1', 'dlq', 'list', 'emails', '--json'], groups)).toEqual({ words: ['dlq', 'list'], rest: ['--redis', 'redis://h:1', 'emails', '--json'] });
    expect(commandWords(['stats', 'emails', 'list'], groups)).toEqual({ words: ['stats'], rest: ['emails', 'list'] });
    expect(commandWords(['--json'], groups)).toEqual({ words: [], rest: ['--json'] });
  });

  it('turns mistakes into usage errors naming them', () => {
    expect(() => parse('stats', ['--bogus'], {})).toThrow(expect.objectContaining({ exitCode: EXIT.USAGE, message: expect.stringMatching(/unknown option '--bogus'/) }));
    expect(() => parse('stats', ['--prefix'], {})).toThrow(expect.objectContaining({ exitCode: EXIT.USAGE }));
    const p = parse('x', ['--older-than', '90s', '--newer-than', '1.5h'], { 'older-than': { type: 'string', help: '' }, 'newer-than': { type: 'string', help: '' } });
    expect([duration(p, 'older-than'), duration(p, 'newer-than')]).toEqual([90_000, 5_400_000]);
    expect(() => duration(parse('x', ['--older-than', '90'], { 'older-than': { type: 'string', help: '' } }), 'older-than')).toThrow(/with its unit/);
  });

  it('builds filters, and wants a filter or --all for a replay or purge', () => {
    const specs = { 'error-name': { type: 'string' as const, help: '' }, 'message-regex': { type: 'string' as const, help: '' }, id: { type: 'string' as const, multiple: true, help: '' }, all: { type: 'boolean' as const, help: '' } };
    const f = filterOf(parse('x', ['--message-regex', '/smtp-\\d+/i', '--id', 'a,b', '--id', 'c'], specs));
    expect(f).toEqual({ message: /smtp-\d+/i, ids: ['a', 'b', 'c'] });
    expect(() => actionFilter(parse('x', [], specs), 'purge')).toThrow(/say which dead jobs to purge/);
    expect(() => actionFilter(parse('x', ['--all', '--error-name', 'E'], specs), 'purge')).toThrow(/--all purges every dead job/);
    expect(actionFilter(parse('x', ['--all'], specs), 'purge')).toEqual({});
    expect(() => filterOf(parse('x', ['--message-regex', '('], specs))).toThrow(/--message-regex: Invalid regular expression/);
  });

  it('writes any payload as JSON, and ages for people', () => {
    expect(toJson({ big: 2n ** 70n, set: new Set([1]), buf: Buffer.from([1, 2]), arr: new Uint8Array([3]), at: new Date(0) }))
      .toBe('{"big":"1180591620717411303424","set":[1],"buf":[1,2],"arr":[3],"at":"1970-01-01T00:00:00.000Z"}');
    expect([age(5_000), age(245_000), age(3 * 3_600_000 + 60_000), age(50 * 3_600_000)]).toEqual(['5s', '4m05s', '3h01m', '2d02h']);
  });
});
