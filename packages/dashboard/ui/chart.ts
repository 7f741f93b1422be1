import { h, s, fill } from './dom.js';
import { clock } from './format.js';

/** A small SVG line chart: time on x, a few labelled ticks, a legend, gaps for null. */

export interface ChartSeries {
  label: string;
  /** A colour name the stylesheet knows (`blue`, `green`, `red`, `amber`, `purple`, `grey`). */
  color: string;
  /** One value per time: a number, null for a gap (nothing observed), undefined where it is not known (skipped, no gap). */
  values: readonly (number | null | undefined)[];
}

export interface ChartData {
  times: readonly number[];
  from: number;
  to: number;
  series: readonly ChartSeries[];
  format(v: number): string;
  /** Shown when there is no point, and when no point has a value. */
  empty: string;
  idle: string;
}

const HEIGHT = 190;
const M = { left: 56, right: 14, top: 12, bottom: 24 };
const TIME_STEPS = [5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3];

export class LineChart {
  readonly el: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly tip: HTMLElement;
  private data: ChartData | undefined;
  private width = 0;

  constructor(title: string, testid: string) {
    this.legend = h('div', { class: 'legend' });
    this.tip = h('div', { class: 'chart-tip', hidden: true });
    this.plot = h('div', { class: 'chart-plot' }, this.tip);
    this.el = h('section', { class: 'card chart', 'data-testid': testid }, h('header', { class: 'chart-head' }, h('h3', null, title), this.legend), this.plot);
    new ResizeObserver(() => {
      const w = Math.floor(this.plot.clientWidth);
      if (w > 0 && w !== this.width) {
        this.width = w;
        this.draw();
      }
    }).observe(this.plot);
  }

  set(data: ChartData): void {
    this.data = data;
    this.draw();
  }

  private draw(): void {
    const d = this.data;
    if (!d) return;
    fill(this.legend, d.series.map((se) => h('span', { class: `legend-item c-${se.color}` }, h('i', { class: 'swatch' }), se.label, h('b', null, lastValue(se, d.format)))));
    const W = this.width || 600;
    const iw = W - M.left - M.right;
    const ih = HEIGHT - M.top - M.bottom;
    let max = 0;
    for (const se of d.series) for (const v of se.values) if (typeof v === 'number' && v > max) max = v;
    const [yTop, ySteps] = niceScale(max);
    const span = Math.max(1, d.to - d.from);
    const x = (t: number): number => M.left + ((t - d.from) / span) * iw;
    const y = (v: number): number => M.top + ih - (v / yTop) * ih;
    const svg = s('svg', { width: W, height: HEIGHT, viewBox: `0 0 ${W} ${HEIGHT}`, class: 'chart-svg', role: 'img', 'aria-label': this.el.querySelector('h3')?.textContent ?? 'chart' });
    const grid = s('g', { class: 'grid' });
    for (let i = 0; i <= ySteps; i++) {
      const v = (yTop / ySteps) * i;
      const yy = Math.round(y(v)) + 0.5;
      grid.append(s('line', { x1: M.left, x2: W - M.right, y1: yy, y2: yy }), s('text', { x: M.left - 6, y: yy + 4, 'text-anchor': 'end' }, d.format(v)));
    }
    const step = TIME_STEPS.find((st) => span / st <= 7) ?? 43200e3;
    for (let t = Math.ceil(d.from / step) * step; t <= d.to; t += step) {
      const xx = Math.round(x(t)) + 0.5;
      grid.append(s('line', { class: 'v', x1: xx, x2: xx, y1: M.top, y2: M.top + ih }), s('text', { x: xx, y: HEIGHT - 6, 'text-anchor': 'middle' }, clock(t, step < 60e3)));
    }
    svg.append(grid);
    for (const se of d.series) svg.append(s('g', { class: `series c-${se.color}` }, ...paths(d.times, se.values, x, y)));
    const seen = d.series.some((se) => se.values.some((v) => typeof v === 'number'));
    if (!seen) svg.append(s('text', { class: 'chart-empty', x: M.left + iw / 2, y: M.top + ih / 2, 'text-anchor': 'middle' }, d.times.length === 0 ? d.empty : d.idle));
    const cursor = s('line', { class: 'cursor', y1: M.top, y2: M.top + ih, visibility: 'hidden' });
    svg.append(cursor);
    svg.addEventListener('mousemove', (e) => this.hover(e.clientX - svg.getBoundingClientRect().left, d, x, cursor));
    svg.addEventListener('mouseleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      this.tip.hidden = true;
    });
    this.plot.querySelector('svg')?.remove();
    this.plot.prepend(svg);
  }

  private hover(px: number, d: ChartData, x: (t: number) => number, cursor: SVGLineElement): void {
    if (d.times.length === 0) return;
    let best = 0;
    for (let i = 1; i < d.times.length; i++) if (Math.abs(x(d.times[i]!) - px) < Math.abs(x(d.times[best]!) - px)) best = i;
    const t = d.times[best]!;
    const xx = x(t);
    cursor.setAttribute('x1', String(xx));
    cursor.setAttribute('x2', String(xx));
    cursor.setAttribute('visibility', 'visible');
    fill(this.tip, h('div', { class: 'tip-time' }, clock(t, true)), d.series.map((se) => {
      const v = se.values[best];
      return h('div', { class: `c-${se.color}` }, h('i', { class: 'swatch' }), se.label, h('b', null, typeof v === 'number' ? d.format(v) : '—'));
    }));
    this.tip.hidden = false;
    const left = xx + 12 + 160 > this.width ? xx - 12 - this.tip.offsetWidth : xx + 12;
    this.tip.style.setProperty('left', `${Math.max(0, left)}px`);
  }
}

/** The path segments of one series: a break at each null; a lone point drawn as a dot. */
function paths(times: readonly number[], values: readonly (number | null | undefined)[], x: (t: number) => number, y: (v: number) => number): SVGElement[] {
  const out: SVGElement[] = [];
  let seg: [number, number][] = [];
  const flush = (): void => {
    if (seg.length === 1) out.push(s('circle', { cx: seg[0]![0], cy: seg[0]![1], r: 2 }));
    else if (seg.length > 1) out.push(s('path', { d: seg.map(([a, b], i) => `${i === 0 ? 'M' : 'L'}${a.toFixed(1)},${b.toFixed(1)}`).join('') }));
    seg = [];
  };
  times.forEach((t, i) => {
    const v = values[i];
    if (v === null) flush();
    else if (v !== undefined) seg.push([x(t), y(v)]);
  });
  flush();
  return out;
}

/** A round top for the y axis and how many ticks up to it. */
function niceScale(max: number): [number, number] {
  if (!(max > 0)) return [1, 4];
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const n = Math.ceil(max / step - 1e-9);
  return [step * n, n];
}

function lastValue(se: ChartSeries, format: (v: number) => string): string {
  for (let i = se.values.length - 1; i >= 0; i--) {
    const v = se.values[i];
    if (typeof v === 'number') return format(v);
  }
  return '—';
}
