// The dashboard in a plain node:http server, under /kyoo/, with a login check of the host's own.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 node examples/dashboard/node-http.mjs
import { createServer } from 'node:http';
import { createDashboard } from '@kyoo/dashboard';

const dashboard = createDashboard({
  connection: process.env.REDIS_URL,
  // the host application decides: here, anyone may look; actions need the admin token
  authorize: (request, action) => action.name === 'view' || request.headers.get('authorization') === `Bearer ${process.env.ADMIN_TOKEN ?? 'change-me'}`,
});

const server = createServer((req, res) => {
  if (req.url === '/kyoo' || req.url?.startsWith('/kyoo/')) {
    req.url = req.url.slice('/kyoo'.length) || '/'; // the dashboard answers paths relative to its mount
    dashboard.node(req, res);
    return;
  }
  res.writeHead(404).end();
});
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log(`dashboard on http://127.0.0.1:${server.address().port}/kyoo/`));
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void dashboard.close();
});
