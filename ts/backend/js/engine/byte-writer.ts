// A growable little-endian output buffer for the snapshot encodings.

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  /** A u64 given as a bigint or as a non-negative integer number below 2^53. */
  u64(v: number | bigint): void {
    this.reserve(8);
    if (typeof v === 'bigint') {
      this.view.setBigUint64(this.length, BigInt.asUintN(64, v), true);
    } else {
      const hi = Math.floor(v / 4294967296);
      this.view.setUint32(this.length, v - hi * 4294967296, true);
      this.view.setUint32(this.length + 4, hi, true);
    }
    this.length += 8;
  }

  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  bytes(b: Uint8Array, at = 0, len = b.length - at): void {
    this.reserve(len);
    this.buf.set(b.subarray(at, at + len), this.length);
    this.length += len;
  }

  /** Minimal unsigned LEB128 of a u64 (number below 2^53 or bigint). */
  leb128(v: number | bigint): void {
    if (typeof v === 'number') {
      while (v >= 0x80) {
        this.u8((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.u8(v);
      return;
    }
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.u8(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.u8(Number(x));
  }

  /** Overwrites a u32 at `at` (a length written after its payload). */
  setU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
