import type { ListState, Selection } from '../src/api-types.js';
import { h } from './dom.js';
import { REFRESH, link } from './nav.js';

/** The job search form: by id, by a data field, by payload text, by error text; an error-group filter as a chip. */

export const FILTERS = ['id', 'field', 'value', 'text', 'error', 'fingerprint'] as const;

export function searchForm(queue: string, state: ListState, sel: Selection): HTMLElement {
  const input = (name: string, testid: string, placeholder: string, title: string, value: string | undefined, cls = ''): HTMLInputElement =>
    h('input', { class: `input ${cls}`, name, 'data-testid': testid, placeholder, title, value: value ?? '', 'aria-label': placeholder, spellcheck: 'false', autocomplete: 'off' });
  const id = input('id', 'search-id', 'Job id', 'The job with this id, exactly', sel.id, 'mono');
  const field = input('field', 'search-field', 'Field, e.g. user.id', 'A dot path into the payload', sel.field, 'mono');
  const value = input('value', 'search-value', 'Value', 'Compared with the field as a string, or as JSON (42, true, null)', sel.value, 'mono narrow');
  const text = input('text', 'search-text', 'Payload contains', 'Text anywhere in the payload (its JSON)', sel.text);
  const error = input('error', 'search-error', 'Error contains', 'Text in the error (its name and message)', sel.error);
  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Search jobs' },
    id,
    h('span', { class: 'pair' }, field, h('span', { class: 'eq' }, '='), value),
    text,
    error,
    h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'search-submit' }, 'Search'),
    FILTERS.some((k) => sel[k] !== undefined) ? h('a', { class: 'btn ghost', href: link.jobs(queue, state), 'data-testid': 'search-clear' }, 'Clear') : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q: Record<string, string | undefined> = {};
    for (const el of [id, text, error]) if (el.value.trim() !== '') q[el.name] = el.value.trim();
    if (field.value.trim() !== '') [q['field'], q['value']] = [field.value.trim(), value.value];
    if (sel.fingerprint !== undefined) q['fingerprint'] = sel.fingerprint;
    const target = link.jobs(queue, state, q);
    // the same search again reads again
    if (location.hash === target) window.dispatchEvent(new Event(REFRESH));
    else location.hash = target;
  });
  const chip = sel.fingerprint !== undefined
    ? h('div', { class: 'filter-chip' }, h('span', { class: 'muted' }, 'Error group'), h('code', null, sel.fingerprint), h('a', { href: link.jobs(queue, state, { ...omit(sel, 'fingerprint') }), class: 'chip-x', 'aria-label': 'Remove the error group filter' }, '×'))
    : null;
  return h('div', { class: 'search-box' }, form, chip);
}

function omit(sel: Selection, key: keyof Selection): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of FILTERS) if (k !== key) out[k] = sel[k];
  return out;
}
