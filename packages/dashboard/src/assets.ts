import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface Asset {
  type: string;
  etag: string;
  raw: Buffer;
  gzip: Buffer;
  br: Buffer;
}

/**
 * The page's prebuilt files (`dist/ui`, built by `ui/build.mjs`), read once
 * and compressed ahead (brotli and gzip), served with an ETag. Nothing is
 * fetched from elsewhere: the dashboard works offline.
 */
export class Assets {
  private readonly files = new Map<string, Asset>();
  /** The `script-src` hashes of index.html's inline scripts, for the Content-Security-Policy. */
  readonly scriptHashes: string[] = [];

  constructor(dir = fileURLToPath(new URL('../dist/ui/', import.meta.url))) {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (!type) continue;
      const raw = readFileSync(join(dir, name));
      this.files.set(name, {
        type,
        raw,
        etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
        gzip: gzipSync(raw, { level: 9 }),
        br: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      });
    }
    const index = this.files.get('index.html')?.raw.toString('utf8') ?? '';
    for (const m of index.matchAll(/<script>([\s\S]*?)<\/script>/g)) this.scriptHashes.push(`'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);
  }

  get built(): boolean {
    return this.files.has('index.html');
  }

  /** The response for a file (`index.html` for the page), or null when there is none. */
  serve(name: string, request: Request, headers: Record<string, string>): Response | null {
    const a = this.files.get(name);
    if (!a) return null;
    const h: Record<string, string> = { ...headers, 'content-type': a.type, etag: a.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' };
    if (request.headers.get('if-none-match') === a.etag) return new Response(null, { status: 304, headers: h });
    const accept = request.headers.get('accept-encoding') ?? '';
    let body = a.raw;
    if (/\bbr\b/.test(accept)) [body, h['content-encoding']] = [a.br, 'br'];
    else if (/\bgzip\b/.test(accept)) [body, h['content-encoding']] = [a.gzip, 'gzip'];
    h['content-length'] = String(body.length);
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: h });
  }

  /** Compressed size of every file, for the size check (bytes). */
  sizes(): Record<string, { raw: number; gzip: number; br: number }> {
    return Object.fromEntries([...this.files].map(([n, a]) => [n, { raw: a.raw.length, gzip: a.gzip.length, br: a.br.length }]));
  }
}
