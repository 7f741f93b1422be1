import createDebug from 'debug';

/** One `debug` logger (typed here so that kyoo's published types do not need `@types/debug`). */
export interface Logger {
  (formatter: string, ...args: unknown[]): void;
  /** Whether this namespace is enabled (`DEBUG=kyoo:*`). */
  readonly enabled: boolean;
}

/** Debug loggers under the `kyoo:*` namespaces (enable with `DEBUG=kyoo:*`). */
export const log: { readonly client: Logger; readonly worker: Logger; readonly scripts: Logger; readonly schedules: Logger; readonly dashboard: Logger } = {
  client: createDebug('kyoo:client'),
  worker: createDebug('kyoo:worker'),
  scripts: createDebug('kyoo:scripts'),
  schedules: createDebug('kyoo:schedules'),
  dashboard: createDebug('kyoo:dashboard'),
};

/** Shortens a value for a log line so that payloads never flood the output. */
export function short(value: unknown, max = 120): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}
