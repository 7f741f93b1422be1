import type { IncomingMessage, ServerResponse } from 'node:http';
import { log } from '@kyoo/core';

const MAX_BODY = 1_048_576;

/**
 * Turns a fetch-style handler into a `node:http` one (also Express's
 * `app.use(path, handler)`, which hands it `req.url` relative to the mount
 * path). The response streams, so live updates flow; a client that goes
 * away aborts the request's signal and cancels the stream.
 */
export function nodeHandler(fetch: (request: Request) => Promise<Response>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(fetch, req, res).catch((err: Error) => {
      log.dashboard('node handler: %s', err.message);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  };
}

async function serve(fetch: (request: Request) => Promise<Response>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const host = req.headers.host ?? 'localhost';
  const init: RequestInit = { method: req.method ?? 'GET', headers, signal: controller.signal };
  if (init.method !== 'GET' && init.method !== 'HEAD') init.body = await readBody(req);
  const response = await fetch(new Request(`http://${host}${req.url ?? '/'}`, init));
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => (out[k] = v));
  res.writeHead(response.status, out);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  controller.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
    if (done) break;
    if (!res.write(value)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
  }
  res.end();
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body over 1 MiB');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
