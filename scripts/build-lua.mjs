#!/usr/bin/env node
// Builds packages/core/src/scripts.generated.ts from lua/*.lua and the record
// schema (packages/core/record-schema.json).
//
// Each script opens with a header that declares everything it touches:
//
//   -- KEYS[1] jobs      hash    what it holds
//   -- ARGV[1] lease_ms  int     what it means (types: int, float, string, bytes, bool)
//   -- ARGV[4..] acks    {id: string, token: string, result: bytes}  a repeated group, to the end
//   -- ARGV[4] acks packed {id: string, token: string, result: bytes}  the same group in one argument
//   -- KEYS[4..] subs    {jobs, ready, events}  a repeated group of another queue's keys, to the end
//   -- Reply: ack        how the reply is parsed (a parser in packages/core/src/replies.ts)
//
// The build prepends `local K = {...}` (keys by name) and `local A = {...}`
// (scalar arguments by name, numbers converted), and for a group a function
// `acks(i)` returning the i-th entry's fields plus `A.acks_n`, its length; for
// a key group a function `subs(i)` returning the i-th queue's keys by name
// ({ jobs = ..., ready = ... }) plus `K.subs_n`, the number of queues (the
// caller passes one queue's keys per entry, by the names of the key module).
// A packed group is the same to the script, but travels as one argument: per
// entry, in field order, a string or bytes field as its length (4 bytes, big
// endian) and its bytes, an int or float as a big-endian double, a bool as one
// byte; the prologue splits it with one struct.unpack per entry. A batch of a
// thousand jobs is then one argument instead of five thousand, which is most of
// what the client library spends on a call.
// Scripts read keys and arguments only through K, A and group functions; the
// build fails when a script uses a key or argument its header does not declare,
// declares one it never uses, or reads KEYS[...] / ARGV[...] directly, and
// when an include uses K or A at all (includes take what they need as parameters).
// `--!include name` pulls lua/includes/name.lua in once; `record_schema` is
// generated from the record schema.
//
// It also emits, per script, the typed argument interface, the encoder that
// turns it into ARGV, and the name of its reply parser, so no call site
// assembles positional arguments by hand.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const TS_TYPES = { int: 'number', float: 'number', string: 'string', bytes: 'Buffer | string', bool: 'boolean' };
/** Each type's struct format in a packed group, and how the encoder writes it (see packed.ts). */
const PACKED_FORMAT = { int: 'd', float: 'd', string: 'I4c0', bytes: 'I4c0', bool: 'B' };
const PACKED_WRITE = { int: 'putNumber', float: 'putNumber', string: 'putString', bytes: 'putBytes', bool: 'putBool' };
const PACKED_SIZE = { int: () => '8', float: () => '8', string: (e) => `4 + ${e}.length * 3`, bytes: (e) => `4 + (typeof ${e} === 'string' ? ${e}.length * 3 : ${e}.length)`, bool: () => '1' };
const camel = (s) => s.replace(/_(\w)/g, (_, c) => c.toUpperCase());

/** The Lua constants of the record schema: field positions in the header array. */
export function recordSchemaLua(schema) {
  const lines = [
    '-- Generated from packages/core/record-schema.json: positions of the fields in a',
    '-- record header (a msgpack array; [1] is the version). Fields are only ever',
    '-- appended, so a reader finds the fields it knows at the same places in newer records.',
    `local REC_VERSION = ${schema.version}`,
    'local REC = {',
    ...schema.fields.map((f, i) => `  ${f.name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} = ${i + 2},`),
    '}',
  ];
  return lines.join('\n');
}

/** Parses a script's header: keys, arguments, repeated group, reply kind. */
export function parseHeader(file, source) {
  const keys = [];
  const args = [];
  let group = null;
  let keyGroup = null;
  let reply = null;
  for (const line of source.split('\n')) {
    if (!line.startsWith('--')) break;
    let m = /^-- KEYS\[(\d+)\.\.\]\s+(\w+)\s+\{([^}]*)\}/.exec(line);
    if (m) {
      if (Number(m[1]) !== keys.length + 1) throw new Error(`${file}: KEYS[${m[1]}..] out of order in the header`);
      keyGroup = { name: m[2], from: keys.length + 1, fields: m[3].split(',').map((f) => f.trim()) };
      if (keyGroup.fields.some((f) => !/^\w+$/.test(f))) throw new Error(`${file}: cannot read key group {${m[3]}} (want key names)`);
      continue;
    }
    m = /^-- KEYS\[(\d+)\]\s+(\w+)\s+(\w+)/.exec(line);
    if (m) {
      if (keyGroup) throw new Error(`${file}: KEYS[${m[1]}] comes after the key group ${keyGroup.name}`);
      if (Number(m[1]) !== keys.length + 1) throw new Error(`${file}: KEYS[${m[1]}] out of order in the header`);
      keys.push({ name: m[2], type: m[3] });
      continue;
    }
    m = /^-- ARGV\[(\d+)(\.\.)?\]\s+(\w+)\s+(packed\s+)?\{([^}]*)\}/.exec(line);
    if (m) {
      if (Number(m[1]) !== args.length + 1) throw new Error(`${file}: ARGV[${m[1]}${m[2] ?? ''}] out of order in the header`);
      if (!m[2] && !m[4]) throw new Error(`${file}: ARGV[${m[1]}] ${m[3]} is a group: write ARGV[${m[1]}..] (repeated) or "packed"`);
      if (m[2] && m[4]) throw new Error(`${file}: ARGV[${m[1]}..] ${m[3]}: a packed group is one argument, ARGV[${m[1]}]`);
      const fields = m[5].split(',').map((f) => {
        const fm = /^\s*(\w+)\s*:\s*(\w+)\s*$/.exec(f);
        if (!fm || !TS_TYPES[fm[2]]) throw new Error(`${file}: cannot read group field "${f.trim()}" (want name: type)`);
        return { name: fm[1], type: fm[2] };
      });
      group = { name: m[3], from: args.length + 1, fields, packed: Boolean(m[4]) };
      continue;
    }
    m = /^-- ARGV\[(\d+)\]\s+(\w+)\s+(\w+)/.exec(line);
    if (m) {
      if (group) throw new Error(`${file}: ARGV[${m[1]}] comes after the repeated group ${group.name}`);
      if (Number(m[1]) !== args.length + 1) throw new Error(`${file}: ARGV[${m[1]}] out of order in the header`);
      if (!TS_TYPES[m[3]]) throw new Error(`${file}: ARGV[${m[1]}] ${m[2]} has unknown type ${m[3]} (${Object.keys(TS_TYPES).join(', ')})`);
      args.push({ name: m[2], type: m[3] });
      continue;
    }
    m = /^-- Reply:\s+(\w+)/.exec(line);
    if (m) reply = m[1];
  }
  if (keys.length === 0) throw new Error(`${file}: the header lists no KEYS`);
  if (!reply) throw new Error(`${file}: the header has no "-- Reply: <parser>" line`);
  return { keys, args, group, keyGroup, reply };
}

/** Code lines of a Lua text, without comments (so headers and prose do not count as uses). */
const code = (text) => text.split('\n').map((l) => l.replace(/--.*$/, '')).join('\n');

/** Expands includes and checks every use of K, A, KEYS and ARGV against the header; returns the full source. */
export function buildScript(file, raw, readInclude, library = null) {
  const header = parseHeader(file, raw);
  const seen = new Set();
  const expand = (text) => text.replace(/^--!include (\S+)\s*$/gm, (_, name) => {
    if (seen.has(name)) return '';
    seen.add(name);
    const inc = readInclude(name);
    const body = code(inc);
    if (/\b(KEYS|ARGV)\s*\[/.test(body)) throw new Error(`includes/${name}.lua reads KEYS or ARGV: take them as parameters`);
    const uses = body.match(/\b[KA]\.\w+/g);
    if (uses) throw new Error(`includes/${name}.lua uses ${uses[0]}: includes take keys and arguments as parameters`);
    const text = `-- [include ${name}]\n${expand(inc).trimEnd()}\n`;
    // the library holds every include once, in the order first needed (a nested include before its user)
    if (library && !library.seen.has(name)) {
      library.seen.add(name);
      library.includes.push(`-- [include ${name}]\n${inc.replace(/^--!include \S+\s*$/gm, '').trimEnd()}\n`);
    }
    return text;
  });
  const body = code(raw);
  if (/\b(KEYS|ARGV)\s*\[/.test(body)) throw new Error(`${file}: reads KEYS[...] or ARGV[...] directly; use K.<key>, A.<arg> from the header`);
  const usedKeys = new Set([...body.matchAll(/\bK\.(\w+)/g)].map((m) => m[1]));
  const usedArgs = new Set([...body.matchAll(/\bA\.(\w+)/g)].map((m) => m[1]));
  const keyGroupN = header.keyGroup ? `${header.keyGroup.name}_n` : null;
  for (const k of usedKeys) {
    if (k !== keyGroupN && !header.keys.some((d) => d.name === k)) throw new Error(`${file}: uses key K.${k}, which its header does not declare`);
  }
  for (const d of header.keys) {
    if (!usedKeys.has(d.name)) throw new Error(`${file}: declares KEYS ${d.name} but never uses K.${d.name}`);
  }
  const groupN = header.group ? `${header.group.name}_n` : null;
  for (const a of usedArgs) {
    if (a !== groupN && !header.args.some((d) => d.name === a)) throw new Error(`${file}: uses argument A.${a}, which its header does not declare`);
  }
  for (const d of header.args) {
    if (!usedArgs.has(d.name)) throw new Error(`${file}: declares ARGV ${d.name} but never uses A.${d.name}`);
  }
  if (header.keyGroup && !new RegExp(`\\b${header.keyGroup.name}\\s*\\(`).test(body)) {
    throw new Error(`${file}: declares the key group ${header.keyGroup.name} but never calls ${header.keyGroup.name}(i)`);
  }
  if (header.group && !new RegExp(`\\b${header.group.name}\\s*\\(`).test(body)) {
    throw new Error(`${file}: declares the group ${header.group.name} but never calls ${header.group.name}(i)`);
  }

  const conv = (type, expr) => (type === 'int' || type === 'float' ? `tonumber(${expr})` : type === 'bool' ? `(${expr} == '1')` : expr);
  let pre = `local K = { ${header.keys.map((k, i) => `${k.name} = KEYS[${i + 1}]`).join(', ')} }\n`;
  if (header.keyGroup) {
    const g = header.keyGroup;
    const w = g.fields.length;
    pre += `K.${g.name}_n = (#KEYS - ${g.from - 1}) / ${w}\n`;
    pre += `local function ${g.name}(i)\n  local b = ${g.from} + (i - 1) * ${w}\n`;
    pre += `  return { ${g.fields.map((f, j) => `${f} = KEYS[b + ${j}]`).join(', ')} }\nend\n`;
  }
  pre += `local A = { ${header.args.map((a, i) => `${a.name} = ${conv(a.type, `ARGV[${i + 1}]`)}`).join(', ')} }\n`;
  if (header.group?.packed) {
    const g = header.group;
    const cols = g.fields.map((_, j) => `${g.name}_${j + 1}`);
    const fmt = '>' + g.fields.map((f) => PACKED_FORMAT[f.type]).join('');
    pre += `local ${cols.join(', ')} = ${cols.map(() => '{}').join(', ')}\n`;
    pre += `do\n  local s, pos, n = ARGV[${g.from}], 1, 0\n  local len = #s\n  while pos <= len do\n    n = n + 1\n`;
    pre += `    ${cols.map((c) => `${c}[n]`).join(', ')}, pos = struct.unpack('${fmt}', s, pos)\n  end\n  A.${g.name}_n = n\nend\n`;
    const val = (f, c) => (f.type === 'bool' ? `(${c}[i] == 1)` : `${c}[i]`);
    pre += `local function ${g.name}(i)\n  return ${g.fields.map((f, j) => val(f, cols[j])).join(', ')}\nend\n`;
  } else if (header.group) {
    const g = header.group;
    const w = g.fields.length;
    pre += `A.${g.name}_n = (#ARGV - ${g.from - 1}) / ${w}\n`;
    pre += `local function ${g.name}(i)\n  local b = ${g.from} + (i - 1) * ${w}\n`;
    pre += `  return ${g.fields.map((f, j) => conv(f.type, `ARGV[b + ${j}]`)).join(', ')}\nend\n`;
  }
  const source = pre + expand(raw);
  // the script's own code without its includes (they live once in the library)
  const main = raw.replace(/^--!include \S+\s*$/gm, '');
  return { ...header, source, pre, main };
}

/**
 * The Redis Functions library of a build (Redis 7.0+, see docs/design/020-functions.md):
 * every include once at the top, then one function per script whose body is
 * that script's K/A prologue and its own code. A library's name and its
 * functions' names carry a hash of its text, so builds that differ never
 * replace each other's functions on a shared server.
 */
export function libraryOf(scripts, includes) {
  const fnName = (tag, s) => `${tag}_${s.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
  const body = (tag) => [
    ...includes,
    ...scripts.map((s) => `redis.register_function('${fnName(tag, s)}', function(KEYS, ARGV)\n${s.pre}${s.main.trimEnd()}\nend)\n`),
  ].join('\n');
  const tag = `kyoo_${createHash('sha1').update(body('kyoo')).digest('hex').slice(0, 12)}`;
  return { name: tag, source: `#!lua name=${tag}\n${body(tag)}`, functions: Object.fromEntries(scripts.map((s) => [s.name, fnName(tag, s)])) };
}

/** The TypeScript of one script: its argument interface and encoder. */
function tsOf(name, s) {
  const Name = name[0].toUpperCase() + name.slice(1);
  const fields = s.args.map((a) => `  ${camel(a.name)}: ${TS_TYPES[a.type]};`);
  let groupType = '';
  if (s.group) {
    groupType = `export interface ${Name}Entry {\n${s.group.fields.map((f) => `  ${camel(f.name)}: ${TS_TYPES[f.type]};`).join('\n')}\n}\n`;
    fields.push(`  ${camel(s.group.name)}: readonly ${Name}Entry[];`);
  }
  const val = (type, expr) => (type === 'bool' ? `${expr} ? 1 : 0` : expr);
  let enc = `  const out: Arg[] = [${s.args.map((a) => val(a.type, `a.${camel(a.name)}`)).join(', ')}];\n`;
  if (s.group?.packed) {
    // strings get room for 3 bytes per UTF-16 unit (their most in UTF-8); a Buffer's length is its size
    const list = `a.${camel(s.group.name)}`;
    enc += `  let size = 0;\n  for (const e of ${list}) size += ${s.group.fields.map((f) => PACKED_SIZE[f.type](`e.${camel(f.name)}`)).join(' + ')};\n`;
    enc += `  const buf = Buffer.allocUnsafe(size);\n  let o = 0;\n`;
    enc += `  for (const e of ${list}) {\n${s.group.fields.map((f) => `    o = ${PACKED_WRITE[f.type]}(buf, o, e.${camel(f.name)});\n`).join('')}  }\n`;
    enc += '  out.push(packedArg(buf, o));\n';
  } else if (s.group) {
    enc += `  for (const e of a.${camel(s.group.name)}) out.push(${s.group.fields.map((f) => val(f.type, `e.${camel(f.name)}`)).join(', ')});\n`;
  }
  enc += '  return out;\n';
  return {
    types: `${groupType}/** Arguments of \`${name}.lua\` (see its header). */\nexport interface ${Name}Args {\n${fields.join('\n')}\n}\n`,
    encoder: `function encode${Name}(a: ${Name}Args): Arg[] {\n${enc}}\n`,
    Name,
  };
}

/**
 * The queue state and policy fields of `meta` (policy.json), and `policy_of(vals)`: the reply of
 * `HMGET meta unpack(POLICY_READ)` as a table, each field a number with its default when unset.
 * One table constructor with every field named, and no conversion for an unset field: a loop of
 * `p[f] = tonumber(v) or default` grew the table five times and cost about 1.7 µs of every call.
 */
export function policySchemaLua(policy) {
  const state = policy.state.map((name) => ({ name, default: 0 }));
  const read = ['paused', ...state.map((f) => f.name), ...policy.fields.map((f) => f.name)];
  const values = [...state, ...policy.fields].map((f, i) => `    ${f.name} = v[${i + 2}] and tonumber(v[${i + 2}]) or ${f.default},`);
  return [
    '-- Generated from packages/core/policy.json: the queue state and policy fields of `meta` and their defaults.',
    `local POLICY_READ = { ${read.map((f) => `'${f}'`).join(', ')} }`,
    'local function policy_of(v)',
    '  return {',
    "    paused = v[1] == '1',",
    ...values,
    '  }',
    'end',
  ].join('\n');
}

export function build() {
  const luaDir = join(root, 'lua');
  const schema = JSON.parse(readFileSync(join(root, 'packages/core/record-schema.json'), 'utf8'));
  const policy = JSON.parse(readFileSync(join(root, 'packages/core/policy.json'), 'utf8'));
  const generated = { record_schema: () => recordSchemaLua(schema), policy_schema: () => policySchemaLua(policy) };
  const readInclude = (name) => generated[name]?.() ?? readFileSync(join(luaDir, 'includes', `${name}.lua`), 'utf8');
  const scripts = [];
  const library = { seen: new Set(), includes: [] };
  for (const file of readdirSync(luaDir).filter((f) => f.endsWith('.lua')).sort()) {
    const built = buildScript(file, readFileSync(join(luaDir, file), 'utf8'), readInclude, library);
    const name = camel(file.replace(/\.lua$/, '').replace(/-/g, '_'));
    scripts.push({ name, ...built, sha: createHash('sha1').update(built.source).digest('hex') });
  }
  const parts = scripts.map((s) => ({ s, ...tsOf(s.name, s) }));
  const lib = libraryOf(scripts, library.includes);
  const out = [
    '// Generated by scripts/build-lua.mjs from lua/*.lua and record-schema.json. Do not edit.',
    "import { REPLIES } from './replies.js';",
    ...(parts.some((p) => p.s.group?.packed) ? ["import { packedArg, putBool, putBytes, putNumber, putString } from './packed.js';"] : []),
    '',
    '/** One script argument as sent to Redis. */',
    'export type Arg = string | number | Buffer;',
    '',
    `/** Version of the job record schema this build writes and fully understands. */`,
    `export const RECORD_VERSION = ${schema.version};`,
    `/** Fields of a record header after the version, in order (record-schema.json). */`,
    `export const RECORD_FIELDS = ${JSON.stringify(schema.fields.map((f) => ({ name: f.name, type: f.type, since: f.since ?? 2 })))} as const;`,
    `/** Queue policy fields (policy.json): meta field, option name, default, bounds. */`,
    `export const POLICY_FIELDS = ${JSON.stringify(policy.fields.map(({ name, ts, default: d, min, max }) => ({ field: name, option: ts, default: d, min, max })))} as const;`,
    '',
    ...parts.map((p) => p.types),
    ...parts.map((p) => p.encoder),
    '/** Every script: its keys by name, SHA, source, argument encoder and reply parser. */',
    'export const SCRIPTS = {',
    ...parts.map(({ s, Name }) => `  ${s.name}: {\n    name: '${s.name}',\n    keys: ${JSON.stringify(s.keys.map((k) => k.name))} as const,\n    keyGroup: ${JSON.stringify(s.keyGroup?.fields ?? [])} as const,\n    sha: '${s.sha}',\n    fn: '${lib.functions[s.name]}',\n    source: ${JSON.stringify(s.source)},\n    encode: encode${Name},\n    parse: REPLIES.${s.reply},\n  },`),
    '} as const;',
    '',
    '/** Every script as one Redis Functions library (Redis 7.0+): its name and source; each script\'s `fn` names its function there. */',
    `export const LIBRARY = { name: '${lib.name}', source: ${JSON.stringify(lib.source)} } as const;`,
    '',
  ].join('\n');
  writeFileSync(join(root, 'packages/core/src/scripts.generated.ts'), out);
  return scripts.length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(`built ${build()} scripts into packages/core/src/scripts.generated.ts`);
  } catch (err) {
    console.error(`build-lua: ${err.message}`);
    process.exit(1);
  }
}
