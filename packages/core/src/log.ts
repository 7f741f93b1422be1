import createDebug from 'debug';

/** Debug loggers under the `kyoo:*` namespaces (enable with `DEBUG=kyoo:*`). */
export const log = {
  client: createDebug('kyoo:client'),
  worker: createDebug('kyoo:worker'),
  scripts: createDebug('kyoo:scripts'),
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
