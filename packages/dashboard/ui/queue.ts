import type { QueueDetail, QueueSummary } from '../src/api-types.js';
import { act, get, qpath } from './api.js';
import { h, fill } from './dom.js';
import { num, pretty, rate } from './format.js';
import { STATES, STATE_LABEL, Scope, link, setReadOnly, type Route, type Tab } from './nav.js';
import { guarded, notice, showError } from './notify.js';
import { age, slotBar } from './overview.js';
import { CLASS, actionButton, badge, loading } from './widgets.js';

/**
 * A queue's page: its header (name, badges, counts, pause/resume) and tabs,
 * kept while the route stays on this queue; below, the tab or job shown.
 */

export type QueueRoute = Extract<Route, { name: 'queue' } | { name: 'job' }>;

export interface QueueContext {
  queue: string;
  /** Released when the content changes (another tab, page, job). */
  scope: Scope;
  /** The queue as last read or ticked. */
  detail(): QueueDetail;
  /** Reads the queue again (after an action) and updates the header. */
  refresh(): Promise<void>;
}

export type Content = (ctx: QueueContext, route: QueueRoute) => HTMLElement;

const TAB_LABEL: Record<Tab, string> = { jobs: 'Jobs', dead: 'Dead letters', schedules: 'Schedules', groups: 'Groups', workers: 'Workers' };

export class QueuePage {
  readonly el: HTMLElement;
  private readonly header = h('div', { class: 'qhead-box' }, loading());
  private readonly body = h('div', { class: 'qbody' });
  private detail: QueueDetail | undefined;
  private head: QueueHeader | undefined;
  private content = new Scope();
  private route: QueueRoute;

  constructor(
    private readonly scope: Scope,
    readonly queue: string,
    route: QueueRoute,
    private readonly render: Content,
  ) {
    this.route = route;
    this.el = h('div', { class: 'page' }, this.header, this.body);
    scope.add(() => this.content.dispose());
    scope.listen({
      tick: (m) => {
        const s = m.queues.find((q) => q.name === queue);
        if (s && this.detail) {
          const next: QueueDetail = { ...this.detail, ...s };
          if (s.warning === undefined) delete next.warning;
          this.detail = next;
          this.head?.update(next);
        }
      },
    });
    void this.load();
  }

  /** Shows another tab or job of this queue, keeping the header. */
  show(route: QueueRoute): void {
    this.route = route;
    if (!this.detail) return;
    this.head?.setTab(route.name === 'queue' ? route.tab : 'jobs');
    this.showContent();
  }

  private async load(): Promise<void> {
    try {
      this.detail = await get<QueueDetail>(qpath(this.queue));
      if (!this.scope.alive) return;
      setReadOnly(this.detail.readOnly);
      this.head = new QueueHeader(this.queue, this.detail, () => this.refresh());
      this.head.setTab(this.route.name === 'queue' ? this.route.tab : 'jobs');
      fill(this.header, this.head.el);
      this.head.update(this.detail);
      this.showContent();
    } catch (err) {
      if (!this.scope.alive) return;
      fill(this.header, h('div', { class: 'page-head' }, h('h1', null, this.queue)));
      fill(this.body, h('div', { class: 'empty-box' }, 'This queue could not be read.'));
      showError(err);
    }
  }

  private showContent(): void {
    this.content.dispose();
    this.content = new Scope();
    const ctx: QueueContext = { queue: this.queue, scope: this.content, detail: () => this.detail!, refresh: () => this.refresh() };
    fill(this.body, this.render(ctx, this.route));
  }

  private async refresh(): Promise<void> {
    const d = await guarded(() => get<QueueDetail>(qpath(this.queue)));
    if (d && this.scope.alive) {
      this.detail = d;
      setReadOnly(d.readOnly);
      this.head?.update(d);
    }
  }
}

class QueueHeader {
  readonly el: HTMLElement;
  private readonly badges = h('span', { class: 'badges' });
  private readonly counts = new Map<string, HTMLElement>();
  private readonly meta = h('div', { class: 'qmeta' });
  private readonly tabs = new Map<Tab, HTMLElement>();
  private readonly tabCounts = new Map<Tab, HTMLElement>();
  private readonly pause: HTMLButtonElement | null;
  private readonly resume: HTMLButtonElement | null;

  constructor(q: string, d: QueueDetail, refresh: () => Promise<void>) {
    const toggle = (action: 'pause' | 'resume') => async (): Promise<void> => {
      const r = await guarded(() => act(q, { action }));
      if (r) notice(action === 'pause' ? `Paused ${q}: workers take no new job from it` : `Resumed ${q}`);
      await refresh();
    };
    this.pause = actionButton('Pause', 'pause', toggle('pause'));
    this.resume = actionButton('Resume', 'resume', toggle('resume'));
    const countsBox = h('div', { class: 'counts' });
    for (const s of STATES) {
      const n = h('b', { 'data-testid': `count-${s}` }, '0');
      this.counts.set(s, n);
      countsBox.append(h('a', { class: `count-cell c-${CLASS[s]}`, href: link.jobs(q, s) }, h('span', { class: 'count-label' }, h('i', { class: 'dot' }), STATE_LABEL[s]), n));
    }
    const tabs = h('nav', { class: 'tabs', 'aria-label': 'Queue sections' });
    for (const t of Object.keys(TAB_LABEL) as Tab[]) {
      const c = h('span', { class: 'tab-count' });
      this.tabCounts.set(t, c);
      const a = h('a', { class: 'tab', href: t === 'jobs' ? link.queue(q) : link.tab(q, t), 'data-testid': `tab-${t}` }, TAB_LABEL[t], c);
      this.tabs.set(t, a);
      tabs.append(a);
    }
    const policy = Object.entries(d.policy);
    this.el = h('div', { class: 'qhead' },
      h('div', { class: 'qtitle' },
        h('h1', null, h('a', { href: link.queue(q), class: 'plain' }, q)),
        this.badges,
        h('span', { class: 'spacer' }),
        policy.length > 0
          ? h('details', { class: 'policy' }, h('summary', { class: 'btn ghost small' }, 'Policy'),
              h('dl', { class: 'kv' }, policy.map(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'string' ? v : pretty(v))])))
          : null,
        this.pause || this.resume ? h('div', { class: 'segmented' }, this.pause, this.resume) : null,
      ),
      countsBox,
      this.meta,
      tabs,
    );
  }

  setTab(tab: Tab): void {
    for (const [t, a] of this.tabs) {
      a.classList.toggle('active', t === tab);
      if (t === tab) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  update(d: QueueDetail): void {
    fill(this.badges,
      d.paused ? badge('paused', 'c-amber', 'paused-badge', 'workers take no new job from this queue') : null,
      d.warning === 'no-workers' ? badge('jobs waiting, no worker seen', 'warn', 'no-workers-badge') : null,
    );
    for (const s of STATES) {
      const el = this.counts.get(s)!;
      el.textContent = num(d.counts[s]);
      el.classList.toggle('zero', d.counts[s] === 0);
    }
    if (this.pause) this.pause.disabled = d.paused;
    if (this.resume) this.resume.disabled = !d.paused;
    this.metaLine(d);
    const tc: Record<Tab, number | null> = { jobs: null, dead: d.counts.dead, schedules: d.scheduleCount, groups: d.groupCount, workers: d.workers };
    for (const [t, el] of this.tabCounts) el.textContent = tc[t] === null ? '' : num(tc[t]);
  }

  private metaLine(s: QueueSummary): void {
    const slots = s.busySlots + s.idleSlots;
    const item = (label: string, ...v: (Node | string)[]): HTMLElement => h('span', { class: 'meta-item' }, h('span', { class: 'muted' }, label), ' ', ...v);
    fill(this.meta,
      item('Oldest waiting', age(s.oldestWaitingMs)),
      item('Workers', h('b', null, num(s.workers))),
      item('Busy slots', slots > 0 ? slotBar(s.busySlots, slots) : h('span', { class: 'muted' }, '—')),
      item('Completed', h('b', null, rate(s.rates.completed)), '/s'),
      item('Failed', h('b', null, rate(s.rates.failed)), '/s'),
      item('Dead', h('b', null, rate(s.rates.dead)), '/s'),
      item('Added', h('b', null, rate(s.rates.added)), '/s'),
    );
  }
}
