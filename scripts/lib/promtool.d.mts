/** The path of a working promtool, fetching it first if needed. */
export function ensurePromtool(): string;
