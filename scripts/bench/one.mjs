// One measured run, in a process of its own: every library starts each run the same way
// (fresh process, nothing loaded or compiled before, the same counts), so none gains from
// the runs before it. index.mjs forks this once per (round, scenario, library):
//
//   node one.mjs '{"scenario":"process","lib":"kyoo","round":1,"sizes":{...},"server":{"host":..,"port":..,"url":..},"timeoutMs":180000}'
//
// The outcome goes back over IPC as one message:
//   { values, details, notApplicable }   the scenario's result
//   { na: reason }                       the library does not take part
//   { error: message }                   the run failed
// The run's queues are deleted before the process exits.
import { Admin, ServerStats } from './redis-stats.mjs';

const spec = JSON.parse(process.argv[2] ?? '{}');
const send = (msg) => new Promise((resolve) => process.send(msg, resolve));

let outcome;
const stats = new ServerStats(spec.server.url);
const admin = new Admin(spec.server.url);
const pending = [];
let seq = 0;
const ctx = {
  server: spec.server,
  stats,
  admin,
  sizes: spec.sizes,
  round: spec.round,
  timeoutMs: spec.timeoutMs,
  queue(tag) {
    const name = `bench-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
    pending.push(name);
    return name;
  },
  async cleanup() {
    for (const name of pending.splice(0)) await admin.deleteQueueKeys(name);
    await admin.lazyFreeDone();
  },
};
try {
  const [{ LIBS, NotApplicable }, { SCENARIOS }] = await Promise.all([import('./libs.mjs'), import('./scenarios.mjs')]);
  const lib = LIBS.find((l) => l.name === spec.lib);
  const scenario = SCENARIOS.find((s) => s.name === spec.scenario);
  if (!lib || !scenario) throw new Error(`unknown library or scenario: ${spec.lib}, ${spec.scenario}`);
  try {
    const { values, details, notApplicable = {} } = await scenario.run(ctx, lib);
    outcome = { values, details, notApplicable };
  } catch (err) {
    outcome = err instanceof NotApplicable ? { na: err.message } : { error: err.stack ?? err.message };
  }
} catch (err) {
  outcome = { error: err.stack ?? err.message };
} finally {
  await ctx.cleanup().catch(() => {});
  await stats.close().catch(() => {});
  await admin.close().catch(() => {});
}
await send(outcome);
process.exit(0);
