// Headless Chromium for the dashboard's tests: Debian's chromium (./scripts/setup installs it),
// driven by playwright-core (Playwright's own browser download does not work on these machines),
// with a fresh profile per launch. And a dashboard served on a free loopback port.
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createDashboard, type Dashboard, type DashboardOptions } from '@kyoo/dashboard';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface Browser {
  context: BrowserContext;
  /** A new page; every console error and page error it shows is collected in `errors`. */
  page(): Promise<Page>;
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyoo-chromium-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  return {
    context,
    errors,
    async page() {
      const page = await context.newPage();
      page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
      page.on('console', (m) => {
        // a refused action answers 403/409 on purpose: the page shows it, the browser logs the status
        if (m.type() === 'error' && !/status of 40[39]/.test(m.text())) errors.push(`console: ${m.text()}`);
      });
      return page;
    },
    async close() {
      await context.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Served {
  /** The page's URL, ending in `/`, under `mount` (default `/kyoo/`). */
  url: string;
  origin: string;
  dashboard: Dashboard;
  close(): Promise<void>;
}

/** Serves a dashboard with node:http on 127.0.0.1, mounted under `mount` (as an application would). */
export async function serveDashboard(options: DashboardOptions, mount = '/kyoo'): Promise<Served> {
  const dashboard = createDashboard(options);
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/favicon.ico') {
      res.writeHead(204).end(); // what a browser asks of any origin it shows a document of
      return;
    }
    if (url !== mount && !url.startsWith(`${mount}/`) && !url.startsWith(`${mount}?`)) {
      res.writeHead(404).end('not here');
      return;
    }
    req.url = url.slice(mount.length) || '/';
    dashboard.node(req, res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}${mount}/`,
    origin,
    dashboard,
    async close() {
      server.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), dashboard.close()]);
    },
  };
}
