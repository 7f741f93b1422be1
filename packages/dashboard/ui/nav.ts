import type { ListState } from '../src/api-types.js';
import { listen, type LiveHandlers } from './live.js';

/** Routes (hash routing: the dashboard is mounted under any path), and what a view holds while shown. */

export type Tab = 'jobs' | 'dead' | 'schedules' | 'groups' | 'workers';

export type Route =
  | { name: 'overview'; query: URLSearchParams }
  | { name: 'queue'; queue: string; tab: Tab; state: ListState; query: URLSearchParams }
  | { name: 'job'; queue: string; id: string; query: URLSearchParams };

export const STATES: readonly ListState[] = ['ready', 'delayed', 'leased', 'completed', 'dead', 'cancelled'];
export const STATE_LABEL: Record<ListState, string> = { ready: 'Waiting', delayed: 'Delayed', leased: 'Running', completed: 'Completed', dead: 'Dead', cancelled: 'Cancelled' };
const TABS: readonly string[] = ['jobs', 'dead', 'schedules', 'groups', 'workers'];

const enc = encodeURIComponent;

/** A window event: show the current route again (a search submitted twice). */
export const REFRESH = 'kyoo:refresh';

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  const query = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
  let parts: string[];
  try {
    parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  } catch {
    parts = [];
  }
  const [head, queue, tab, arg] = parts;
  if (head !== 'q' || queue === undefined) return { name: 'overview', query };
  if (tab === 'job' && arg !== undefined) return { name: 'job', queue, id: arg, query };
  if (tab === 'jobs') return { name: 'queue', queue, tab: 'jobs', state: (STATES as readonly string[]).includes(arg ?? '') ? (arg as ListState) : 'ready', query };
  if (tab !== undefined && TABS.includes(tab)) return { name: 'queue', queue, tab: tab as Tab, state: 'dead', query };
  return { name: 'queue', queue, tab: 'jobs', state: 'ready', query };
}

const qs = (query?: Record<string, string | undefined>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const link = {
  overview: (): string => '#/',
  queue: (q: string): string => `#/q/${enc(q)}`,
  jobs: (q: string, state: ListState, query?: Record<string, string | undefined>): string => `#/q/${enc(q)}/jobs/${state}${qs(query)}`,
  job: (q: string, id: string): string => `#/q/${enc(q)}/job/${enc(id)}`,
  tab: (q: string, tab: Exclude<Tab, 'jobs'>, query?: Record<string, string | undefined>): string => `#/q/${enc(q)}/${tab}${qs(query)}`,
};

/** What a shown view holds (live handlers, timers): released when the route changes. */
export class Scope {
  private readonly releases: (() => void)[] = [];
  alive = true;

  add(release: () => void): void {
    if (this.alive) this.releases.push(release);
    else release();
  }

  listen(h: LiveHandlers): void {
    this.add(listen(h));
  }

  dispose(): void {
    this.alive = false;
    for (const r of this.releases.splice(0)) r();
  }
}

/** Whether actions are off (the server says so on every overview and queue). */
let readOnly = false;
const readOnlyWatchers = new Set<(ro: boolean) => void>();
export const isReadOnly = (): boolean => readOnly;
export function setReadOnly(ro: boolean): void {
  if (ro === readOnly) return;
  readOnly = ro;
  for (const w of readOnlyWatchers) w(ro);
}
export function onReadOnly(fn: (ro: boolean) => void): void {
  readOnlyWatchers.add(fn);
}
