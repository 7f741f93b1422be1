import { createServer } from 'node:http';
import { once } from 'node:events';
import { prometheusText, type QueueMetrics } from '@kyoo/client';
import { int, str } from '../args.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit.js';

export const metrics: Command = {
  name: 'metrics',
  usage: 'metrics [queue...] [--port N] [--host H]',
  summary: 'the Prometheus metrics of queues, once or served on /metrics',
  about: [
    'Writes the Prometheus text exposition of the queues named (default: every queue found) once (with --json,',
    'their metrics as JSON lines), or with --port serves it on http://<host>:<port>/metrics until Ctrl-C,',
    'reading Redis at every scrape.',
    'docs/operations.md lists the metrics.',
  ].join('\n'),
  options: {
    port: { type: 'string', value: 'N', help: 'serve /metrics on this port (0: any free port, printed)' },
    host: { type: 'string', value: 'H', help: 'the address to listen on (default 127.0.0.1)' },
  },
  extra: 'Example: kyoo metrics emails images --port 9464',
  async run(ctx, p) {
    const port = str(p, 'port') === undefined ? undefined : int(p, 'port', 0, 0, 65_535);
    const host = str(p, 'host') ?? '127.0.0.1';
    const named = p.positionals;
    const read = async (): Promise<QueueMetrics[]> => Promise.all((await ctx.targets(named)).map((q) => q.metrics()));
    const exposition = async (): Promise<string> => prometheusText(await read());
    if (port === undefined) {
      if (ctx.out.json) for (const m of await read()) ctx.out.data(m);
      else ctx.out.line((await exposition()).trimEnd());
      return EXIT.OK;
    }
    await exposition(); // a bad queue name or an unreachable Redis ends it now, not at the first scrape
    const server = createServer((req, res) => {
      if (req.url !== '/metrics' && req.url?.startsWith('/metrics?') !== true) {
        res.writeHead(404).end('not found: the metrics are on /metrics\n');
        return;
      }
      exposition().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`kyoo: ${err.message}\n`),
      );
    });
    server.listen(port, host);
    await once(server, 'listening');
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    ctx.out.note(`serving the metrics on http://${host}:${bound}/metrics (Ctrl-C ends)`);
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
    server.close();
    return EXIT.OK;
  },
};
