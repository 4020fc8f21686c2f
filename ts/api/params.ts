// Query-string values as every HTTP route reads them (`/api/v1/*` and the console's `/api/*`):
// times as RFC 3339 or epoch milliseconds under `start` and `end`, whole numbers in a range;
// a bad value is a QueryError that names the parameter.
import { QueryError } from '../storage/index.js';

/** The last millisecond a stored time can hold (nanoseconds in a signed 64-bit integer: 2262-04-11). */
const LAST_MS = 9_223_372_036_854;

/** Epoch milliseconds of an RFC 3339 time or of epoch milliseconds, from 1970 to 2262. */
export function epochMs(v: string, name: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(t)) throw new QueryError(`${name}: "${v}" is not an RFC 3339 time or epoch milliseconds`);
  if (t < 0 || t > LAST_MS) throw new QueryError(`${name}: "${v}" is outside 1970-01-01..2262-04-11`);
  return t;
}

/** `start` and `end` (either may be absent); the end after the start. */
export function timeRange(q: Record<string, string>): { start?: number; end?: number } {
  const start = q.start ? epochMs(q.start, 'start') : undefined;
  const end = q.end ? epochMs(q.end, 'end') : undefined;
  if (start !== undefined && end !== undefined && end <= start) throw new QueryError('end: must be after start');
  return { start, end };
}

export function wholeNumber(v: string, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v)) throw new QueryError(`${name}: "${v}" is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new QueryError(`${name}: ${n} is outside ${min}..${max}`);
  return n;
}
