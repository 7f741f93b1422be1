import { deadTab } from './dead.js';
import { h, fill } from './dom.js';
import { jobView } from './job.js';
import { jobsTab } from './jobs.js';
import { groupsTab, schedulesTab, workersTab } from './lists.js';
import { listen, onLiveStatus, watch, type LiveStatus } from './live.js';
import { REFRESH, Scope, isReadOnly, link, onReadOnly, parseRoute, type Route } from './nav.js';
import { clearError } from './notify.js';
import { overviewView } from './overview.js';
import { QueuePage, type Content } from './queue.js';
import { refreshTimes } from './widgets.js';

/** The page: header, router (hash routes), and the view shown. */

// the module is inserted by index.html's first script: it may run before the body is parsed
const byId = (id: string): HTMLElement => document.getElementById(id)!;

let scope = new Scope();
let page: QueuePage | null = null;
let shown = '';

const content: Content = (ctx, route) => {
  if (route.name === 'job') return jobView(ctx, route);
  switch (route.tab) {
    case 'jobs':
      return jobsTab(ctx, route);
    case 'dead':
      return deadTab(ctx);
    case 'schedules':
      return schedulesTab(ctx, route);
    case 'groups':
      return groupsTab(ctx, route);
    case 'workers':
      return workersTab(ctx);
  }
};

function show(): void {
  const hash = location.hash || '#/';
  if (hash === shown) return;
  shown = hash;
  const route = parseRoute(hash);
  clearError();
  breadcrumbs(route);
  if (route.name !== 'overview' && page && page.queue === route.queue) {
    page.show(route);
    window.scrollTo(0, 0);
    return;
  }
  scope.dispose();
  scope = new Scope();
  page = null;
  if (route.name === 'overview') {
    watch(null);
    fill(byId('view'), overviewView(scope));
  } else {
    watch([route.queue]);
    page = new QueuePage(scope, route.queue, route, content);
    fill(byId('view'), page.el);
  }
  window.scrollTo(0, 0);
}

function breadcrumbs(r: Route): void {
  const sep = (): HTMLElement => h('span', { class: 'crumb-sep' }, '/');
  fill(byId('crumbs'),
    h('a', { href: link.overview() }, 'Queues'),
    r.name !== 'overview' ? [sep(), h('a', { href: link.queue(r.queue) }, r.queue)] : null,
    r.name === 'job' ? [sep(), h('span', null, 'job ', h('code', null, r.id))] : null,
  );
  document.title = r.name === 'overview' ? 'kyoo' : `${r.name === 'job' ? `job ${r.id} · ` : ''}${r.queue} · kyoo`;
}

const LIVE_TEXT: Record<LiveStatus, string> = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', offline: 'offline' };
function start(): void {
  const status = byId('live');
  onLiveStatus((s) => {
    status.className = `live ${s}`;
    status.lastElementChild!.textContent = LIVE_TEXT[s];
    status.title = s === 'offline' ? 'the live stream was refused: reload the page to try again' : '';
  });
  const readOnly = (ro: boolean): void => {
    byId('readonly').hidden = !ro;
    document.body.classList.toggle('read-only', ro);
  };
  onReadOnly(readOnly);
  readOnly(isReadOnly());
  // relative times ("2s ago") follow the server's clock, once a tick
  listen({ tick: () => refreshTimes(byId('view')) });
  window.addEventListener('hashchange', show);
  window.addEventListener(REFRESH, () => {
    shown = '';
    show();
  });
  show();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
