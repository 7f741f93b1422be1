import type { JobPage, JobRow, ListState, Selection } from '../src/api-types.js';
import { FOR_STATE, LABEL, actOnIds, actOnSelection } from './actions.js';
import { get, qpath } from './api.js';
import { h, fill, throttle } from './dom.js';
import { num, plural } from './format.js';
import { STATES, STATE_LABEL, isReadOnly, link } from './nav.js';
import { showError } from './notify.js';
import type { QueueContext, QueueRoute } from './queue.js';
import { FILTERS, searchForm } from './search.js';
import { CLASS, actionButton, loading, when } from './widgets.js';

/** A queue's jobs in one state: listing or search, selection, bulk actions, live. */

const LIMIT = 50;
const SINCE: Record<ListState, string> = { ready: 'Since', delayed: 'Runs', leased: 'Lease until', completed: 'Completed', dead: 'Died', cancelled: 'Cancelled' };

export function jobsTab(ctx: QueueContext, route: Extract<QueueRoute, { name: 'queue' }>): HTMLElement {
  const { queue, scope } = ctx;
  const state = route.state;
  const sel: Selection = { state };
  for (const k of FILTERS) {
    const v = route.query.get(k);
    if (v !== null && (v !== '' || k === 'value')) sel[k] = v;
  }
  if (sel.field === undefined) delete sel.value;
  const searching = FILTERS.some((k) => k !== 'value' && sel[k] !== undefined);
  const offset = Math.max(0, Math.floor(Number(route.query.get('offset') ?? 0)) || 0);
  const ro = isReadOnly();
  const actions = ro ? [] : FOR_STATE[state];

  const selected = new Set<string>();
  let rows: JobRow[] = [];
  let page: JobPage | undefined;
  let scanned = 0;
  let cursor: string | undefined;
  let scannedFurther = false;
  const rowEls = new Map<string, { json: string; tr: HTMLElement; box: HTMLInputElement | null }>();

  const subtabs = h('nav', { class: 'subtabs', 'aria-label': 'Job states' });
  const stateCount = new Map<ListState, HTMLElement>();
  for (const s of STATES) {
    const c = h('span', { class: 'tab-count' }, num(ctx.detail().counts[s]));
    stateCount.set(s, c);
    subtabs.append(h('a', { class: `subtab c-${CLASS[s]} ${s === state ? 'active' : ''}`, href: link.jobs(queue, s), 'data-testid': `state-tab-${s}`, 'aria-current': s === state ? 'page' : null }, h('i', { class: 'dot' }), STATE_LABEL[s], c));
  }

  const tbody = h('tbody');
  const selectAll = ro ? null : h('input', { type: 'checkbox', 'data-testid': 'select-all', 'aria-label': 'Select all on this page' });
  selectAll?.addEventListener('change', () => {
    for (const r of rows) if (selectAll.checked) selected.add(r.id); else selected.delete(r.id);
    for (const { box } of rowEls.values()) if (box) box.checked = selectAll.checked;
    bulkState();
  });
  const tableBox = h('div', { class: 'table-wrap' }, loading());
  const table = h('table', { class: 'grid jobs' },
    h('thead', null, h('tr', null,
      selectAll ? h('th', { class: 'check' }, selectAll) : null,
      h('th', null, 'Job'), h('th', null, 'Created'), h('th', { class: 'num' }, 'Attempts'), h('th', null, 'Priority / group'),
      h('th', null, SINCE[state]), h('th', null, 'Payload'), h('th', null, 'Last error'),
    )),
    tbody,
  );
  const footer = h('div', { class: 'list-foot' });

  // bulk actions: on the selection, and on everything the filter matches
  const selCount = h('span', { class: 'sel-count' });
  const onSelected = actions.map((a) => actionButton(LABEL[a], `bulk-${a}`, async () => {
    const ids = [...selected];
    const r = await actOnIds(queue, a, ids);
    if (!r) return;
    // the jobs acted on leave this list (but for a running job told to cancel, which stays until it stops): drop their rows now
    if (!(a === 'cancel' && state === 'leased')) {
      const kept = new Set(r.skipped.map((x) => x.id));
      rows = rows.filter((row) => !ids.includes(row.id) || kept.has(row.id));
      renderRows();
    }
    after();
  }, a === 'replay' || a === 'promote' ? 'small primary' : 'small'));
  const onAll = actions.map((a) => actionButton(`${LABEL[a]} all…`, `bulk-all-${a}`, async () => {
    if (await actOnSelection(queue, a, sel)) after();
  }, 'small ghost'));
  const bulk = actions.length === 0 ? null : h('div', { class: 'bulk' },
    selCount, ...onSelected,
    h('span', { class: 'spacer' }),
    h('span', { class: 'muted small' }, searching ? 'Everything this search matches:' : `Every ${STATE_LABEL[state].toLowerCase()} job:`),
    ...onAll,
  );
  const bulkState = (): void => {
    for (const id of selected) if (!rows.some((r) => r.id === id)) selected.delete(id);
    selCount.textContent = selected.size > 0 ? `${plural(selected.size, 'job')} selected` : 'Select jobs to act on them';
    selCount.classList.toggle('muted', selected.size === 0);
    for (const b of onSelected) if (b && !b.classList.contains('busy')) b.disabled = selected.size === 0;
    if (selectAll) {
      const on = rows.filter((r) => selected.has(r.id)).length;
      selectAll.checked = rows.length > 0 && on === rows.length;
      selectAll.indeterminate = on > 0 && on < rows.length;
    }
  };

  const renderRows = (): void => {
    const cols = (ro ? 7 : 8);
    const trs = rows.map((r) => {
      const json = JSON.stringify(r);
      let e = rowEls.get(r.id);
      if (!e || e.json !== json) {
        e = rowOf(queue, r, ro, selected, bulkState);
        e.json = json;
        rowEls.set(r.id, e);
      }
      if (e.box) e.box.checked = selected.has(r.id);
      return e.tr;
    });
    for (const id of [...rowEls.keys()]) if (!rows.some((r) => r.id === id)) rowEls.delete(id);
    if (trs.length === 0) fill(tbody, h('tr', { class: 'empty' }, h('td', { colspan: cols }, searching ? 'No job matches in the jobs scanned.' : `No ${STATE_LABEL[state].toLowerCase()} jobs.`)));
    else if (trs.length !== tbody.children.length || trs.some((tr, i) => tbody.children[i] !== tr)) tbody.replaceChildren(...trs);
    if (!tableBox.contains(table)) fill(tableBox, table);
    bulkState();
    renderFooter();
  };

  const renderFooter = (): void => {
    if (!page) return fill(footer);
    if (page.scanned !== undefined) {
      const scanLimitHit = cursor !== undefined;
      const summary = sel.id !== undefined
        ? `${rows.length === 0 ? 'No' : num(rows.length)} ${rows.length === 1 ? 'match' : 'matches'} for id ${sel.id} among ${num(page.total)} ${STATE_LABEL[state].toLowerCase()} jobs`
        : `${num(rows.length)} ${rows.length === 1 ? 'match' : 'matches'} in the first ${num(scanned)} scanned of ${num(page.total)}`;
      fill(footer,
        h('span', { 'data-testid': 'search-summary', class: 'summary' }, summary),
        !scanLimitHit && sel.id === undefined ? h('span', { class: 'muted small' }, 'every job was scanned') : null,
        h('span', { class: 'spacer' }),
        scanLimitHit ? h('button', { type: 'button', class: 'btn small', 'data-testid': 'scan-further', onclick: () => void more() }, 'Scan further') : null,
      );
      return;
    }
    const from = page.offset ?? offset;
    const to = from + rows.length;
    const go = (o: number) => link.jobs(queue, state, { ...params(), offset: o > 0 ? String(o) : undefined });
    const last = Math.max(0, Math.floor((page.total - 1) / LIMIT) * LIMIT);
    fill(footer,
      h('span', { class: 'summary', 'data-testid': 'page-summary' }, page.total === 0 ? 'No jobs' : `${num(rows.length === 0 ? from : from + 1)}–${num(to)} of ${num(page.total)}`),
      h('span', { class: 'spacer' }),
      page.total <= LIMIT && from === 0 ? null : h('nav', { class: 'pager', 'aria-label': 'Pages' },
        pageLink('First', from > 0 ? go(0) : null, 'page-first'),
        pageLink('Prev', from > 0 ? go(Math.max(0, from - LIMIT)) : null, 'page-prev'),
        pageLink('Next', to < page.total ? go(from + LIMIT) : null, 'page-next'),
        pageLink('Last', from < last ? go(last) : null, 'page-last'),
      ),
    );
  };

  const params = (): Record<string, string | undefined> => {
    const p: Record<string, string | undefined> = {};
    for (const k of FILTERS) p[k] = sel[k];
    return p;
  };

  const query = (): Record<string, string | number | undefined> => {
    const q: Record<string, string | number | undefined> = { state, limit: LIMIT, ...params() };
    if (!searching) q['offset'] = offset;
    return q;
  };

  let seq = 0;
  const load = async (): Promise<void> => {
    const mine = ++seq;
    try {
      const p = await get<JobPage>(qpath(queue, '/jobs'), query());
      if (!scope.alive || mine !== seq) return;
      page = p;
      rows = p.jobs;
      scanned = p.scanned ?? 0;
      cursor = p.cursor;
      scannedFurther = false;
      stateCount.get(state)!.textContent = num(p.total);
      renderRows();
    } catch (err) {
      if (!scope.alive || mine !== seq) return;
      if (!tableBox.contains(table)) fill(tableBox, h('div', { class: 'empty-box' }, 'The jobs could not be read.'));
      showError(err);
    }
  };

  const more = async (): Promise<void> => {
    if (cursor === undefined) return;
    const mine = ++seq;
    try {
      const p = await get<JobPage>(qpath(queue, '/jobs'), { ...query(), cursor });
      if (!scope.alive || mine !== seq) return;
      page = p;
      const have = new Set(rows.map((r) => r.id));
      rows = rows.concat(p.jobs.filter((r) => !have.has(r.id)));
      scanned += p.scanned ?? 0;
      cursor = p.cursor;
      scannedFurther = true;
      renderRows();
    } catch (err) {
      if (scope.alive) showError(err);
    }
  };

  const after = (): void => {
    selected.clear();
    void load();
    void ctx.refresh();
  };

  // live: the list reads again (at most once a second) when its queue has job events
  const reload = throttle(() => {
    if (!scannedFurther) void load();
  }, 1000);
  scope.add(reload.cancel);
  scope.listen({
    jobs: (m) => {
      if (m.queue === queue) reload();
    },
    tick: (m) => {
      const s = m.queues.find((q) => q.name === queue);
      if (s) for (const st of STATES) stateCount.get(st)!.textContent = num(s.counts[st]);
    },
  });

  void load();
  return h('div', { class: 'jobs-tab' }, subtabs, searchForm(queue, state, sel), bulk, tableBox, footer);
}

function pageLink(label: string, href: string | null, testid: string): HTMLElement {
  return href ? h('a', { class: 'btn small', href, 'data-testid': testid }, label) : h('span', { class: 'btn small', 'aria-disabled': 'true', 'data-testid': testid }, label);
}

function rowOf(queue: string, r: JobRow, ro: boolean, selected: Set<string>, changed: () => void): { json: string; tr: HTMLElement; box: HTMLInputElement | null } {
  const box = ro ? null : h('input', { type: 'checkbox', 'aria-label': `Select job ${r.id}`, 'data-testid': `select-${r.id}` });
  box?.addEventListener('change', () => {
    if (box.checked) selected.add(r.id);
    else selected.delete(r.id);
    changed();
  });
  const tr = h('tr', { 'data-testid': `job-row-${r.id}` },
    box ? h('td', { class: 'check' }, box) : null,
    h('td', { class: 'id' }, h('a', { href: link.job(queue, r.id), class: 'mono' }, r.id)),
    h('td', { class: 'time' }, when(r.createdAt)),
    h('td', { class: 'num' }, h('span', { class: r.attemptsMade > 1 ? 'warn-text' : '' }, num(r.attemptsMade)), h('span', { class: 'muted' }, ` / ${num(r.attempts)}`)),
    h('td', null, r.priority !== 0 ? h('span', { class: 'chip', title: `priority ${r.priority}` }, `p${r.priority}`) : r.group === undefined ? h('span', { class: 'muted' }, '—') : null, r.group !== undefined ? h('a', { class: 'chip group', href: link.tab(queue, 'groups', { g: r.group }), title: `group ${r.group}` }, r.group) : null),
    h('td', { class: 'time' }, when(r.stateSince)),
    h('td', { class: 'payload' }, h('code', { title: r.preview }, r.preview)),
    h('td', { class: 'error' }, r.error !== undefined ? h('span', { title: r.error }, r.error) : h('span', { class: 'muted' }, '—')),
  );
  return { json: '', tr, box };
}
