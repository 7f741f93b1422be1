import type { ListState, RedriveProgress } from '../src/api-types.js';
import { h, type Child } from './dom.js';
import { ago, num, stamp } from './format.js';
import { STATE_LABEL, isReadOnly } from './nav.js';

/** Small pieces the views share: badges, times that stay current, buttons, tables. */

export const CLASS: Record<ListState, string> = { ready: 'blue', delayed: 'purple', leased: 'amber', completed: 'green', dead: 'red', cancelled: 'grey' };

export function stateBadge(state: ListState, testid?: string): HTMLElement {
  return h('span', { class: `badge c-${CLASS[state]}`, 'data-testid': testid }, STATE_LABEL[state]);
}

export function badge(text: string, kind: string, testid?: string, title?: string): HTMLElement {
  return h('span', { class: `badge ${kind}`, 'data-testid': testid, title }, text);
}

/** "2s ago" with the exact time on hover; kept current on every tick by {@link refreshTimes}. */
export function when(t: number | null | undefined): HTMLElement {
  if (t === null || t === undefined || !(t > 0)) return h('span', { class: 'muted' }, '—');
  return h('time', { 'data-at': t, datetime: new Date(t).toISOString(), title: stamp(t) }, ago(t));
}

export function refreshTimes(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('time[data-at]')) el.textContent = ago(Number(el.dataset['at']));
}

/** A number, muted when zero. */
export function count(n: number, testid?: string): HTMLElement {
  return h('span', { class: n === 0 ? 'n muted' : 'n', 'data-testid': testid }, num(n));
}

/**
 * An action button: not rendered when the dashboard is read-only (and
 * hidden by the stylesheet if it turns read-only later). Disabled while
 * its step runs, so a double click acts once.
 */
export function actionButton(label: Child, testid: string, run: () => Promise<unknown>, kind = ''): HTMLButtonElement | null {
  if (isReadOnly()) return null;
  const b = h('button', { type: 'button', class: `btn action ${kind}`, 'data-testid': testid }, label);
  b.addEventListener('click', () => {
    if (b.disabled) return;
    b.disabled = true;
    b.classList.add('busy');
    void run().finally(() => {
      b.disabled = false;
      b.classList.remove('busy');
    });
  });
  return b;
}

export function table(head: Child[], rows: Child[], opts: { class?: string; empty?: string; cols?: number } = {}): HTMLElement {
  const body = rows.length > 0 ? rows : [h('tr', { class: 'empty' }, h('td', { colspan: opts.cols ?? head.length }, opts.empty ?? 'Nothing here.'))];
  return h('div', { class: 'table-wrap' }, h('table', { class: `grid ${opts.class ?? ''}` }, h('thead', null, h('tr', null, head.map((c) => (c instanceof HTMLElement && c.tagName === 'TH' ? c : h('th', null, c))))), h('tbody', null, body)));
}

export const th = (text: Child, cls = ''): HTMLElement => h('th', { class: cls }, text);
export const td = (cls: string, ...c: Child[]): HTMLElement => h('td', { class: cls }, ...c);

export function loading(): HTMLElement {
  return h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading…');
}

/** A replay task's progress bar. */
export function redriveBar(r: RedriveProgress, stop: (() => Promise<unknown>) | null): HTMLElement {
  const pct = r.total > 0 ? Math.min(100, ((r.replayed + r.skipped) / r.total) * 100) : r.status === 'done' ? 100 : 0;
  const status = r.status === 'done' ? 'done' : r.status === 'preparing' ? 'preparing' : r.running ? 'replaying' : 'paused (no dashboard runs it)';
  return h('section', { class: `card redrive ${r.status}`, 'data-testid': 'redrive-progress', 'aria-live': 'polite' },
    h('div', { class: 'redrive-head' },
      h('strong', null, 'Replay'),
      badge(status, r.status === 'done' ? 'c-green' : 'c-amber'),
      h('span', { class: 'redrive-text' }, `${num(r.replayed)} / ${num(r.total)} replayed`),
      r.skipped > 0 ? h('span', { class: 'muted' }, `${num(r.skipped)} skipped`) : null,
      r.left > 0 && r.status !== 'done' ? h('span', { class: 'muted' }, `${num(r.left)} left`) : null,
      h('span', { class: 'muted' }, r.ratePerSec === null ? 'no rate limit' : `${num(r.ratePerSec)}/s`),
      h('span', { class: 'muted' }, 'started ', when(r.createdAt)),
      r.finishedAt !== undefined ? h('span', { class: 'muted' }, 'finished ', when(r.finishedAt)) : null,
      h('span', { class: 'spacer' }),
      r.status !== 'done' && stop ? actionButton('Stop', 'redrive-stop', stop, 'small') : null,
    ),
    h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': r.total, 'aria-valuenow': r.replayed },
      h('div', { class: 'progress-fill', style: { width: `${pct.toFixed(1)}%` } }),
    ),
  );
}
