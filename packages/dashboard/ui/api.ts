import type { ActionRequest, ActionResult, ApiError } from '../src/api-types.js';

/** A failed API call: the server's ApiError (or what went wrong on the way). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiError['error'] | 'network',
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** The API path of a queue (relative: the dashboard is mounted anywhere). */
export const qpath = (queue: string, rest = ''): string => `api/queues/${encodeURIComponent(queue)}${rest}`;

export async function get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return call<T>(qs ? `${path}?${qs}` : path, { headers: { accept: 'application/json' } });
}

/** POSTs an action (JSON, which no HTML form can send: the server's guard wants it so). */
export function act(queue: string, body: ActionRequest): Promise<ActionResult> {
  return call<ActionResult>(qpath(queue, '/actions'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
}

async function call<T>(url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    throw new ApiFailure(0, 'network', `could not reach the dashboard server (${(err as Error).message})`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const e = body as Partial<ApiError> | undefined;
    const message = typeof e?.message === 'string' ? e.message : `${res.status} ${res.statusText || 'error'}${text && !e ? `: ${text.slice(0, 200)}` : ''}`;
    throw new ApiFailure(res.status, e?.error ?? 'internal', message);
  }
  if (body === undefined) throw new ApiFailure(res.status, 'internal', `the server answered ${url} with no JSON`);
  return body as T;
}
