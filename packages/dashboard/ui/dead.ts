import type { DeadGroup, DeadGroups, RedriveProgress, Selection } from '../src/api-types.js';
import { actOnSelection, report } from './actions.js';
import { act, get, qpath } from './api.js';
import { h, fill, throttle } from './dom.js';
import { num, plural } from './format.js';
import { isReadOnly, link } from './nav.js';
import { guarded, showError } from './notify.js';
import type { QueueContext } from './queue.js';
import { actionButton, loading, redriveBar, table, th, when } from './widgets.js';

/** The dead-letter queue by error: one row per fingerprint, replay (at a rate) or purge a group, the replay's progress. */

/** The job events that change the dead-letter groups. */
const GROUP_EVENTS = new Set(['dead', 'replayed', 'removed', 'purged']);

export function deadTab(ctx: QueueContext): HTMLElement {
  const { queue, scope } = ctx;
  const progress = h('div', { class: 'redrive-box' });
  const summary = h('div', { class: 'section-head' }, h('h2', null, 'Dead letters by error'));
  const list = h('div', null, loading());
  let redrive: RedriveProgress | null = ctx.detail().redrive;

  const stop = async (): Promise<void> => {
    const r = await guarded(() => act(queue, { action: 'stop-redrive' }));
    if (r) report(r);
    await load();
  };
  const showProgress = (): void => fill(progress, redrive ? redriveBar(redrive, stop) : null);

  const acted = async (done: boolean): Promise<void> => {
    if (!done) return;
    await load();
    void ctx.refresh();
  };

  const load = async (): Promise<void> => {
    try {
      const d = await get<DeadGroups>(qpath(queue, '/dead/groups'));
      if (!scope.alive) return;
      redrive = d.redrive;
      showProgress();
      const ro = isReadOnly();
      const all: Selection = { state: 'dead' };
      fill(summary,
        h('h2', null, 'Dead letters by error'),
        h('span', { class: 'muted' }, `${plural(d.total, 'dead job')} in ${plural(d.groups.length, 'group')}`),
        d.scanned < d.total ? h('span', { class: 'note', 'data-testid': 'dead-scanned' }, `grouped the newest ${num(d.scanned)} of ${num(d.total)} dead jobs`) : null,
        h('span', { class: 'spacer' }),
        h('a', { class: 'btn small ghost', href: link.jobs(queue, 'dead') }, 'All dead jobs'),
        ro || d.total === 0 ? null : actionButton('Replay all…', 'dead-replay-all', async () => acted(await actOnSelection(queue, 'replay', all)), 'small'),
        ro || d.total === 0 ? null : actionButton('Purge all…', 'dead-purge-all', async () => acted(await actOnSelection(queue, 'purge', all)), 'small danger-ghost'),
      );
      fill(list, table(
        [th('Error'), th('Top frame'), th('Jobs', 'num'), th('Oldest'), th('Newest'), th('Sample'), th('')],
        d.groups.map((g) => groupRow(queue, g, ro, acted)),
        { class: 'dead', empty: 'No dead job: every job completed or is still trying.' },
      ));
    } catch (err) {
      if (scope.alive) showError(err);
    }
  };

  // live: the replay's progress as it goes; the groups again when jobs die or leave (at most every 3 s: a group read scans up to 10,000 jobs)
  const reload = throttle(() => void load(), 3000);
  scope.add(reload.cancel);
  scope.listen({
    redrive: (m) => {
      if (m.queue !== queue) return;
      const was = redrive?.status;
      redrive = m.redrive;
      showProgress();
      if (m.redrive.status === 'done' && was !== 'done') reload();
    },
    jobs: (m) => {
      if (m.queue === queue && Object.keys(m.counts).some((t) => GROUP_EVENTS.has(t))) reload();
    },
  });
  showProgress();
  void load();
  return h('div', { class: 'dead-tab' }, progress, summary, list);
}

function groupRow(queue: string, g: DeadGroup, ro: boolean, acted: (done: boolean) => Promise<void>): HTMLElement {
  const fp = g.fingerprint;
  const sel: Selection = { state: 'dead', fingerprint: fp };
  const what = h('span', null, `Every dead job of the error group `, h('b', null, `${g.name}: ${g.message}`), ` (${plural(g.count, 'job')} when grouped).`);
  return h('tr', { 'data-testid': `dead-group-${fp}` },
    h('td', { class: 'err-cell' }, h('div', { class: 'err-name' }, g.name), h('div', { class: 'err-text', title: g.message }, g.message)),
    h('td', { class: 'frame' }, g.frame ? h('code', { title: g.frame }, g.frame) : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'num' }, h('b', { class: 'bad' }, num(g.count))),
    h('td', { class: 'time' }, when(g.oldest)),
    h('td', { class: 'time' }, when(g.newest)),
    h('td', { class: 'id' }, h('a', { href: link.job(queue, g.sample.id), class: 'mono', title: g.sample.message }, g.sample.id)),
    h('td', null, h('div', { class: 'row-actions' },
      h('a', { class: 'btn small', href: link.jobs(queue, 'dead', { fingerprint: fp }), 'data-testid': `dead-open-${fp}` }, 'Open'),
      ro ? null : actionButton('Replay…', `dead-replay-${fp}`, async () => acted(await actOnSelection(queue, 'replay', sel, what)), 'small primary'),
      ro ? null : actionButton('Purge…', `dead-purge-${fp}`, async () => acted(await actOnSelection(queue, 'purge', sel, what)), 'small danger-ghost'),
    )),
  );
}
