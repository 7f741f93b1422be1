import type { ActionName, ActionRequest, ActionResult, ListState, Selection } from '../src/api-types.js';
import { act } from './api.js';
import { confirmDialog } from './dialog.js';
import { h, type Child } from './dom.js';
import { num, plural } from './format.js';
import { STATE_LABEL } from './nav.js';
import { guarded, notice } from './notify.js';

/** Job actions: which fit a state, how they are named, and the confirm-then-act steps. */

export const LABEL: Record<ActionName, string> = { pause: 'Pause', resume: 'Resume', replay: 'Replay', retry: 'Retry now', promote: 'Run now', cancel: 'Cancel', remove: 'Remove', purge: 'Purge', 'stop-redrive': 'Stop' };
const DONE: Record<ActionName, string> = { pause: 'Paused', resume: 'Resumed', replay: 'Replayed', retry: 'Retried', promote: 'Promoted', cancel: 'Cancelled', remove: 'Removed', purge: 'Purged', 'stop-redrive': 'Stopped' };
/** What cannot be undone asks first. */
export const DESTRUCTIVE: ReadonlySet<ActionName> = new Set(['cancel', 'remove', 'purge']);
const WARN: Partial<Record<ActionName, string>> = {
  cancel: 'Cancelled jobs do not run again; a running one is told to stop.',
  remove: 'Removed jobs are deleted with their data and history.',
  purge: 'Purged dead jobs are deleted; they cannot be replayed any more.',
  replay: 'Each job runs again from its first attempt.',
};

export const FOR_STATE: Record<ListState, readonly ActionName[]> = {
  ready: ['cancel', 'remove'],
  delayed: ['promote', 'cancel', 'remove'],
  dead: ['replay', 'purge', 'remove'],
  leased: ['cancel'],
  completed: ['remove'],
  cancelled: ['remove'],
};

/** Tells what an action did: "Replayed 12 jobs; 2 skipped (not dead)". */
export function report(r: ActionResult): void {
  if (r.redrive) {
    notice(`Replay of ${plural(r.redrive.total, 'job')} started${r.redrive.ratePerSec !== null ? ` at ${num(r.redrive.ratePerSec)}/s` : ''}: see its progress under Dead letters`);
    return;
  }
  if (r.action === 'stop-redrive') {
    notice(r.done > 0 ? 'Replay stopped: the jobs it had not replayed stay dead' : 'There was no replay to stop');
    return;
  }
  if (r.action === 'pause' || r.action === 'resume') return;
  const reasons = new Map<string, number>();
  for (const s of r.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  const why = reasons.size === 1 ? [...reasons.keys()][0]! : [...reasons].map(([reason, n]) => `${num(n)} ${reason}`).join(', ');
  notice(`${DONE[r.action]} ${plural(r.done, 'job')}${r.skipped.length > 0 ? `; ${num(r.skipped.length)} skipped (${why})` : ''}`);
}

/** An action on the jobs picked by id: asks first when it cannot be undone. Resolves to what it did, or null (refused, failed). */
export async function actOnIds(queue: string, action: ActionName, ids: string[]): Promise<ActionResult | null> {
  if (ids.length === 0) return null;
  if (DESTRUCTIVE.has(action)) {
    const what = ids.length === 1 ? `job ${ids[0]}` : plural(ids.length, 'job');
    const ok = await confirmDialog({ title: `${LABEL[action]} ${what}?`, body: WARN[action], confirm: `${LABEL[action]} ${what}`, danger: true });
    if (!ok) return null;
  }
  const r = await guarded(() => act(queue, { action, ids }));
  if (r) report(r);
  return r ?? null;
}

/**
 * An action on everything a filter matches: a dry run counts them, the
 * dialog says how many ("Replay 1,234 jobs?"), and the real call passes that
 * count back (the server refuses it if the filter matches another count by then).
 * A replay of dead jobs may set a rate (jobs/s): it then runs as a redrive task.
 */
export async function actOnSelection(queue: string, action: ActionName, select: Selection, describe: Child = describeSelection(select)): Promise<boolean> {
  const dry = await guarded(() => act(queue, { action, select, dryRun: true }));
  if (!dry) return false;
  if (dry.count === 0) {
    notice(`No job matches: nothing to ${LABEL[action].toLowerCase()}`);
    return false;
  }
  const withRate = action === 'replay' && select.state === 'dead';
  const rateInput = h('input', { type: 'number', min: 1, max: 100000, step: 1, class: 'input', placeholder: 'no limit', 'data-testid': 'replay-rate', id: 'replay-rate', inputmode: 'numeric' });
  const rate = (): number | null | 'bad' => {
    const v = rateInput.value.trim();
    if (v === '') return null;
    const n = Number(v);
    return Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 'bad';
  };
  const what = plural(dry.count, 'job');
  const ok = await confirmDialog({
    title: `${LABEL[action]} ${what}?`,
    body: [
      h('p', null, describe),
      WARN[action] ? h('p', { class: 'muted' }, WARN[action]) : null,
      withRate ? h('label', { class: 'field', for: 'replay-rate' }, h('span', null, 'Rate (jobs per second, empty for no limit)'), rateInput) : null,
    ],
    confirm: `${LABEL[action]} ${what}`,
    danger: DESTRUCTIVE.has(action),
    validate: () => (withRate && rate() === 'bad' ? 'The rate is a whole number of jobs per second, from 1 to 100,000 (or empty for no limit).' : null),
  });
  if (!ok) return false;
  const body: ActionRequest = { action, select, expect: dry.count };
  const r0 = withRate ? rate() : null;
  if (typeof r0 === 'number') body.ratePerSec = r0;
  const r = await guarded(() => act(queue, body));
  if (r) report(r);
  return r !== undefined;
}

/** "every dead job whose payload contains "acme"". */
export function describeSelection(sel: Selection): string {
  const parts: string[] = [];
  if (sel.id !== undefined) parts.push(`with id ${sel.id}`);
  if (sel.field !== undefined) parts.push(`whose ${sel.field} is ${JSON.stringify(sel.value ?? '')}`);
  if (sel.text !== undefined) parts.push(`whose payload contains ${JSON.stringify(sel.text)}`);
  if (sel.error !== undefined) parts.push(`whose error contains ${JSON.stringify(sel.error)}`);
  if (sel.fingerprint !== undefined) parts.push(`of error group ${sel.fingerprint}`);
  return `Every ${STATE_LABEL[sel.state].toLowerCase()} job${parts.length > 0 ? ` ${parts.join(' and ')}` : ' in this queue'}.`;
}
