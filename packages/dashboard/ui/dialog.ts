import { h, type Child } from './dom.js';

export interface ConfirmOptions {
  title: string;
  body?: Child;
  /** The confirm button's label ("Replay 1,234 jobs"). */
  confirm: string;
  /** Red confirm button, for what cannot be undone. */
  danger?: boolean;
  /** Checked on confirm: a message keeps the dialog open and shows it. */
  validate?: () => string | null;
}

/**
 * Asks in a page dialog (not `window.confirm`, so tests can click it);
 * resolves true on confirm, false on cancel or Escape.
 */
export function confirmDialog(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const problem = h('p', { class: 'dialog-problem', role: 'alert', hidden: true });
    const done = (ok: boolean): void => {
      if (ok && o.validate) {
        const msg = o.validate();
        if (msg !== null) {
          problem.textContent = msg;
          problem.hidden = false;
          return;
        }
      }
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    const yes = h('button', { type: 'button', class: `btn ${o.danger ? 'danger' : 'primary'}`, 'data-testid': 'confirm', onclick: () => done(true) }, o.confirm);
    const dialog = h('dialog', { class: 'dialog', 'aria-label': o.title },
      h('h2', null, o.title),
      o.body !== undefined ? h('div', { class: 'dialog-body' }, o.body) : null,
      problem,
      h('div', { class: 'dialog-buttons' },
        h('button', { type: 'button', class: 'btn', 'data-testid': 'cancel', onclick: () => done(false) }, 'Cancel'),
        yes,
      ),
    );
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    dialog.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.target as Element).tagName === 'INPUT') {
        e.preventDefault();
        done(true);
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    (dialog.querySelector('input') ?? yes).focus();
  });
}
