// Rust's Display text of an f64 (`format!("{w}")`), for error messages that quote a number:
// the shortest digits that read back to the same value, never in exponent notation ("1e21"
// prints as 1000000000000000000000, 1e-7 as 0.0000001), "-0" for negative zero, "NaN", "inf"
// and "-inf".

export function rustF64Text(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  // toExponential() without digits gives the shortest round-trip digits, as Rust does.
  const [mantissa, expText] = Math.abs(v).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return sign + digits + '0'.repeat(exp + 1 - digits.length);
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}
