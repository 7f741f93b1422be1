import { h, fill } from './dom.js';

/** The error banner (role="alert") and the short-lived notices. */

const banner = (): HTMLElement => document.getElementById('banner')!;

/** Shows an error to the user until dismissed or the next page. */
export function showError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof Error && err.name === 'ApiFailure')) console.warn(err);
  fill(
    banner(),
    h('div', { class: 'banner' },
      h('div', { class: 'banner-text', role: 'alert', 'data-testid': 'error-banner' }, message),
      h('button', { class: 'btn ghost small', type: 'button', 'aria-label': 'Dismiss the error', onclick: () => clearError() }, 'Dismiss'),
    ),
  );
}

export function clearError(): void {
  banner().replaceChildren();
}

/** A notice that fades after a few seconds ("Replayed 12 jobs"). */
export function notice(text: string): void {
  const box = document.getElementById('notices')!;
  const n = h('div', { class: 'notice', role: 'status' }, text);
  box.append(n);
  setTimeout(() => n.classList.add('gone'), 3500);
  setTimeout(() => n.remove(), 4000);
}

/** Runs an async step, showing its failure in the banner; resolves to undefined on failure. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  }
}
