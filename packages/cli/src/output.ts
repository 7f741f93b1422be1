/** Colours by name (ANSI SGR codes). */
const STYLES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const;
export type Style = keyof typeof STYLES;

/** Where `kyoo` writes, and how: JSON or text, colour or not. */
export interface OutputOptions {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * Writes a command's results to stdout (text for people, or JSON) and its
 * notes to stderr. Colour only when stdout is a terminal and `NO_COLOR` is
 * not set (done here rather than with util.styleText, which ignores
 * NO_COLOR when given several styles).
 */
export class Output {
  readonly json: boolean;
  /** stdout is a terminal. */
  readonly tty: boolean;
  /** stderr is a terminal (progress bars go there). */
  readonly errTty: boolean;
  readonly color: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly err: NodeJS.WriteStream;

  constructor(o: OutputOptions) {
    this.out = o.stdout ?? process.stdout;
    this.err = o.stderr ?? process.stderr;
    const env = o.env ?? process.env;
    this.json = o.json;
    this.tty = this.out.isTTY === true;
    this.errTty = this.err.isTTY === true;
    this.color = this.tty && !(env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') && env['TERM'] !== 'dumb';
  }

  /** A line on stdout. */
  line(text = ''): void {
    this.out.write(`${text}\n`);
  }

  /** A value as one JSON line on stdout. */
  data(value: unknown): void {
    this.out.write(`${toJson(value)}\n`);
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.err.write(`${text}\n`);
  }

  /** Clears the terminal (a --watch redrawing its table). */
  clear(): void {
    if (this.tty) this.out.write('\x1b[H\x1b[2J');
  }

  /** Raw text on stderr (a progress bar redrawing its line). */
  status(text: string): void {
    this.err.write(text);
  }

  paint(style: Style | Style[], text: string): string {
    if (!this.color) return text;
    const codes = (Array.isArray(style) ? style : [style]).map((s) => STYLES[s]).join(';');
    return `\x1b[${codes}m${text}\x1b[0m`;
  }

  /** Rows under a header, columns aligned (the widths of what is shown, colour left out). */
  table(header: string[], rows: (string | Cell)[][]): void {
    const cells = rows.map((r) => r.map((c) => (typeof c === 'string' ? { text: c } : c)));
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.text.length ?? 0)));
    const last = header.length - 1;
    const fmt = (row: Cell[]) => row.map((c, i) => {
      const pad = ' '.repeat(Math.max(0, widths[i]! - c.text.length));
      const text = c.style ? this.paint(c.style, c.text) : c.text;
      if (c.right) return pad + text;
      return i === last ? text : text + pad;
    }).join('  ');
    this.line(fmt(header.map((h, i) => ({ text: h, style: 'bold' as Style, right: cells[0]?.[i]?.right === true }))));
    for (const r of cells) this.line(fmt(r));
  }
}

/** A table cell with a style, or right-aligned (numbers). */
export interface Cell {
  text: string;
  style?: Style | Style[];
  right?: boolean;
}

/** A right-aligned number cell. */
export const num = (n: number, style?: Style): Cell => (style === undefined || n === 0 ? { text: String(n), right: true } : { text: String(n), right: true, style });

/**
 * JSON of what kyoo returns, whatever the payload holds: BigInts as strings,
 * Sets as arrays, typed arrays and Buffers as arrays of numbers, Dates as ISO strings.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Set) return [...v];
    if (v instanceof Map) return Object.fromEntries(v);
    if (typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return (v as { data: number[] }).data;
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}

/** `12s`, `4m05s`, `3h12m`, `2d4h`: an age for people. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** A time for people: ISO 8601 in UTC without milliseconds. */
export function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Cuts text to `max` characters, with an ellipsis. */
export function cut(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length <= max ? one : `${one.slice(0, Math.max(0, max - 1))}…`;
}
