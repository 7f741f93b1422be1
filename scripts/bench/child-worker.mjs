// A worker process for the two-process scenario, started by the bench with
// child_process.fork:
//
//   child-worker.mjs <lib> <host> <port> <queue> <concurrency>
//
// Messages: it sends { type: 'ready' } once its worker is connected; on
// { type: 'go' } it starts processing no-op jobs and reports
// { type: 'progress', done, at } (at = wall-clock ms of its latest completion,
// sub-millisecond, comparable across processes), coalesced to one message per
// event-loop turn; on { type: 'stop' } it closes the worker, sends
// { type: 'closed', done } with its final count, and exits.
import { LIBS } from './libs.mjs';

const [libName, host, port, queueName, concurrency] = process.argv.slice(2);
const lib = LIBS.find((l) => l.name === libName);
if (!lib) throw new Error(`unknown library ${libName}`);

const now = () => performance.timeOrigin + performance.now();
let done = 0;
let at = 0;
let reportQueued = false;
const report = () => {
  reportQueued = false;
  process.send({ type: 'progress', done, at });
};

const server = { host, port: Number(port), url: `redis://${host}:${port}` };
const worker = lib.worker(server, queueName, {
  concurrency: Number(concurrency),
  handler: async () => {},
  onCompleted: () => {
    done++;
    at = now();
    if (!reportQueued) {
      reportQueued = true;
      setImmediate(report);
    }
  },
});

process.on('message', async (msg) => {
  if (msg.type === 'go') worker.start();
  else if (msg.type === 'stop') {
    await worker.close();
    process.send({ type: 'closed', done }, () => {
      process.disconnect();
      process.exit(0);
    });
  }
});

await worker.ready();
process.send({ type: 'ready' });
