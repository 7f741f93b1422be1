// The dashboard in a Hono app (its fetch handler), under /kyoo, served by @hono/node-server.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 node examples/dashboard/hono.mjs
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createDashboard } from '@kyoo/dashboard';

const dashboard = createDashboard({ connection: process.env.REDIS_URL });
const app = new Hono();
app.mount('/kyoo', dashboard.fetch); // Hono strips /kyoo from the path it hands on
app.get('/', (c) => c.html('<a href="/kyoo/">queues</a>'));
const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => console.log(`dashboard on http://127.0.0.1:${info.port}/kyoo/`));
process.once('SIGTERM', () => {
  server.close();
  void dashboard.close();
});
