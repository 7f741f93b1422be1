import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard } from '@kyoo/dashboard';
import { flag, int, list, positionals, str } from '../args.js';
import type { Command } from '../command.js';
import { CliError, EXIT, UsageError } from '../exit.js';

export const dashboard: Command = {
  name: 'dashboard',
  usage: 'dashboard [options]',
  summary: 'serve the web dashboard on 127.0.0.1',
  about: [
    'Serves the web dashboard (queues, jobs, the dead-letter queue by error, schedules, groups, workers;',
    'live) until Ctrl-C, on 127.0.0.1 unless --host says otherwise. It has no login of its own: to share it,',
    'mount @kyoo/dashboard in your application behind its authentication (see the package\'s README).',
  ].join('\n'),
  options: {
    port: { type: 'string', value: 'N', help: 'port to listen on (0: any free port; default 8080)' },
    host: { type: 'string', value: 'ADDRESS', help: 'address to listen on (default 127.0.0.1)' },
    'read-only': { type: 'boolean', help: 'turn every action off (pause, replay, cancel, ...): a dashboard to look at' },
    queue: { type: 'string', multiple: true, value: 'NAME[,NAME...]', help: 'show only these queues (default: every queue under the prefix)' },
  },
  extra: 'Example: kyoo dashboard --port 8080 --read-only',
  async run(ctx, p) {
    positionals('dashboard', p, []);
    const port = int(p, 'port', 8080, 0, 65_535);
    const host = str(p, 'host') ?? '127.0.0.1';
    const queues = list(p, 'queue');
    if (queues?.length === 0) throw new UsageError('--queue: name at least one queue', 'dashboard');
    await ctx.redis(); // fails fast, exit 1, when Redis does not answer
    const dash = createDashboard({ connection: ctx.url, prefix: ctx.prefix, readOnly: flag(p, 'read-only'), ...(queues ? { queues } : {}) });
    const server = createServer(dash.node);
    server.listen(port, host);
    try {
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err as Error; })]);
    } catch (err) {
      await dash.close();
      throw new CliError(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
    }
    const { port: bound } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}/`;
    if (ctx.out.json) ctx.out.data({ url });
    else ctx.out.line(`kyoo dashboard on ${url}${flag(p, 'read-only') ? ' (read-only)' : ''}; Ctrl-C stops it`);
    if (!/^(127\.|::1$|localhost$)/.test(host)) ctx.out.note(`note: listening on ${host}, which others may reach; this dashboard has no login`);
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
    server.closeAllConnections();
    await Promise.all([new Promise((r) => server.close(r)), dash.close()]);
    return EXIT.OK;
  },
};
