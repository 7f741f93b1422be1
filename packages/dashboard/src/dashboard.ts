import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_PREFIX, InvalidOptionError, KyooError, connect, log, release, validatePrefix, validateQueueName, type ConnectionOption, type OwnedConnection } from '@kyoo/core';
import { Queue, findQueues } from '@kyoo/client';
import type { Overview } from './api-types.js';
import { Actions } from './actions.js';
import { Assets } from './assets.js';
import { crossSite, type DashboardAction } from './guard.js';
import { HttpError, apiError, json } from './http.js';
import { isRange } from './history.js';
import { Hub } from './hub.js';
import { nodeHandler } from './node.js';
import { deadGroups, groupsPage, jobDetail, jobPage, queueDetail, schedules, workersPage } from './views.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** As a Queue's `connection` (a URL, ioredis options, or a client to share). @defaultValue `redis://127.0.0.1:6379` */
  connection?: ConnectionOption;
  /** Key prefix. @defaultValue `'kyoo'` */
  prefix?: string;
  /** The queues to show. @defaultValue every queue under the prefix, found with SCAN at most every 30 s */
  queues?: readonly string[];
  /** Refuse every action (pause, replay, cancel, ...): a dashboard to look at only. @defaultValue `false` */
  readOnly?: boolean;
  /**
   * Decides whether a request may do what it asks (`view` for reads). Called
   * for every API request and live-update stream; a false answer (or a throw)
   * is a 403. Put the host application's session check here.
   * @example
   * authorize: (req, action) => action.name === 'view' || isAdmin(req)
   */
  authorize?: (request: Request, action: DashboardAction) => boolean | Promise<boolean>;
  /** How often the queues are sampled for the live view and the charts (ms). @defaultValue `1000` */
  sampleMs?: number;
}

/** A mounted dashboard: its two handlers, and `close()`. */
export interface Dashboard {
  /**
   * The handler for fetch-style servers (Hono, Bun, Deno, workers): mount it
   * at any path; it answers paths relative to where it is mounted.
   * @example
   * app.mount('/kyoo', dashboard.fetch) // Hono
   */
  fetch(request: Request): Promise<Response>;
  /**
   * The handler for `node:http` and Express: `http.createServer(dashboard.node)`,
   * or `app.use('/kyoo', dashboard.node)`.
   */
  node(req: IncomingMessage, res: ServerResponse): void;
  /** Stops sampling, ends live streams and replays this process runs (their tasks stay in Redis, to resume), and closes the connection it opened. */
  close(): Promise<void>;
}

const DISCOVER_MS = 30_000;

/**
 * Makes the dashboard: the page, its JSON API and live updates, for the
 * queues of one Redis (or Cluster). It opens one connection and, from the
 * first request on, one reader that samples the queues every `sampleMs`.
 * @example
 * import { createServer } from 'node:http'
 * import { createDashboard } from '@kyoo/dashboard'
 * const dashboard = createDashboard({ connection: process.env.REDIS_URL, readOnly: true })
 * createServer(dashboard.node).listen(3000, '127.0.0.1')
 */
export function createDashboard(options: DashboardOptions = {}): Dashboard {
  return new Server(options).api;
}

class Server {
  readonly api: Dashboard;
  private readonly conn: OwnedConnection;
  private readonly prefix: string;
  private readonly readOnly: boolean;
  private readonly authorize: DashboardOptions['authorize'];
  private readonly fixed: readonly string[] | undefined;
  private readonly queues = new Map<string, Queue>();
  private readonly hub: Hub;
  private readonly actions: Actions;
  private readonly assets = new Assets();
  private readonly csp: string;
  private known: { names: string[]; at: number } | undefined;
  private discovering: Promise<string[]> | undefined;
  private closed = false;

  constructor(options: DashboardOptions) {
    const o = checkOptions(options);
    this.prefix = validatePrefix(o.prefix ?? DEFAULT_PREFIX);
    this.readOnly = o.readOnly ?? false;
    this.authorize = o.authorize;
    this.fixed = o.queues?.map((q) => validateQueueName(q));
    this.conn = connect(o.connection);
    if (this.conn.owned) this.conn.redis.on('error', (err: Error) => log.dashboard('redis error: %s', err.message));
    this.hub = new Hub({ redis: this.conn.redis, names: () => this.names(), queue: (n) => this.queue(n), sampleMs: o.sampleMs ?? 1000 });
    this.actions = new Actions((queue, redrive) => this.hub.broadcast(queue, 'redrive', { queue, redrive }));
    this.csp = ["default-src 'self'", `script-src 'self' ${this.assets.scriptHashes.join(' ')}`, "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'self'", "base-uri 'none'", "form-action 'none'"].join('; ');
    const fetch = (request: Request): Promise<Response> => this.handle(request);
    this.api = { fetch, node: nodeHandler(fetch), close: () => this.close() };
  }

  private async handle(request: Request): Promise<Response> {
    if (this.closed) return apiError(503, 'internal', 'the dashboard is closed');
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/+/, '');
    try {
      if (!path.startsWith('api/')) return this.page(path, request);
      return await this.route(request, path.slice(4).split('/').map(decodeURIComponent), url.searchParams);
    } catch (err) {
      if (err instanceof HttpError) return apiError(err.status, err.code, err.message);
      if (err instanceof InvalidOptionError) return apiError(400, 'bad-request', err.message);
      if (err instanceof KyooError && err.code === 'JOB_NOT_FOUND') return apiError(404, 'not-found', err.message);
      log.dashboard('%s %s failed: %s', request.method, path, (err as Error).stack ?? err);
      return apiError(500, 'internal', (err as Error).message);
    }
  }

  private page(path: string, request: Request): Response {
    if (request.method !== 'GET' && request.method !== 'HEAD') return apiError(405, 'bad-request', 'the page takes GET only');
    const name = path === '' || path === 'index.html' ? 'index.html' : path.startsWith('assets/') ? path.slice(7) : '';
    const headers = { 'content-security-policy': this.csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    if (name === 'index.html' && !this.assets.built) return new Response('the dashboard page is not built: run `node packages/dashboard/ui/build.mjs`', { status: 500 });
    return this.assets.serve(name, request, headers) ?? new Response('not found', { status: 404, headers });
  }

  private async route(request: Request, parts: string[], q: URLSearchParams): Promise<Response> {
    const post = request.method === 'POST';
    if (!post && request.method !== 'GET') throw new HttpError(405, 'bad-request', 'the API takes GET, and POST for actions');
    const [head, name, sub, ...rest] = parts;
    if (head === 'overview' && parts.length === 1 && !post) {
      await this.allow(request, { name: 'view' });
      return json(await this.overview());
    }
    if (head === 'events' && parts.length === 1 && !post) {
      await this.allow(request, { name: 'view' });
      return this.events(request, q);
    }
    if (head !== 'queues' || name === undefined) throw new HttpError(404, 'not-found', 'no such API route');
    const queue = await this.existing(name);
    if (post) {
      if (sub !== 'actions' || rest.length > 0) throw new HttpError(404, 'not-found', 'actions are POSTed to api/queues/<queue>/actions');
      return this.act(request, queue);
    }
    await this.allow(request, { name: 'view', queue: queue.name });
    if (sub === undefined) return json(await queueDetail(this.conn.redis, queue, await this.hub.summary(queue.name), this.readOnly, await this.actions.redrive(queue)));
    if (rest.length > 1 || (rest.length === 1 && sub !== 'jobs' && sub !== 'dead')) throw new HttpError(404, 'not-found', 'no such API route');
    switch (sub) {
      case 'history': {
        const range = q.get('range') ?? '5m';
        if (!isRange(range)) throw new HttpError(400, 'bad-request', 'range must be 5m, 1h or 24h');
        await this.hub.start();
        return json(this.hub.history(queue.name, range));
      }
      case 'jobs':
        return json(rest.length === 1 ? await jobDetail(queue, rest[0]!) : await jobPage(queue, q));
      case 'dead':
        if (rest[0] !== 'groups') throw new HttpError(404, 'not-found', 'no such API route');
        return json(await deadGroups(this.conn.redis, queue, await this.actions.redrive(queue)));
      case 'schedules':
        return json(await schedules(queue));
      case 'groups':
        return json(await groupsPage(queue, q));
      case 'workers':
        return json(await workersPage(queue));
      default:
        throw new HttpError(404, 'not-found', 'no such API route');
    }
  }

  private async act(request: Request, queue: Queue): Promise<Response> {
    const refused = crossSite(request);
    if (refused) {
      log.dashboard('refused a cross-site action on %s: %s', queue.name, refused);
      throw new HttpError(403, 'cross-site', `refused: ${refused}`);
    }
    let body: unknown;
    try {
      const text = await request.text();
      if (text.length > 1_048_576) throw new HttpError(413, 'bad-request', 'an action body is 1 MiB at most');
      body = JSON.parse(text);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'bad-request', 'the body must be JSON');
    }
    const name = (body as { action?: unknown } | null)?.action;
    if (this.readOnly) {
      log.dashboard('refused %s on %s: read-only', String(name), queue.name);
      throw new HttpError(403, 'read-only', 'this dashboard is read-only: actions are turned off');
    }
    if (typeof name === 'string') await this.allow(request, { name: name as DashboardAction['name'], queue: queue.name });
    return json(await this.actions.run(queue, body));
  }

  private async allow(request: Request, action: DashboardAction): Promise<void> {
    if (!this.authorize) return;
    let ok = false;
    try {
      ok = (await this.authorize(request, action)) === true;
    } catch (err) {
      log.dashboard('authorize threw for %s: %s', action.name, (err as Error).message);
    }
    if (!ok) {
      if (action.name !== 'view') log.dashboard('refused %s on %s: not authorized', action.name, action.queue ?? '-');
      throw new HttpError(403, 'forbidden', `not allowed to ${action.name === 'view' ? 'view this' : action.name}`);
    }
  }

  private async overview(): Promise<Overview> {
    const names = await this.names();
    const queues = await Promise.all(names.map((n) => this.hub.summary(n)));
    return { at: Date.now(), readOnly: this.readOnly, queues };
  }

  private events(request: Request, q: URLSearchParams): Response {
    const wanted = q.get('queues');
    const list = wanted ? wanted.split(',').filter((n) => n !== '').map((n) => validateQueueName(n)) : null;
    const encoder = new TextEncoder();
    let stop: (() => void) | undefined;
    let ping: NodeJS.Timeout | undefined;
    const end = (): void => {
      stop?.();
      if (ping) clearInterval(ping);
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = (event: string, data: unknown): void => {
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
          if (event === 'close') {
            end();
            controller.close();
          }
        };
        controller.enqueue(encoder.encode('retry: 2000\n\n'));
        stop = this.hub.listen(list, send);
        // a comment now and then keeps proxies from closing a quiet stream
        ping = setInterval(() => controller.enqueue(encoder.encode(': ping\n\n')), 15_000);
        ping.unref();
        request.signal.addEventListener('abort', end, { once: true });
      },
      cancel: end,
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff' } });
  }

  /** The queue of a route: one shown here, else 404 (a mistyped name is no queue). */
  private async existing(name: string): Promise<Queue> {
    validateQueueName(name);
    if (this.fixed ? !this.fixed.includes(name) : !(await this.names()).includes(name) && !(await this.queue(name).exists())) {
      throw new HttpError(404, 'not-found', `no queue ${JSON.stringify(name)} here`);
    }
    return this.queue(name);
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new Queue(name, { connection: this.conn.redis, prefix: this.prefix })));
    return q;
  }

  private async names(): Promise<string[]> {
    if (this.fixed) return [...this.fixed];
    if (this.known && Date.now() - this.known.at < DISCOVER_MS) return this.known.names;
    this.discovering ??= findQueues({ connection: this.conn.redis, prefix: this.prefix }).then(
      (names) => {
        this.known = { names, at: Date.now() };
        this.discovering = undefined;
        return names;
      },
      (err: unknown) => {
        this.discovering = undefined;
        throw err;
      },
    );
    return this.discovering;
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.close();
    await this.actions.close();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await release(this.conn);
  }
}

function checkOptions(options: unknown): DashboardOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an options object');
  const o = options as DashboardOptions;
  for (const k of Object.keys(o)) {
    if (!['connection', 'prefix', 'queues', 'readOnly', 'authorize', 'sampleMs'].includes(k)) throw new InvalidOptionError(k, `unknown dashboard option ${JSON.stringify(k)}`);
  }
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new InvalidOptionError('readOnly', 'expected true or false');
  if (o.authorize !== undefined && typeof o.authorize !== 'function') throw new InvalidOptionError('authorize', 'expected a function (request, action) => boolean');
  if (o.queues !== undefined && (!Array.isArray(o.queues) || o.queues.length === 0)) throw new InvalidOptionError('queues', 'expected a non-empty array of queue names (leave it out to show every queue)');
  if (o.sampleMs !== undefined && (!Number.isInteger(o.sampleMs) || o.sampleMs < 100 || o.sampleMs > 60_000)) throw new InvalidOptionError('sampleMs', 'expected a whole number of ms from 100 to 60,000');
  return o;
}
