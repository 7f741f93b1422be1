// The dashboard in an Express app, under /kyoo, read-only.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 node examples/dashboard/express.mjs
import express from 'express';
import { createDashboard } from '@kyoo/dashboard';

const dashboard = createDashboard({ connection: process.env.REDIS_URL, readOnly: true });
const app = express();
app.use('/kyoo', dashboard.node); // Express hands it req.url relative to /kyoo
app.get('/', (_req, res) => res.send('<a href="/kyoo/">queues</a>'));
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log(`dashboard on http://127.0.0.1:${server.address().port}/kyoo/`));
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void dashboard.close();
});
