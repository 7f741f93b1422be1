import type { History, HistoryPoint, QueueSummary } from '../src/api-types.js';
import { get, qpath } from './api.js';
import { LineChart, type ChartData, type ChartSeries } from './chart.js';
import { h, fill } from './dom.js';
import { clock, latency, now, rate } from './format.js';
import { showError } from './notify.js';

/**
 * The charts of one queue: throughput, wait and processing latency, over
 * 5m, 1h or 24h. History comes from the API; every tick extends it (its
 * rates, averaged over a step; the latencies come with the next history read).
 */

export type Range = History['range'];
const RANGES: readonly Range[] = ['5m', '1h', '24h'];
const SPAN: Record<Range, number> = { '5m': 300_000, '1h': 3_600_000, '24h': 86_400_000 };
/** How often the history is read again (for the latency quantiles ticks do not carry). */
const RESYNC_MS = 30_000;

/** A chart point; latencies undefined on points made from ticks. */
type Point = Omit<HistoryPoint, 'waitP50' | 'waitP95' | 'procP50' | 'procP95'> & Partial<Pick<HistoryPoint, 'waitP50' | 'waitP95' | 'procP50' | 'procP95'>>;

export class Metrics {
  readonly el: HTMLElement;
  private readonly throughput = new LineChart('Throughput (jobs/s)', 'chart-throughput');
  private readonly wait = new LineChart('Wait latency (added → started)', 'chart-wait');
  private readonly proc = new LineChart('Processing latency (started → settled)', 'chart-processing');
  private readonly buttons = new Map<Range, HTMLButtonElement>();
  private readonly note = h('span', { class: 'muted small' });
  private readonly picker = h('span', { class: 'chart-queue' });
  private points: Point[] = [];
  private stepMs = 2000;
  private since = 0;
  private fetchedAt = 0;
  private loadSeq = 0;
  /** Ticks inside the current step, averaged into one point. */
  private bucket: { n: number; added: number; completed: number; failed: number; dead: number } | null = null;

  constructor(
    private queue: string,
    private range: Range,
    private readonly onRange: (r: Range) => void,
  ) {
    const seg = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Range' });
    for (const r of RANGES) {
      const b = h('button', { type: 'button', class: 'seg', 'data-testid': `range-${r}`, 'aria-pressed': String(r === range), onclick: () => this.setRange(r) }, r);
      this.buttons.set(r, b);
      seg.append(b);
    }
    this.el = h('section', { class: 'metrics' },
      h('div', { class: 'section-head' }, h('h2', null, 'Metrics'), this.picker, this.note, h('span', { class: 'spacer' }), seg),
      h('div', { class: 'charts' }, this.throughput.el, this.wait.el, this.proc.el),
    );
    void this.load();
  }

  /** Sets the queue picker (a select element on the overview, nothing on a queue page). */
  setPicker(el: HTMLElement | null): void {
    fill(this.picker, el);
  }

  setQueue(queue: string): void {
    if (queue === this.queue) return;
    this.queue = queue;
    void this.load();
  }

  private setRange(r: Range): void {
    if (r === this.range) return;
    this.range = r;
    for (const [k, b] of this.buttons) b.setAttribute('aria-pressed', String(k === r));
    this.onRange(r);
    void this.load();
  }

  private async load(): Promise<void> {
    const seq = ++this.loadSeq;
    try {
      const hist = await get<History>(qpath(this.queue, '/history'), { range: this.range });
      if (seq !== this.loadSeq) return;
      this.points = hist.points;
      this.stepMs = hist.stepMs > 0 ? hist.stepMs : SPAN[this.range] / 150;
      this.since = hist.since;
      this.fetchedAt = Date.now();
      this.bucket = null;
      this.draw();
    } catch (err) {
      if (seq === this.loadSeq) showError(err);
    }
  }

  /** A tick: extend the charts with the queue's current rates. */
  tick(at: number, queues: readonly QueueSummary[]): void {
    const q = queues.find((s) => s.name === this.queue);
    if (!q) return;
    if (Date.now() - this.fetchedAt >= Math.max(RESYNC_MS, this.stepMs)) {
      this.fetchedAt = Date.now();
      void this.load();
      return;
    }
    const b = (this.bucket ??= { n: 0, added: 0, completed: 0, failed: 0, dead: 0 });
    b.n++;
    b.added += q.rates.added;
    b.completed += q.rates.completed;
    b.failed += q.rates.failed;
    b.dead += q.rates.dead;
    const last = this.points[this.points.length - 1];
    if (!last || at - last.t >= this.stepMs * 0.999) {
      this.points.push({ t: at, added: b.added / b.n, completed: b.completed / b.n, failed: b.failed / b.n, dead: b.dead / b.n });
      this.bucket = null;
    }
    this.draw();
  }

  private draw(): void {
    const to = Math.max(now(), this.points[this.points.length - 1]?.t ?? 0);
    const from = to - SPAN[this.range];
    this.points = this.points.filter((p) => p.t >= from - this.stepMs);
    const pts = this.points;
    const times = pts.map((p) => p.t);
    const empty = this.since > 0 ? `no samples yet (history begins when the dashboard starts: ${clock(this.since, true)})` : 'no samples yet';
    const chart = (series: ChartSeries[], format: (v: number) => string, idle = 'no job observed in this range'): ChartData => ({ times, from, to, series, format, empty, idle });
    this.throughput.set(chart([
      { label: 'completed', color: 'green', values: pts.map((p) => p.completed) },
      { label: 'failed', color: 'amber', values: pts.map((p) => p.failed) },
      { label: 'dead', color: 'red', values: pts.map((p) => p.dead) },
      { label: 'added', color: 'blue', values: pts.map((p) => p.added) },
    ], rate, 'nothing happened in this range'));
    this.wait.set(chart([
      { label: 'p50', color: 'blue', values: pts.map((p) => p.waitP50) },
      { label: 'p95', color: 'purple', values: pts.map((p) => p.waitP95) },
    ], latency));
    this.proc.set(chart([
      { label: 'p50', color: 'green', values: pts.map((p) => p.procP50) },
      { label: 'p95', color: 'amber', values: pts.map((p) => p.procP95) },
    ], latency));
    this.note.textContent = this.since > from ? `since ${clock(this.since, true)}` : '';
  }
}
