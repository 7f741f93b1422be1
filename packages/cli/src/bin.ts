#!/usr/bin/env node
// The `kyoo` command. Ctrl-C (SIGINT) or SIGTERM asks the command to stop at its next safe
// point (a replay between two batches, tail and --watch at once); a second Ctrl-C exits at once.
import { main } from './main.js';

const stop = new AbortController();
let signals = 0;
const onSignal = (): void => {
  if (++signals > 1) process.exit(130);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// output piped into a command that stops reading (head, less): end quietly
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2), stop.signal);
