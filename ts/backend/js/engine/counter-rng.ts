// CounterRng (crates/core/src/sketch/random.rs): draw n is splitmix64(seed + n * golden), a
// u64. Computed on 32-bit limbs (no bigint on the per-draw path): products of two 32-bit limbs
// are split so that every intermediate stays an exact double.

const TWO32 = 4294967296;

/** High 32 bits of the 64-bit product of two u32 values (exact). */
export function mulHi32(a: number, b: number): number {
  const u = (a >>> 16) * b; // < 2^48
  const v = (a & 0xffff) * b; // < 2^48
  const uh = Math.floor(u / 65536);
  return uh + Math.floor(((u - uh * 65536) * 65536 + v) / TWO32);
}

// Golden ratio increment and the two splitmix64 multipliers, as (hi, lo) limbs.
const G_HI = 0x9e3779b9;
const G_LO = 0x7f4a7c15;
const M1_HI = 0xbf58476d;
const M1_LO = 0x1ce4e5b9;
const M2_HI = 0x94d049bb;
const M2_LO = 0x133111eb;

export class CounterRng {
  private readonly seedHi: number;
  private readonly seedLo: number;
  /** The draw counter, as limbs. */
  private cHi = 0;
  private cLo = 0;
  /** seed + counter * golden (mod 2^64), kept in step with the counter. */
  private sHi: number;
  private sLo: number;
  /** The last draw, as limbs (set by next()). */
  hi = 0;
  lo = 0;

  constructor(seed: bigint) {
    this.seedHi = Number(BigInt.asUintN(32, seed >> 32n));
    this.seedLo = Number(BigInt.asUintN(32, seed));
    this.sHi = this.seedHi;
    this.sLo = this.seedLo;
  }

  /** Draws the next u64 into `hi`/`lo`. */
  next(): void {
    this.cLo = (this.cLo + 1) >>> 0;
    if (this.cLo === 0) this.cHi = (this.cHi + 1) >>> 0;
    let lo = this.sLo + G_LO;
    let hi = this.sHi + G_HI + (lo >= TWO32 ? 1 : 0);
    lo >>>= 0;
    hi >>>= 0;
    this.sLo = lo;
    this.sHi = hi;
    // z = (z ^ (z >> 30)) * M1
    let xl = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
    let xh = (hi ^ (hi >>> 30)) >>> 0;
    hi = (Math.imul(xh, M1_LO) + Math.imul(xl, M1_HI) + mulHi32(xl, M1_LO)) >>> 0;
    lo = Math.imul(xl, M1_LO) >>> 0;
    // z = (z ^ (z >> 27)) * M2
    xl = (lo ^ ((lo >>> 27) | (hi << 5))) >>> 0;
    xh = (hi ^ (hi >>> 27)) >>> 0;
    hi = (Math.imul(xh, M2_LO) + Math.imul(xl, M2_HI) + mulHi32(xl, M2_LO)) >>> 0;
    lo = Math.imul(xl, M2_LO) >>> 0;
    // z ^ (z >> 31)
    this.lo = (lo ^ ((lo >>> 31) | (hi << 1))) >>> 0;
    this.hi = (hi ^ (hi >>> 31)) >>> 0;
  }

  /** The next draw as a bigint (tests and reference use). */
  nextU64(): bigint {
    this.next();
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** The next draw shifted right by 11: uniform in [0, 2^53), an exact double. */
  next53(): number {
    this.next();
    return this.hi * 2097152 + (this.lo >>> 11);
  }

  /**
   * Uniform in [0, n) by multiply-shift: (next_u64 * n) >> 64 in 128 bits. `n` is an integer in
   * [1, 2^53) held in a double.
   */
  below(n: number): number {
    this.next();
    const zh = this.hi;
    const zl = this.lo;
    const nh = Math.floor(n / TWO32);
    const nl = n - nh * TWO32;
    // Columns of the 128-bit product (zh:zl) * (nh:nl), each a sum of exact doubles.
    const t1 = mulHi32(zl, nl) + (Math.imul(zh, nl) >>> 0) + (Math.imul(zl, nh) >>> 0);
    const c1 = Math.floor(t1 / TWO32);
    const t2 = mulHi32(zh, nl) + mulHi32(zl, nh) + (Math.imul(zh, nh) >>> 0) + c1;
    // The result is below n < 2^53, so hi(zh * nh) * 2^32 + t2 is exact.
    return mulHi32(zh, nh) * TWO32 + t2;
  }

  /** Back to draw 1. */
  reset(): void {
    this.cHi = 0;
    this.cLo = 0;
    this.sHi = this.seedHi;
    this.sLo = this.seedLo;
  }

  /** Values drawn since the start (or the last reset). */
  draws(): bigint {
    return (BigInt(this.cHi) << 32n) | BigInt(this.cLo);
  }
}
