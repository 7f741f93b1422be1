/** Numbers, durations and times as the page shows them (en-US). */

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DEC1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const DEC2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** `1,234`. */
export const num = (n: number): string => INT.format(n);

/** A per-second rate: `0`, `0.25`, `12.5`, `1,234`. */
export function rate(n: number): string {
  if (n === 0) return '0';
  const a = Math.abs(n);
  return a < 1 ? DEC2.format(n) : a < 100 ? DEC1.format(n) : INT.format(n);
}

/** A duration for people: `450 ms`, `12s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function dur(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  let sec = Math.floor(ms / 1000);
  if (sec < 60) return `${sec}s`;
  const parts: [number, string][] = [];
  for (const [unit, label] of [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']] as const) {
    const q = Math.floor(sec / unit);
    sec -= q * unit;
    if (q > 0 || parts.length > 0) parts.push([q, label]);
  }
  return parts.slice(0, 2).filter(([q], i) => q > 0 || i === 0).map(([q, l]) => `${q}${l}`).join(' ');
}

/** A latency for a chart or label: `0.8 ms`, `12 ms`, `1.25 s`, `3m 12s`. */
export function latency(ms: number): string {
  if (ms < 1) return `${DEC2.format(ms)} ms`;
  if (ms < 10) return `${DEC1.format(ms)} ms`;
  if (ms < 999.5) return `${INT.format(ms)} ms`;
  if (ms < 60_000) return `${DEC2.format(ms / 1000)} s`;
  return dur(ms);
}

// The server's clock (the API's times are Redis time): every `at` it sends resets the offset.
let skew = 0;
export function serverTime(at: number): void {
  if (Number.isFinite(at) && at > 0) skew = at - Date.now();
}
export const now = (): number => Date.now() + skew;

/** `2s ago`, `in 5m 3s`, `just now`. */
export function ago(t: number): string {
  const d = now() - t;
  if (Math.abs(d) < 1000) return 'just now';
  return d > 0 ? `${dur(d)} ago` : `in ${dur(-d)}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2024-05-01 12:34:56` in local time. */
export function stamp(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t, true)}`;
}

/** `12:34` or `12:34:56` in local time. */
export function clock(t: number, seconds = false): string {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
}

/** `12:34:56.789` in local time, for events a few ms apart. */
export function clockMs(t: number): string {
  return `${clock(t, true)}.${String(new Date(t).getMilliseconds()).padStart(3, '0')}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/** Pretty JSON for a `<pre>` (`undefined` shown as such). */
export function pretty(v: unknown): string {
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    return String(v);
  }
}
