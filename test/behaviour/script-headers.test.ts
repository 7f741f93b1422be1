// The script build: every key and argument a script or include uses must be declared in the
// script's header, or the build fails, so the typed layer and the Lua cannot drift apart.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { buildScript } from '../../scripts/build-lua.mjs';

type Build = (file: string, raw: string, readInclude: (name: string) => string) => { source: string; keys: { name: string }[]; args: { name: string }[] };
const build = buildScript as Build;

const header = `-- demo: a test script.
--
-- KEYS[1] ready  list
-- KEYS[2] meta   hash
--
-- ARGV[1] n      int
-- ARGV[2..] ids  {id: string, delay: int}
--
-- Reply: codes
`;
const noIncludes = (name: string): string => {
  throw new Error(`no include ${name}`);
};

describe('scripts/build-lua.mjs', () => {
  it('builds a script whose header declares everything it uses, with named keys and arguments', () => {
    const out = build('demo.lua', `${header}local x = redis.call('LLEN', K.ready) + A.n\nfor i = 1, A.ids_n do local id, delay = ids(i) end\nreturn redis.call('HGET', K.meta, 'x')\n`, noIncludes);
    expect(out.keys.map((k) => k.name)).toEqual(['ready', 'meta']);
    expect(out.args.map((a) => a.name)).toEqual(['n']);
    expect(out.source).toContain('local K = { ready = KEYS[1], meta = KEYS[2] }');
    expect(out.source).toContain('local A = { n = tonumber(ARGV[1]) }');
  });

  it('fails when a script uses a key its header does not declare', () => {
    expect(() => build('demo.lua', `${header}redis.call('LLEN', K.ready); redis.call('HGET', K.meta, 'x'); redis.call('ZCARD', K.delayed)\nlocal n = A.n; ids(1)\n`, noIncludes))
      .toThrow(/demo\.lua: uses key K\.delayed, which its header does not declare/);
  });

  it('fails when a script uses an argument its header does not declare', () => {
    expect(() => build('demo.lua', `${header}redis.call('LLEN', K.ready); redis.call('HGET', K.meta, A.field)\nlocal n = A.n; ids(1)\n`, noIncludes))
      .toThrow(/uses argument A\.field, which its header does not declare/);
  });

  it('fails when a script reads KEYS or ARGV directly', () => {
    expect(() => build('demo.lua', `${header}redis.call('LLEN', KEYS[1]); redis.call('HGET', K.meta, 'x'); redis.call('LLEN', K.ready)\nlocal n = A.n; ids(1)\n`, noIncludes))
      .toThrow(/reads KEYS\[\.\.\.\] or ARGV\[\.\.\.\] directly/);
  });

  it('fails when a declared key is never used', () => {
    expect(() => build('demo.lua', `${header}redis.call('LLEN', K.ready)\nlocal n = A.n; ids(1)\n`, noIncludes))
      .toThrow(/declares KEYS meta but never uses K\.meta/);
  });

  it('fails when an include uses K or A instead of taking parameters', () => {
    const inc = (name: string): string => (name === 'helper' ? 'local function helper() return redis.call("LLEN", K.ready) end\n' : noIncludes(name));
    expect(() => build('demo.lua', `${header}--!include helper\nredis.call('LLEN', K.ready); redis.call('HGET', K.meta, 'x')\nlocal n = A.n; ids(1)\n`, inc))
      .toThrow(/includes\/helper\.lua uses K\.ready: includes take keys and arguments as parameters/);
  });

  it('a packed group is one argument, split with one struct.unpack per entry; a group needs ".." or "packed"', () => {
    const packed = header.replace('-- ARGV[2..] ids  {id: string, delay: int}', '-- ARGV[2] ids packed {id: string, delay: int, on: bool, rec: bytes}');
    const body = "redis.call('LLEN', K.ready); redis.call('HGET', K.meta, 'x')\nlocal n = A.n + A.ids_n; ids(1)\n";
    const out = build('demo.lua', `${packed}${body}`, noIncludes);
    expect(out.source).toContain("struct.unpack('>I4c0dBI4c0', s, pos)");
    expect(out.source).toContain('local s, pos, n = ARGV[2], 1, 0');
    expect(out.source).toContain('return ids_1[i], ids_2[i], (ids_3[i] == 1), ids_4[i]');
    expect(() => build('demo.lua', `${header.replace('ARGV[2..] ids', 'ARGV[2] ids')}${body}`, noIncludes))
      .toThrow(/ARGV\[2\] ids is a group: write ARGV\[2\.\.\] \(repeated\) or "packed"/);
    expect(() => build('demo.lua', `${header.replace('ARGV[2..] ids ', 'ARGV[2..] ids packed ')}${body}`, noIncludes))
      .toThrow(/a packed group is one argument, ARGV\[2\]/);
  });
});
