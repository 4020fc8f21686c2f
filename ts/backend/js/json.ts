// The JSON writer of the pure TypeScript backend: the same text, byte for byte, as the core's
// (crates/core/src/json.rs), so every backend returns identical reports.

export class Json {
  private out = '';
  /** Whether the current container already holds an element (so the next needs a comma). */
  private filled: boolean[] = [false];

  finish(): string {
    return this.out;
  }

  private sep(): void {
    const last = this.filled.length - 1;
    if (last < 0) return;
    if (this.filled[last]) this.out += ',';
    this.filled[last] = true;
  }

  private key(k: string): void {
    this.sep();
    this.out += quote(k) + ':';
  }

  beginObject(key?: string): void {
    if (key === undefined) this.sep();
    else this.key(key);
    this.out += '{';
    this.filled.push(false);
  }

  endObject(): void {
    this.filled.pop();
    this.out += '}';
  }

  beginArray(key?: string): void {
    if (key === undefined) this.sep();
    else this.key(key);
    this.out += '[';
    this.filled.push(false);
  }

  endArray(): void {
    this.filled.pop();
    this.out += ']';
  }

  str(k: string, v: string): void {
    this.key(k);
    this.out += quote(v);
  }

  /** An unsigned integer: a number below 2^53 or a bigint. */
  u64(k: string, v: number | bigint): void {
    this.key(k);
    this.out += v.toString();
  }

  /** A finite float with fixed precision, rounded as Rust's `{:.N}` does; null otherwise. */
  f64(k: string, v: number, decimals: number): void {
    this.key(k);
    this.out += Number.isFinite(v) ? fixed(v, decimals) : 'null';
  }

  bool(k: string, v: boolean): void {
    this.key(k);
    this.out += v ? 'true' : 'false';
  }

  null(k: string): void {
    this.key(k);
    this.out += 'null';
  }

  itemStr(v: string): void {
    this.sep();
    this.out += quote(v);
  }

  /** An array element that is already JSON text (a rendered sub-report). */
  rawItem(json: string): void {
    this.sep();
    this.out += json;
  }

  itemU64(v: number | bigint): void {
    this.sep();
    this.out += v.toString();
  }
}

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function quote(s: string): string {
  // eslint-disable-next-line no-control-regex
  const body = s.replace(/["\\\u0000-\u001f]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `"${body}"`;
}

/**
 * `v` with `decimals` digits after the point, rounded half to even on the exact binary value, as
 * Rust formats it (`toFixed` rounds a tie up instead). Negative zero keeps its sign, as in Rust.
 */
export function fixed(v: number, decimals: number): string {
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  if (a >= 1e21) {
    // Integral at this size: every digit is exact.
    return sign + BigInt(a).toString() + (decimals > 0 ? '.' + '0'.repeat(decimals) : '');
  }
  // 100 fractional digits hold the exact expansion of every double that can round to a tie.
  const exact = a.toFixed(100);
  const point = exact.indexOf('.');
  const intPart = exact.slice(0, point);
  const frac = exact.slice(point + 1);
  let kept = intPart + frac.slice(0, decimals);
  const rest = frac.slice(decimals);
  const half = '5' + '0'.repeat(rest.length - 1);
  const last = Number(kept[kept.length - 1]);
  if (rest > half || (rest === half && last % 2 === 1)) kept = increment(kept);
  const whole = kept.slice(0, kept.length - decimals);
  return sign + (decimals > 0 ? `${whole}.${kept.slice(kept.length - decimals)}` : whole);
}

/** Adds one to a string of decimal digits. */
function increment(digits: string): string {
  const d = digits.split('');
  let i = d.length - 1;
  while (i >= 0 && d[i] === '9') d[i--] = '0';
  if (i < 0) return '1' + d.join('');
  d[i] = String(Number(d[i]) + 1);
  return d.join('');
}

/** Nanoseconds since the epoch as "seconds.nanoseconds", the way tshark prints epoch times. */
export function epochText(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}
