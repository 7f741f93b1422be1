// kyoo, BullMQ and bee-queue side by side, against one Redis server that this
// script starts (no snapshots, no AOF) and stops. Run it through ./run:
//
//   scripts/bench/run                 full: 3 rounds, median of 3 (about 8 minutes)
//   scripts/bench/run --quick         1 round, smaller counts (under a minute)
//   scripts/bench/run --only process,latency --lib kyoo,bullmq
//   scripts/bench/run --rounds 5
//   scripts/bench/run --only idle --idle-seconds 60
//   scripts/bench/run --only delayed,priority
//   scripts/bench/run --only schedule --lib kyoo,bullmq
//   scripts/bench/run --only process-kept     events on, results kept; kyoo also with events off
//   scripts/bench/run --only grouped          1,000 ordered groups beside no groups (kyoo only)
//   scripts/bench/run --only rate-limited     2,000 starts per second, kyoo and BullMQ
//
// Every measured run is a fresh Node process (one.mjs): no library runs warm
// from an earlier run, and none is warmed up; the counts are the same for all.
// Within a round every scenario runs once per library, the libraries taking
// turns (kyoo, BullMQ, bee-queue, then the next scenario), so a slow drift of
// the machine touches all three alike. Each round records the load average and
// the machine's idle round-trip floor (PING after a short idle gap, as between
// the adds of the pickup-latency scenario). After the rounds, a reference run
// of each peer on a fresh redis-server checks the peers' figures: a table whose
// peer figures are more than 2x off their reference is marked not publishable. Every run uses fresh queue names and
// deletes its keys afterwards. A library that lacks a scenario's feature shows
// n/a there, with the reason printed. The table (medians over the rounds) goes to
// stdout; the same numbers, every round's value and per-command counts go to
// results/latest.json (and a dated copy) beside this file.
import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ensureRedisInstalled, startRedis } from '../lib/redis.mjs';
import { Admin } from './redis-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const SIZES = {
  full: {
    add: 20_000, bulk: 50_000, process: 20_000, processLarge: 200_000, twoProcess: 40_000, latency: 500, memory: 100_000, backlog: 1_000_000, idleSeconds: 10,
    delayed: 1000, priority: 20_000, priorityOrder: 200, scheduleOccurrences: 30, rateLimited: 10_000,
  },
  quick: {
    add: 5_000, bulk: 10_000, process: 5_000, processLarge: 20_000, twoProcess: 10_000, latency: 100, memory: 20_000, backlog: 50_000, idleSeconds: 3,
    delayed: 200, priority: 5_000, priorityOrder: 200, scheduleOccurrences: 8, rateLimited: 4_000,
  },
};

const USAGE = `usage: scripts/bench/run [--quick] [--rounds N] [--only SCENARIO[,...]] [--lib LIB[,...]] [--idle-seconds S]

  --quick            1 round with smaller counts (under a minute)
  --rounds N         rounds to run; the table shows the median (default 3, or 1 with --quick)
  --only LIST        scenarios: add, bulk, process, process-large, cold-start, process-kept, grouped, two-process,
                     latency, memory, backlog, backlog-small, idle, delayed, priority, rate-limited, schedule
  --lib LIST         libraries: kyoo, bullmq, bee
  --idle-seconds S   length of the idle-cost window (default 10, or 3 with --quick)
`;

function fail(message) {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      lib: { type: 'string' },
      'idle-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  fail(err.message);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

// The libraries are loaded only now, so that --help works without a build.
let LIBS, libraryVersions, NotApplicable, SCENARIOS, METRICS, groupedCost, rateLimitedDetail;
try {
  ({ LIBS, libraryVersions, NotApplicable } = await import('./libs.mjs'));
  ({ SCENARIOS, METRICS } = await import('./scenarios.mjs'));
  ({ groupedCost } = await import('./grouped.mjs'));
  ({ rateLimitedDetail } = await import('./rate-limited.mjs'));
} catch (err) {
  process.stderr.write(`cannot load the libraries: ${err.message}\nInstall and build first: pnpm install && pnpm build\n`);
  process.exit(1);
}

const mode = args.quick ? 'quick' : 'full';
const rounds = args.rounds === undefined ? (args.quick ? 1 : 3) : Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer, got ${args.rounds}`);
const pick = (list, all, what) => {
  if (list === undefined) return all;
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!all.some((x) => x.name === n)) fail(`unknown ${what}: ${n}`);
  return all.filter((x) => names.includes(x.name));
};
const scenarios = pick(args.only, SCENARIOS, 'scenario');
const libs = pick(args.lib, LIBS, 'library');
const sizes = { ...SIZES[mode] };
if (args['idle-seconds'] !== undefined) {
  sizes.idleSeconds = Number(args['idle-seconds']);
  if (!(sizes.idleSeconds > 0)) fail(`--idle-seconds must be a positive number, got ${args['idle-seconds']}`);
}

const log = (line) => process.stderr.write(`${line}\n`);
const fmtRate = (x) => Math.round(x).toLocaleString('en-US');

ensureRedisInstalled();
// startRedis already passes --save "" (no snapshots); AOF is off by default, and said again here.
const server = await startRedis({ args: ['--appendonly', 'no'] });
const admin = new Admin(server.url);
const began = Date.now();
const loadAvgAtStart = os.loadavg();
let redisVersion;

/** The load average and idle round-trip floor at the start of each round. */
const floors = [];
/** results[metric][lib] = value per round; details[scenario][lib] = details per round */
const results = {};
const details = {};
const errors = [];
/** notApplicable[scenario][lib] = why that library does not take part */
const notApplicable = {};
/** notApplicableMetric[metric key][lib] = why a library taking part has no value for that row */
const notApplicableMetric = {};

/** How long one measured run may take (each scenario's own calls bound themselves by it). */
const TIMEOUT_MS = 180_000;

try {
  redisVersion = await admin.serverVersion();
  // Other work on the machine skews every number here: say so up front.
  const [load] = os.loadavg();
  if (load > 0.5) log(`warning: load average is ${load.toFixed(2)} before the bench starts; other processes will skew the numbers`);
  log(`Redis ${redisVersion} on port ${server.port}; ${mode} mode, ${rounds} round(s); ` +
    `scenarios: ${scenarios.map((s) => s.name).join(', ')}; libraries: ${libs.map((l) => l.label).join(', ')}`);

  // No warm-up: each measured run starts cold in a process of its own (see one.mjs), for every library alike.
  for (let round = 1; round <= rounds; round++) {
    floors.push({ round, loadAvg: os.loadavg()[0], ...(await rttFloor(server.url)) });
    log(`[round ${round}/${rounds}] load average ${floors.at(-1).loadAvg.toFixed(2)}, idle round trip p50 ${floors.at(-1).p50.toFixed(3)} ms`);
    for (const scenario of scenarios) {
      for (const lib of libs) {
        const t0 = performance.now();
        try {
          const { values, details: more, notApplicable: naRows = {} } = await runInChild(server, scenario, lib, sizes, round);
          for (const [key, value] of Object.entries(values)) ((results[key] ??= {})[lib.name] ??= []).push(value);
          for (const [key, reason] of Object.entries(naRows)) (notApplicableMetric[key] ??= {})[lib.name] = reason;
          ((details[scenario.name] ??= {})[lib.name] ??= []).push(more);
          const shown = Object.entries(values).map(([k, v]) => `${k} ${v >= 100 ? fmtRate(v) : v.toFixed(3)}`).join(', ');
          log(`[round ${round}/${rounds}] ${scenario.name} ${lib.label}: ${shown} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        } catch (err) {
          if (err instanceof NotApplicable) {
            (notApplicable[scenario.name] ??= {})[lib.name] = err.message;
            log(`[round ${round}/${rounds}] ${scenario.name} ${lib.label}: n/a (${err.message})`);
            continue;
          }
          errors.push({ round, scenario: scenario.name, lib: lib.name, error: err.message });
          log(`[round ${round}/${rounds}] ${scenario.name} ${lib.label}: FAILED: ${err.stack ?? err.message}`);
        } finally {
          // the run's process deleted its queues: anything left is a leak
          const left = await admin.leftovers();
          if (left.size > 0) log(`warning: ${left.size} keys left after ${scenario.name} ${lib.label}, e.g. ${left.sample.join(', ')}`);
        }
      }
    }
  }
} finally {
  await admin.close().catch(() => {});
  await server.stop();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// A reference run of each peer, on a fresh redis-server, for the add and processing lines in
// this run: a table whose peer figures are far from it (the machine, or Redis, was off during
// the rounds) is not published.
const REFERENCE = { add: ['add'], process: ['process1', 'process10', 'process100'], 'two-process': ['twoProcesses'] };
const reference = {};
const referenceProblems = [];
{
  const peers = libs.filter((l) => l.name !== 'kyoo');
  const refScenarios = scenarios.filter((sc) => REFERENCE[sc.name]);
  if (peers.length > 0 && refScenarios.length > 0) {
    const fresh = await startRedis({ args: ['--appendonly', 'no'] });
    try {
      for (const scenario of refScenarios) {
        for (const lib of peers) {
          try {
            const { values } = await runInChild(fresh, scenario, lib, sizes, 1);
            for (const key of REFERENCE[scenario.name]) {
              if (values[key] === undefined) continue;
              (reference[key] ??= {})[lib.name] = values[key];
              const runs = results[key]?.[lib.name];
              if (!runs?.length) continue;
              const med = median(runs);
              const off = Math.max(med / values[key], values[key] / med);
              log(`reference ${scenario.name} ${lib.label}: ${key} ${fmtRate(values[key])} against the rounds' median ${fmtRate(med)} (${off.toFixed(2)}x apart)`);
              if (off > 2) referenceProblems.push(`${lib.label} ${key}: median ${fmtRate(med)}, reference ${fmtRate(values[key])} (${off.toFixed(2)}x apart)`);
            }
          } catch (err) {
            if (!(err instanceof NotApplicable)) referenceProblems.push(`${lib.label} ${scenario.name}: the reference run failed: ${err.message}`);
          }
        }
      }
    } finally {
      await fresh.stop();
    }
  }
}

/** Runs one scenario for one library in a fresh Node process (one.mjs) against `srv`. */
function runInChild(srv, scenario, lib, runSizes, round) {
  const spec = { scenario: scenario.name, lib: lib.name, round, sizes: runSizes, server: { host: srv.host, port: srv.port, url: srv.url }, timeoutMs: TIMEOUT_MS };
  return new Promise((resolve, reject) => {
    const child = fork(path.join(HERE, 'one.mjs'), [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let outcome;
    child.on('message', (msg) => (outcome = msg));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (outcome === undefined) reject(new Error(`the run's process exited with ${code ?? signal} and no result`));
      else if (outcome.na !== undefined) reject(new NotApplicable(outcome.na));
      else if (outcome.error !== undefined) reject(new Error(outcome.error));
      else resolve(outcome);
    });
  });
}

/** The idle round-trip floor: PING on a fresh connection after a 3 ms idle gap, 200 times; p50 and p99 in ms. */
async function rttFloor(url) {
  const redis = new Redis(url);
  try {
    const times = [];
    for (let i = 0; i < 220; i++) {
      await sleep(3);
      const t = performance.now();
      await redis.ping();
      if (i >= 20) times.push(performance.now() - t);
    }
    times.sort((x, y) => x - y);
    return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)] };
  } finally {
    redis.disconnect();
  }
}

// ---- report ----


function fmt(metric, x) {
  if (x === undefined || Number.isNaN(x)) return '—';
  switch (metric.unit) {
    case 'jobs/s': return fmtRate(x);
    case 'ms': return /^cpu|Cpu/.test(metric.key) ? x.toFixed(0) : x.toFixed(2);
    case 'bytes': return Math.round(x).toLocaleString('en-US');
    default:
      if (x === 0) return '0';
      if (Math.abs(x) < 0.01) return x.toPrecision(2);
      return x < 10 ? x.toFixed(2) : x.toFixed(1);
  }
}

const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? '—' : `${(a / b).toFixed(2)}×`);
/** Why `lib` has no value for `metric`: it does not take part in the scenario, or lacks that row's feature. */
const naReason = (metric, lib) => notApplicable[metric.scenario]?.[lib] ?? notApplicableMetric[metric.key]?.[lib];
/** A table cell: the median, or n/a where the library does not take part. */
const cell = (metric, med, lib) => (med[lib] === undefined && naReason(metric, lib) ? 'n/a' : fmt(metric, med[lib]));

const rows = [];
for (const metric of METRICS) {
  if (!scenarios.some((s) => s.name === metric.scenario)) continue;
  const med = {};
  for (const lib of LIBS) {
    const runs = results[metric.key]?.[lib.name];
    if (runs?.length) med[lib.name] = median(runs);
  }
  rows.push({ metric, med });
}

const header = ['scenario', 'kyoo', 'BullMQ', 'bee-queue', 'kyoo/BullMQ', 'kyoo/bee-queue'];
const lines = rows.map(({ metric, med }) => [
  `${metric.label} (${metric.unit} ${metric.better === 'higher' ? '↑' : '↓'})`,
  cell(metric, med, 'kyoo'),
  cell(metric, med, 'bullmq'),
  cell(metric, med, 'bee'),
  ratio(med.kyoo, med.bullmq),
  ratio(med.kyoo, med.bee),
]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const row = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
const table = [
  row(header),
  `|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`,
  ...lines.map(row),
].join('\n');

const took = (Date.now() - began) / 1000;
process.stdout.write(`\n${table}\n\n`);
process.stdout.write(`Medians of ${rounds} round(s), ${mode} mode, ${took.toFixed(0)} s. ↑ higher is better, ↓ lower is better; ` +
  'a ratio is kyoo\'s value divided by the other\'s.\n');
const naLines = [
  ...Object.entries(notApplicable).flatMap(([scenario, byLib]) =>
    LIBS.filter((l) => byLib[l.name]).map((l) => `  ${scenario}: ${l.label}: ${byLib[l.name]}`)),
  ...Object.entries(notApplicableMetric).flatMap(([key, byLib]) => {
    const metric = METRICS.find((m) => m.key === key);
    return LIBS.filter((l) => byLib[l.name]).map((l) => `  ${metric?.scenario ?? key} (${metric?.label ?? key}): ${l.label}: ${byLib[l.name]}`);
  }),
];
if (naLines.length) process.stdout.write(`n/a, not taking part:\n${naLines.join('\n')}\n`);

// The machine during the rounds, and what the pickup latency stands on.
if (floors.length) {
  const floorP50 = median(floors.map((f) => f.p50));
  process.stdout.write(`\nMachine: load average at each round's start ${floors.map((f) => f.loadAvg.toFixed(2)).join(', ')}; ` +
    `idle round-trip floor (PING after 3 ms idle) p50 ${floorP50.toFixed(3)} ms, p99 ${median(floors.map((f) => f.p99)).toFixed(3)} ms\n`);
  const p50 = results.latencyP50;
  if (p50) {
    const parts = LIBS.filter((l) => p50[l.name]?.length).map((l) => `${l.label} ${(median(p50[l.name]) / floorP50).toFixed(2)}x`);
    process.stdout.write(`Pickup latency p50 over the floor: ${parts.join(', ')}\n`);
  }
}
const publishable = referenceProblems.length === 0;
if (Object.keys(reference).length) {
  process.stdout.write(publishable
    ? '\nReference runs of the peers (fresh redis-server): every peer figure within 2x of its reference: publishable.\n'
    : `\nNOT PUBLISHABLE: peer figures far from a fresh reference run of the same peer:\n${referenceProblems.map((p) => `  ${p}`).join('\n')}\n`);
}

// Checks and spreads that are not in the table (last round).
const lastDetail = (scenario, lib, key) => details[scenario]?.[lib.name]?.map((d) => d[key]).filter(Boolean).at(-1);
const checks = [];
for (const lib of LIBS) {
  const d = lastDetail('delayed', lib, 'delayed');
  if (d) {
    checks.push(`  delayed lateness  ${lib.label.padEnd(9)} min ${d.min}, p90 ${d.p90}, max ${d.max}, mean ${d.mean} ms over ${d.jobs} jobs` +
      ` (adds took ${d.addSeconds} s); started early: ${d.early}; started twice: ${d.duplicateStarts}`);
  }
}
for (const lib of LIBS) {
  const d = lastDetail('priority', lib, 'priorityOrder');
  if (d) {
    checks.push(`  priority order    ${lib.label.padEnd(9)} ${d.jobs} jobs at concurrency ${d.concurrency}: ` +
      `${d.inOrder.toFixed(3)} of starts took the most urgent priority waiting, ${d.fifoWithinPriority.toFixed(3)} the oldest job of its priority`);
  } else if (notApplicable.priority?.[lib.name]) {
    checks.push(`  priority order    ${lib.label.padEnd(9)} n/a (${notApplicable.priority[lib.name]})`);
  }
}
for (const lib of LIBS) {
  const d = lastDetail('process-kept', lib, 'processKept');
  if (d) {
    const off = lastDetail('process-kept', lib, 'processKeptNoEvents');
    checks.push(`  kept              ${lib.label.padEnd(9)} ${d.completedKept} completed jobs kept after the run, ` +
      `${d.resultStored ? 'results stored' : `results not stored (${d.resultNote ?? 'no result read back'})`}; ` +
      `used_memory grew ${d.memoryGrowthPerJob} bytes per job over the run` +
      (off ? ` (${off.memoryGrowthPerJob} with events off, ${off.completedKept} kept)` : ''));
  }
}
for (const lib of LIBS) {
  const d = lastDetail('rate-limited', lib, 'rateLimited');
  if (d) checks.push(`  rate-limited      ${lib.label.padEnd(9)} ${rateLimitedDetail(d)}`);
}
for (const lib of LIBS) {
  const d = lastDetail('grouped', lib, 'grouped100');
  if (d) {
    checks.push(`  grouped order     ${lib.label.padEnd(9)} ${d.groups.toLocaleString('en-US')} groups of ${d.jobsPerGroup} jobs: ` +
      `${d.outOfGroupOrder} started before an earlier job of their group`);
  }
}
if (checks.length) process.stdout.write(`\nDetails (last round):\n${checks.join('\n')}\n`);

// What kyoo's events stream costs per job, from the process-kept medians: the same
// backlog, results kept, events on (default) and off (eventsMaxLen: 0).
{
  const med = (key) => (results[key]?.kyoo?.length ? median(results[key].kyoo) : undefined);
  const [on, off] = [med('processKept'), med('processKeptNoEvents')];
  if (on !== undefined && off !== undefined) {
    const [cpuOn, cpuOff] = [med('processKeptCpuPer10k'), med('processKeptNoEventsCpuPer10k')];
    const [cmdOn, cmdOff] = [med('processKeptCommandsPerJob'), med('processKeptNoEventsCommandsPerJob')];
    const signed = (x, digits) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
    process.stdout.write(`\nWhat kyoo's events cost per job (process-kept, concurrency 100, results kept; medians of ${rounds} round(s), ` +
      'events on at the default eventsMaxLen 10,000 against eventsMaxLen 0):\n' +
      `  time per job        ${signed(1e6 / on - 1e6 / off, 2)} µs (${fmtRate(on)} against ${fmtRate(off)} jobs/s, ${signed((on / off - 1) * 100, 1)}% throughput)\n` +
      `  Redis CPU per job   ${signed((cpuOn - cpuOff) / 10, 2)} µs (${cpuOn.toFixed(0)} against ${cpuOff.toFixed(0)} ms per 10,000 jobs)\n` +
      `  Redis commands/job  ${signed(cmdOn - cmdOff, 3)} (${cmdOn.toFixed(3)} against ${cmdOff.toFixed(3)})\n`);
  }
}

// What kyoo's ordered groups cost per job, from the grouped medians.
{
  const text = groupedCost((key) => (results[key]?.kyoo?.length ? median(results[key].kyoo) : undefined), rounds);
  if (text) process.stdout.write(`\n${text}`);
}

// Where each library spends its Redis calls and time, per job. A script's
// microseconds include those of the commands it calls (listed as well).
const breakdown = [];
const BREAKDOWN = [['process', 'process100'], ['process-kept', 'processKept'], ['process-kept', 'processKeptNoEvents'],
  ['grouped', 'ungrouped100'], ['grouped', 'grouped100'], ['two-process', 'twoProcesses'], ['priority', 'priority100'],
  ['rate-limited', 'rateLimited'], ['add', 'add'], ['bulk', 'bulk']];
const keyWidth = Math.max(...BREAKDOWN.filter(([scenario]) => details[scenario]).map(([, key]) => key.length), 12);
for (const [scenario, key] of BREAKDOWN) {
  for (const lib of LIBS) {
    const last = details[scenario]?.[lib.name]?.map((d) => d[key]).filter(Boolean).at(-1);
    if (!last) continue;
    const top = (counts, digits) => Object.entries(counts).slice(0, 8).map(([cmd, n]) => `${cmd} ${n.toFixed(digits)}`).join(', ');
    breakdown.push(`  ${key.padEnd(keyWidth)} ${lib.label.padEnd(9)} ${last.commandsPerJob.toFixed(3).padStart(7)} commands/job: ${top(last.byCommand, 3)}`);
    breakdown.push(`  ${''.padEnd(keyWidth)} ${''.padEnd(9)} ${''.padStart(7)}  Redis µs/job: ${top(last.usecByCommand, 2)}`);
  }
}
if (breakdown.length) process.stdout.write(`\nRedis commands and time per job, by command (last round):\n${breakdown.join('\n')}\n`);
if (errors.length) {
  process.stdout.write(`\n${errors.length} run(s) failed:\n${errors.map((e) => `  round ${e.round} ${e.scenario} ${e.lib}: ${e.error}`).join('\n')}\n`);
}

function git(...gitArgs) {
  const res = spawnSync('git', gitArgs, { cwd: ROOT, encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}
const commit = git('rev-parse', '--short', 'HEAD');
const dirty = git('status', '--porcelain', '--', 'packages', 'lua');
const cpuModel = /model name\s*:\s*(.*)/.exec(fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1]
  ?? os.cpus()[0]?.model;

const report = {
  date: new Date(began).toISOString(),
  mode,
  rounds,
  seconds: Math.round(took),
  filters: { scenarios: scenarios.map((s) => s.name), libs: libs.map((l) => l.name) },
  sizes,
  machine: { cores: os.availableParallelism(), cpu: cpuModel, node: process.version, redis: redisVersion, loadAvgAtStart, loadAvgAtEnd: os.loadavg(), rounds: floors },
  reference,
  publishable,
  referenceProblems,
  versions: { ...libraryVersions(), kyooCommit: commit === undefined ? undefined : `${commit}${dirty ? '+changes' : ''}` },
  table: rows.map(({ metric, med }) => ({
    key: metric.key,
    label: metric.label,
    unit: metric.unit,
    better: metric.better,
    median: med,
    runs: Object.fromEntries(LIBS.map((l) => [l.name, results[metric.key]?.[l.name] ?? []])),
    notApplicable: { ...(notApplicable[metric.scenario] ?? {}), ...(notApplicableMetric[metric.key] ?? {}) },
  })),
  markdown: table,
  details,
  notApplicable,
  notApplicableMetric,
  errors,
};
const outDir = path.join(HERE, 'results');
fs.mkdirSync(outDir, { recursive: true });
const json = `${JSON.stringify(report, null, 2)}\n`;
fs.writeFileSync(path.join(outDir, 'latest.json'), json);
fs.writeFileSync(path.join(outDir, `${mode}-${report.date.replace(/[:.]/g, '-')}.json`), json);
log(`results written to ${path.relative(ROOT, path.join(outDir, 'latest.json'))}`);
if (!publishable) log('not publishable: see the reference check above');
process.exit(errors.length > 0 ? 1 : publishable ? 0 : 3);
