/**
 * A value as JSON can carry it: payloads decode from msgpack, which has
 * values JSON lacks. BigInts become `"<digits>n"`, bytes `{ $bytes: base64 }`,
 * Maps objects, Sets arrays, Dates ISO strings, non-finite numbers strings;
 * the page shows them as they are, marked, rather than failing to show the job.
 */
export function jsonSafe(value: unknown, depth = 0): unknown {
  if (depth > 64) return '[too deep]';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v, depth + 1)]));
  if (value instanceof Set) return [...value].map((v) => jsonSafe(v, depth + 1));
  if (value instanceof RegExp) return String(value);
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v, depth + 1);
  return out;
}
