import type { Counts, Overview, QueueSummary } from '../src/api-types.js';
import { get } from './api.js';
import { h, fill } from './dom.js';
import { dur, num, rate } from './format.js';
import { Metrics, type Range } from './metrics.js';
import { STATES, STATE_LABEL, link, setReadOnly, type Scope } from './nav.js';
import { showError } from './notify.js';
import { CLASS, badge, count, loading, td } from './widgets.js';

/** The overview (`#/`): every queue in a table, and the charts of one. */

let chartQueue: string | undefined;
let chartRange: Range = '5m';

export function overviewView(scope: Scope): HTMLElement {
  const body = h('tbody');
  const foot = h('tfoot');
  const tableBox = h('div', { class: 'table-wrap' }, loading());
  const chartsBox = h('div');
  const el = h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, 'Queues'), h('span', { class: 'muted', id: 'queue-count' })),
    tableBox,
    chartsBox,
  );
  let metrics: Metrics | undefined;
  let names: string[] = [];

  const rows = new Map<string, QueueRow>();
  const render = (queues: readonly QueueSummary[]): void => {
    // rows are updated in place (a tick a second must not break a click or a text selection)
    const seen = new Set<string>();
    const trs = queues.map((q) => {
      seen.add(q.name);
      let r = rows.get(q.name);
      if (!r) rows.set(q.name, (r = new QueueRow(q.name)));
      r.update(q);
      return r.tr;
    });
    for (const n of [...rows.keys()]) if (!seen.has(n)) rows.delete(n);
    if (trs.length === 0) fill(body, h('tr', { class: 'empty' }, h('td', { colspan: 10 }, 'No queues yet: a queue shows here once a job is added to it.')));
    else if (trs.length !== body.children.length || trs.some((tr, i) => body.children[i] !== tr)) body.replaceChildren(...trs);
    fill(foot, queues.length > 1 ? totals(queues) : null);
    fill(el.querySelector('#queue-count')!, queues.length > 0 ? `${num(queues.length)} queue${queues.length === 1 ? '' : 's'}` : '');
    const now = queues.map((q) => q.name);
    if (now.join('\n') !== names.join('\n')) {
      names = now;
      charts();
    }
  };

  const charts = (): void => {
    if (names.length === 0) return fill(chartsBox);
    if (chartQueue === undefined || !names.includes(chartQueue)) chartQueue = names[0]!;
    metrics ??= new Metrics(chartQueue, chartRange, (r) => (chartRange = r));
    const select = h('select', { class: 'select', 'aria-label': 'Queue', 'data-testid': 'chart-queue' }, names.map((n) => h('option', { value: n, selected: n === chartQueue }, n)));
    select.addEventListener('change', () => {
      chartQueue = select.value;
      metrics?.setQueue(select.value);
    });
    metrics.setPicker(select);
    metrics.setQueue(chartQueue);
    if (!chartsBox.contains(metrics.el)) fill(chartsBox, metrics.el);
  };

  scope.listen({
    tick: (m) => {
      render(m.queues);
      metrics?.tick(m.at, m.queues);
    },
  });

  void (async () => {
    try {
      const o = await get<Overview>('api/overview');
      if (!scope.alive) return;
      setReadOnly(o.readOnly);
      fill(tableBox, h('table', { class: 'grid overview' }, head(), body, foot));
      render(o.queues);
    } catch (err) {
      if (scope.alive) {
        fill(tableBox, h('div', { class: 'empty-box' }, 'The queues could not be read.'));
        showError(err);
      }
    }
  })();
  return el;
}

function head(): HTMLElement {
  return h('thead', null, h('tr', null,
    h('th', null, 'Queue'),
    STATES.map((s) => h('th', { class: 'num state' }, h('i', { class: `dot c-${CLASS[s]}` }), STATE_LABEL[s])),
    h('th', { class: 'num' }, 'Oldest waiting'),
    h('th', null, 'Workers · busy slots'),
    h('th', { class: 'num' }, 'Completed/s'),
  ));
}

/** One queue's row: built once, its cells refreshed on every tick. */
class QueueRow {
  readonly tr: HTMLElement;
  private readonly badges = h('span', { class: 'badges' });
  private readonly counts = new Map<keyof Counts, [HTMLElement, HTMLElement]>();
  private readonly oldest = h('td', { class: 'num' });
  private readonly workers = h('td', { class: 'workers' });
  private readonly rate = h('td', { class: 'num' });

  constructor(name: string) {
    const cells = STATES.map((s) => {
      const n = h('span', { class: 'n' });
      const cell = h('td', { class: 'num' }, h('a', { href: link.jobs(name, s), class: 'plain', title: `${STATE_LABEL[s]} jobs of ${name}` }, n));
      this.counts.set(s, [cell, n]);
      return cell;
    });
    this.tr = h('tr', { 'data-testid': `queue-row-${name}` },
      h('td', { class: 'name' }, h('div', { class: 'qname' }, h('a', { href: link.queue(name), class: 'queue-link' }, name), this.badges)),
      cells, this.oldest, this.workers, this.rate,
    );
  }

  update(q: QueueSummary): void {
    this.tr.classList.toggle('paused', q.paused);
    fill(this.badges,
      q.paused ? badge('paused', 'c-amber', 'paused-badge', 'workers take no new job from this queue') : null,
      q.warning === 'no-workers' ? badge('jobs waiting, no worker seen', 'warn', 'no-workers-badge', 'jobs are waiting and no worker has called in') : null,
    );
    for (const [s, [cell, n]] of this.counts) {
      const v = q.counts[s];
      n.textContent = num(v);
      n.classList.toggle('muted', v === 0);
      cell.classList.toggle('bad', s === 'dead' && v > 0);
    }
    const slots = q.busySlots + q.idleSlots;
    fill(this.oldest, age(q.oldestWaitingMs));
    fill(this.workers, h('div', { class: 'wcell' }, count(q.workers, `workers-${q.name}`), slots > 0 ? slotBar(q.busySlots, slots) : null));
    fill(this.rate, h('span', { class: q.rates.completed === 0 ? 'muted' : '' }, rate(q.rates.completed)), h('span', { class: 'unit' }, '/s'));
  }
}

export function slotBar(busy: number, total: number): HTMLElement {
  const pct = total > 0 ? (busy / total) * 100 : 0;
  return h('span', { class: 'slotbar', title: `${num(busy)} of ${num(total)} slots busy` },
    h('span', { class: 'bar' }, h('span', { class: `bar-fill ${pct >= 90 ? 'hot' : ''}`, style: { width: `${pct.toFixed(1)}%` } })),
    h('span', { class: 'n' }, `${num(busy)} / ${num(total)}`),
  );
}

function totals(queues: readonly QueueSummary[]): HTMLElement {
  const sum = (f: (q: QueueSummary) => number): number => queues.reduce((n, q) => n + f(q), 0);
  const c = (s: keyof Counts): number => sum((q) => q.counts[s]);
  const busy = sum((q) => q.busySlots);
  const slots = busy + sum((q) => q.idleSlots);
  return h('tr', { class: 'totals' },
    h('td', null, 'All queues'),
    STATES.map((s) => td('num', count(c(s)))),
    td('num', age(Math.max(...queues.map((q) => q.oldestWaitingMs)))),
    td('workers', h('div', { class: 'wcell' }, count(sum((q) => q.workers)), slots > 0 ? slotBar(busy, slots) : null)),
    td('num', rate(sum((q) => q.rates.completed)), h('span', { class: 'unit' }, '/s')),
  );
}

/** The age of the oldest waiting job ("3m 12s"), a dash when none waits. */
export function age(ms: number): HTMLElement {
  return ms > 0 ? h('span', { class: ms >= 60_000 ? 'warn-text' : '' }, dur(ms)) : h('span', { class: 'muted' }, '—');
}
