import type { ActionName, JobDetail, ListState } from '../src/api-types.js';
import { LABEL, actOnIds } from './actions.js';
import { ApiFailure, get, qpath } from './api.js';
import { h, fill, throttle, type Child } from './dom.js';
import { clockMs, dur, now, num, pretty, stamp } from './format.js';
import { link } from './nav.js';
import { showError } from './notify.js';
import type { QueueContext, QueueRoute } from './queue.js';
import { actionButton, loading, stateBadge, when } from './widgets.js';

/** One job: state, payload, options, attempts, errors with stacks, lease, timeline; its actions. */

const JOB_ACTIONS: Record<ListState, readonly ActionName[]> = {
  ready: ['cancel', 'remove'],
  delayed: ['promote', 'cancel', 'remove'],
  leased: ['cancel'],
  dead: ['replay', 'remove'],
  completed: ['remove'],
  cancelled: ['remove'],
};
const KIND_CLASS: Record<string, string> = { added: 'blue', leased: 'amber', delayed: 'purple', completed: 'green', failed: 'amber', dead: 'red', cancelled: 'grey', progress: 'blue' };

export function jobView(ctx: QueueContext, route: Extract<QueueRoute, { name: 'job' }>): HTMLElement {
  const { queue, scope } = ctx;
  const id = route.id;
  const el = h('div', { class: 'job' }, loading());
  let job: JobDetail | undefined;
  let gone = false;

  const load = async (): Promise<void> => {
    try {
      const j = await get<JobDetail>(qpath(queue, `/jobs/${encodeURIComponent(id)}`));
      if (!scope.alive) return;
      job = j;
      gone = false;
      render(j);
    } catch (err) {
      if (!scope.alive) return;
      if (err instanceof ApiFailure && err.status === 404) {
        gone = true;
        fill(el, h('div', { class: 'page-head' }, h('h2', null, 'Job ', h('code', null, id))), h('div', { class: 'empty-box' }, err.message, ' — it may have been removed, or its record expired.'));
      }
      showError(err);
    }
  };

  const render = (j: JobDetail): void => {
    const acts = JOB_ACTIONS[j.state].map((a) => actionButton(LABEL[a], `job-action-${a}`, async () => {
      if ((await actOnIds(queue, a, [j.id])) === null) return;
      void ctx.refresh();
      // a removed job is no more: back to the list it was in
      if (a === 'remove') location.hash = link.jobs(queue, j.state);
      else await load();
    }, a === 'replay' || a === 'retry' || a === 'promote' ? 'primary' : DANGER.has(a) ? 'danger-ghost' : ''));
    fill(el,
      h('div', { class: 'job-head' },
        h('h2', null, h('span', { class: 'muted' }, 'Job '), h('code', { class: 'job-id' }, j.id)),
        stateBadge(j.state, 'job-state'),
        j.stateSince !== undefined ? h('span', { class: 'muted' }, sinceLabel(j.state), ' ', when(j.stateSince)) : null,
        h('span', { class: 'spacer' }),
        h('div', { class: 'actions' }, acts),
      ),
      h('div', { class: 'job-grid' },
        h('div', { class: 'col' },
          card('Details', facts(queue, j)),
          card('Payload', j.decodeError ? h('p', { class: 'bad' }, `The payload could not be decoded: ${j.decodeError}`) : h('pre', { class: 'json', 'data-testid': 'job-data' }, pretty(j.data))),
          j.result !== undefined ? card('Result', h('pre', { class: 'json', 'data-testid': 'job-result' }, pretty(j.result))) : null,
          j.progress ? card('Progress', progress(j.progress)) : null,
          card('Options', h('pre', { class: 'json', 'data-testid': 'job-options' }, pretty(j.options))),
        ),
        h('div', { class: 'col' },
          card(`Errors (${num(j.errors.length)})`, errors(j)),
          card('Timeline', timeline(j)),
        ),
      ),
    );
  };

  // live: read again (at most once a second) when an event names this job
  const reload = throttle(() => void load(), 1000);
  scope.add(reload.cancel);
  scope.listen({
    jobs: (m) => {
      if (m.queue !== queue || (gone && !job)) return;
      const named = Object.entries(m.ids).some(([type, ids]) => ids.includes(id) || (m.counts[type] ?? 0) > ids.length);
      if (named) reload();
    },
  });
  void load();
  return el;
}

const DANGER = new Set<ActionName>(['cancel', 'remove', 'purge']);

function sinceLabel(s: ListState): string {
  return { ready: 'waiting since', delayed: 'runs', leased: 'lease until', completed: 'completed', dead: 'died', cancelled: 'cancelled' }[s];
}

function progress(p: NonNullable<JobDetail['progress']>): HTMLElement {
  const v = p.value;
  const pct = typeof v === 'number' && v >= 0 && v <= 100 ? v : null;
  const text = JSON.stringify(v) ?? String(v);
  return h('div', { class: 'job-progress', 'data-testid': 'job-progress' },
    pct !== null
      ? h('div', { class: 'progress-line' }, h('div', { class: 'progress' }, h('div', { class: 'progress-fill', style: { width: `${pct}%` } })), h('b', null, `${pct}%`))
      : text.length <= 80 ? h('code', null, text) : h('pre', { class: 'json' }, pretty(v)),
    h('div', { class: 'muted small' }, `reported by attempt ${p.attempt} `, when(p.at)),
  );
}

function card(title: string, ...body: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h3', null, title), ...body);
}

function facts(queue: string, j: JobDetail): HTMLElement {
  const row = (k: string, ...v: Child[]): Child[] => [h('dt', null, k), h('dd', null, ...v)];
  const o = j.options;
  return h('dl', { class: 'kv' },
    row('Created', when(j.createdAt), h('span', { class: 'muted' }, ` · ${stamp(j.createdAt)}`)),
    row('Attempts', h('b', { 'data-testid': 'job-attempts' }, `${num(j.attemptsMade)} / ${num(o.attempts)}`), h('span', { class: 'muted' }, ' made / allowed')),
    row('Priority', num(o.priority)),
    o.timeoutMs > 0 ? row('Timeout', dur(o.timeoutMs)) : null,
    o.group !== undefined ? row('Group', h('a', { href: link.tab(queue, 'groups', { g: o.group }), 'data-testid': 'job-group' }, o.group)) : null,
    o.dedupKey !== undefined ? row('Dedup key', h('code', null, o.dedupKey)) : null,
    o.backoff !== undefined ? row('Backoff', h('code', null, JSON.stringify(o.backoff))) : null,
    j.schedule ? row('Schedule', h('a', { href: link.tab(queue, 'schedules', { s: j.schedule.id }), 'data-testid': 'job-schedule' }, j.schedule.id), h('span', { class: 'muted' }, ` · occurrence ${num(j.schedule.occurrence)}`)) : null,
    j.lease
      ? row('Lease', j.lease.worker !== null ? h('code', { 'data-testid': 'job-lease-worker' }, j.lease.worker) : h('span', { class: 'muted' }, 'worker unknown'), h('span', { class: 'muted' }, ' · expires '), when(j.lease.expiresAt))
      : null,
    j.traceId !== undefined ? row('Trace id', h('code', { 'data-testid': 'job-trace' }, j.traceId)) : null,
  );
}

function errors(j: JobDetail): HTMLElement {
  if (j.errors.length === 0) return h('p', { class: 'muted', 'data-testid': 'job-errors' }, 'No error.');
  return h('ol', { class: 'errors', 'data-testid': 'job-errors' },
    j.errors.map((e, i) => h('li', { class: 'err' },
      h('details', { open: i === 0 },
        h('summary', null,
          h('span', { class: 'err-attempt' }, `attempt ${e.attempt}`),
          h('span', { class: 'err-msg' }, h('b', null, e.name), ': ', e.message),
          h('span', { class: 'err-at' }, when(e.at)),
        ),
        e.stack ? h('pre', { class: 'stack' }, e.stack) : h('p', { class: 'muted small' }, 'no stack'),
      ),
    )),
  );
}

const sameDay = (t: number): boolean => new Date(t).toDateString() === new Date(now()).toDateString();

function timeline(j: JobDetail): HTMLElement {
  if (j.timeline.length === 0) return h('p', { class: 'muted' }, 'Nothing yet.');
  return h('ol', { class: 'timeline', 'data-testid': 'job-timeline' },
    j.timeline.map((t) => h('li', { class: `tl c-${KIND_CLASS[t.kind] ?? 'grey'}` },
      h('i', { class: 'dot' }),
      h('span', { class: 'tl-kind' }, t.kind),
      h('span', { class: 'tl-text' }, t.text),
      h('time', { title: stamp(t.at), datetime: new Date(t.at).toISOString(), class: 'tl-at' }, sameDay(t.at) ? clockMs(t.at) : `${stamp(t.at)}`),
    )),
  );
}

