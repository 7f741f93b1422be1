import type { ActionName } from './api-types.js';

/** What a request asks to do, for {@link DashboardOptions.authorize}. */
export interface DashboardAction {
  /** `view` for every read (pages, the API's GETs, live updates); else the action's name. */
  name: 'view' | ActionName;
  /** The queue it is about (absent for the overview and the page's files). */
  queue?: string;
}

/**
 * Whether a state-changing request comes from the dashboard's own page. A
 * browser says where a request comes from: `Sec-Fetch-Site` (every current
 * browser) must be `same-origin` (or `none`, typed by the user); without it,
 * `Origin` must be this server's. A request with neither comes from no
 * browser (curl, a script) and cannot be a cross-site forgery. Actions also
 * need `Content-Type: application/json`, which no HTML form can send.
 */
export function crossSite(request: Request): string | null {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null) return site === 'same-origin' || site === 'none' ? null : `Sec-Fetch-Site is ${site}`;
  const origin = request.headers.get('origin');
  if (origin !== null) {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      // "null" and other opaque origins are never this server
    }
    if (host !== new URL(request.url).host) return `Origin ${origin} is not this server`;
  }
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) return 'actions must be sent as application/json';
  return null;
}
