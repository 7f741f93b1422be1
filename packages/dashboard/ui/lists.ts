import type { GroupsPage, ScheduleRow, WorkerRow, WorkersPage } from '../src/api-types.js';
import { get, qpath } from './api.js';
import { h, fill, throttle } from './dom.js';
import { dur, num, plural, serverTime } from './format.js';
import { link } from './nav.js';
import { showError } from './notify.js';
import { slotBar } from './overview.js';
import type { QueueContext, QueueRoute } from './queue.js';
import { badge, count, loading, table, th, when } from './widgets.js';

/** The smaller tabs: schedules, groups, workers. */

export function schedulesTab(ctx: QueueContext, route: Extract<QueueRoute, { name: 'queue' }>): HTMLElement {
  const { queue, scope } = ctx;
  const mark = route.query.get('s');
  const box = h('div', null, loading());
  const load = async (): Promise<void> => {
    try {
      const { schedules } = await get<{ schedules: ScheduleRow[] }>(qpath(queue, '/schedules'));
      if (!scope.alive) return;
      fill(box, table(
        [th('Schedule'), th('Runs'), th('Status'), th('Next run'), th('Last run'), th('Last job'), th('Jobs made', 'num')],
        schedules.map((s) => h('tr', { 'data-testid': `schedule-row-${s.id}`, class: s.id === mark ? 'marked' : '' },
          h('td', { class: 'mono' }, s.id),
          h('td', null, h('code', null, every(s.every))),
          h('td', null, s.ended ? badge('ended', 'c-grey') : s.paused ? badge('paused', 'c-amber') : badge('active', 'c-green')),
          h('td', { class: 'time' }, when(s.nextRunAt)),
          h('td', { class: 'time' }, when(s.lastRunAt)),
          h('td', { class: 'id' }, s.lastJobId ? h('a', { class: 'mono', href: link.job(queue, s.lastJobId) }, s.lastJobId) : h('span', { class: 'muted' }, '—')),
          h('td', { class: 'num' }, count(s.runs)),
        )),
        { empty: 'No schedule in this queue.' },
      ));
    } catch (err) {
      if (scope.alive) showError(err);
    }
  };
  const reload = throttle(() => void load(), 2000);
  scope.add(reload.cancel);
  scope.listen({ jobs: (m) => m.queue === queue && (m.counts['added'] ?? 0) > 0 && reload() });
  void load();
  return h('div', null, h('div', { class: 'section-head' }, h('h2', null, 'Schedules')), box);
}

export function groupsTab(ctx: QueueContext, route: Extract<QueueRoute, { name: 'queue' }>): HTMLElement {
  const { queue, scope } = ctx;
  const mark = route.query.get('g');
  const box = h('div', null, loading());
  const head = h('div', { class: 'section-head' }, h('h2', null, 'Groups'));
  const foot = h('div', { class: 'list-foot' });
  const cursors: (string | undefined)[] = [undefined];
  let at = 0;
  let next: string | undefined;
  const load = async (): Promise<void> => {
    try {
      const p = await get<GroupsPage>(qpath(queue, '/groups'), { cursor: cursors[at] });
      if (!scope.alive) return;
      next = p.cursor;
      fill(head, h('h2', null, 'Groups'), h('span', { class: 'muted' }, `${plural(p.total, 'group')} with a job waiting or running`));
      fill(box, table(
        [th('Group'), th('Waiting', 'num'), th('Running', 'num')],
        p.groups.map((g) => h('tr', { 'data-testid': `group-row-${g.group}`, class: g.group === mark ? 'marked' : '' },
          h('td', { class: 'mono' }, g.group),
          h('td', { class: 'num' }, count(g.waiting)),
          h('td', { class: 'num' }, count(g.running)),
        )),
        { empty: 'No group has a job waiting or running.' },
      ));
      fill(foot,
        h('span', { class: 'muted small' }, `page ${num(at + 1)}`),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'btn small', disabled: at === 0, 'data-testid': 'groups-first', onclick: () => go(0) }, 'First'),
        h('button', { type: 'button', class: 'btn small', disabled: at === 0, 'data-testid': 'groups-prev', onclick: () => go(at - 1) }, 'Prev'),
        h('button', { type: 'button', class: 'btn small', disabled: next === undefined, 'data-testid': 'groups-next', onclick: () => go(at + 1) }, 'Next'),
      );
    } catch (err) {
      if (scope.alive) showError(err);
    }
  };
  const go = (i: number): void => {
    if (i > at) {
      if (next === undefined) return;
      cursors[i] = next;
    }
    at = i;
    cursors.length = at + 1;
    void load();
  };
  const reload = throttle(() => void load(), 2000);
  scope.add(reload.cancel);
  scope.listen({ jobs: (m) => m.queue === queue && reload() });
  void load();
  return h('div', null, head, box, foot);
}

export function workersTab(ctx: QueueContext): HTMLElement {
  const { queue, scope } = ctx;
  const box = h('div', null, loading());
  const head = h('div', { class: 'section-head' }, h('h2', null, 'Workers'));
  let seen = '';
  const load = async (): Promise<void> => {
    try {
      const p = await get<WorkersPage>(qpath(queue, '/workers'));
      if (!scope.alive) return;
      serverTime(p.at);
      const alive = p.workers.filter((w) => w.alive);
      const busy = alive.reduce((n, w) => n + w.busy, 0);
      const slots = alive.reduce((n, w) => n + w.slots, 0);
      fill(head, h('h2', null, 'Workers'), h('span', { class: 'muted' }, `${num(alive.length)} alive, ${num(busy)} of ${plural(slots, 'slot')} busy`));
      fill(box, table(
        [th('Worker'), th('Busy / slots'), th('Last seen'), th('Counts as alive until'), th('Status')],
        p.workers.map(workerRow),
        { empty: 'No worker has called in recently.' },
      ));
    } catch (err) {
      if (scope.alive) showError(err);
    }
  };
  // live: read again when the tick says the queue's workers or busy slots changed
  const reload = throttle(() => void load(), 1000);
  scope.add(reload.cancel);
  scope.listen({
    tick: (m) => {
      const s = m.queues.find((q) => q.name === queue);
      if (!s) return;
      const key = `${s.workers}/${s.busySlots}/${s.idleSlots}`;
      if (seen !== '' && key !== seen) reload();
      seen = key;
    },
  });
  void load();
  return h('div', null, head, box);
}

/** "every 60000 ms" as "every 1m". */
function every(text: string): string {
  const m = /^every (\d+) ms$/.exec(text);
  return m ? `every ${dur(Number(m[1]))}` : text;
}

function workerRow(w: WorkerRow): HTMLElement {
  return h('tr', { 'data-testid': `worker-row-${w.id}`, class: w.alive ? '' : 'gone' },
    h('td', { class: 'mono' }, w.id),
    h('td', { class: 'slots' }, slotBar(w.busy, w.slots)),
    h('td', { class: 'time' }, when(w.lastSeenAt)),
    h('td', { class: 'time' }, when(w.expiresAt)),
    h('td', null, w.alive ? badge('alive', 'c-green') : badge('gone', 'c-grey')),
  );
}
