// Command line of the scenarios: scripts/scenario spike [--jobs N] [--workers W] [--producers P]
//   [--job-ms MS] [--in-flight K] [--cost sleep|cpu] [--timeout-ms MS]
// Exits 0 when nothing was lost or done twice, 1 when something was, 2 on usage errors.
import { parseArgs } from 'node:util';
import { SPIKE_DEFAULTS, runSpike } from './spike.mjs';

const USAGE = `usage: scripts/scenario spike [--jobs N] [--workers W] [--producers P] [--job-ms MS]
                              [--in-flight K] [--cost sleep|cpu] [--timeout-ms MS]
  defaults: --jobs ${SPIKE_DEFAULTS.jobs} --workers ${SPIKE_DEFAULTS.workers} --producers ${SPIKE_DEFAULTS.producers} --job-ms ${SPIKE_DEFAULTS.jobMs} --in-flight ${SPIKE_DEFAULTS.inFlight} --cost ${SPIKE_DEFAULTS.cost}
  uses $REDIS_URL when set, else starts a throwaway redis-server`;

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      jobs: { type: 'string' }, workers: { type: 'string' }, producers: { type: 'string' },
      'job-ms': { type: 'string' }, 'in-flight': { type: 'string' }, cost: { type: 'string' },
      'timeout-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
const { values: v, positionals } = parsed;
if (v.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 1 || positionals[0] !== 'spike') {
  console.error(`unknown scenario ${JSON.stringify(positionals.join(' '))}\n${USAGE}`);
  process.exit(2);
}
const num = (flag) => {
  if (v[flag] === undefined) return undefined;
  const n = Number(v[flag]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${flag} expects a number, got ${JSON.stringify(v[flag])}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};

process.once('SIGINT', () => { console.error('interrupted'); process.exit(130); });
try {
  const r = await runSpike({
    jobs: num('jobs'), workers: num('workers'), producers: num('producers'), jobMs: num('job-ms'),
    inFlight: num('in-flight'), cost: v.cost, timeoutMs: num('timeout-ms'),
  });
  process.exitCode = r.lost === 0 && r.duplicates === 0 && r.unknown === 0 ? 0 : 1;
} catch (err) {
  console.error(`scenario failed: ${err.stack ?? err}`);
  process.exitCode = 1;
}
