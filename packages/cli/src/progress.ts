import type { Output } from './output.js';

const WIDTH = 30;

/** One line of a progress bar: `[#########.....] 12/24 replayed, 1 skipped  8.0/s  eta 2s`. */
export function progressLine(done: number, total: number, skipped: number, elapsedMs: number): string {
  const handled = done + skipped;
  const frac = total === 0 ? 1 : Math.min(1, handled / total);
  const filled = Math.round(frac * WIDTH);
  // a rate from the first half second says little (the first batch goes at once)
  const rate = elapsedMs >= 500 ? (done / elapsedMs) * 1000 : undefined;
  const left = total - handled;
  const speed = rate === undefined ? '' : `  ${rate.toFixed(1)}/s${rate > 0 && left > 0 ? `  eta ${Math.ceil(left / rate)}s` : ''}`;
  const skip = skipped > 0 ? `, ${skipped} skipped` : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${handled}/${total} ${done === handled ? 'replayed' : `(${done} replayed${skip})`}${speed}`;
}

/**
 * A progress bar on stderr, redrawn in place; only when stderr is a
 * terminal (off a terminal it writes nothing, so logs stay clean).
 */
export class ProgressBar {
  private readonly started = performance.now();
  private shown = false;

  constructor(private readonly out: Output) {}

  update(done: number, total: number, skipped: number): void {
    if (!this.out.errTty) return;
    this.shown = true;
    this.out.status(`\r\x1b[2K${progressLine(done, total, skipped, performance.now() - this.started)}`);
  }

  /** Clears the bar's line. */
  end(): void {
    if (this.shown) this.out.status('\r\x1b[2K');
  }
}
