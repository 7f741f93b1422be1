import type { ApiError } from './api-types.js';

/** An error the API answers with its status and an {@link ApiError} body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiError['error'],
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS } });
}

export function apiError(status: number, error: ApiError['error'], message: string): Response {
  return json({ error, message } satisfies ApiError, status);
}
