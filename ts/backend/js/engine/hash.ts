// The portable hash of the sketches (crates/core/src/hash.rs): MurmurHash3 x86_32, its
// finaliser and the derived 32-bit seeds, on unsigned 32-bit values (Math.imul and >>> 0).

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3's 32-bit finaliser. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The mixed block value `k` of one little-endian 32-bit word (or the zero-padded tail). */
function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** One block step of the running hash. */
function step(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3 x86_32 of `data[off .. off + len)` (the whole array by default). */
export function murmur3(seed: number, data: Uint8Array, off = 0, len = data.length - off): number {
  let h = seed | 0;
  const end = off + (len & ~3);
  let i = off;
  for (; i < end; i += 4) {
    h = step(h, mixK(data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)));
  }
  const rest = len & 3;
  if (rest !== 0) {
    let k = data[i];
    if (rest > 1) k |= data[i + 1] << 8;
    if (rest > 2) k |= data[i + 2] << 16;
    h ^= mixK(k);
  }
  return fmix32(h ^ len);
}

/** Two MurmurHash3 x86_32 values (seeds `s1`, `s2`) of the same bytes in one pass. */
export function murmur3x2(s1: number, s2: number, data: Uint8Array, len: number, out: Uint32Array): void {
  let h1 = s1 | 0;
  let h2 = s2 | 0;
  const end = len & ~3;
  let i = 0;
  for (; i < end; i += 4) {
    const k = mixK(data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    h1 = step(h1, k);
    h2 = step(h2, k);
  }
  const rest = len & 3;
  if (rest !== 0) {
    let k = data[i];
    if (rest > 1) k |= data[i + 1] << 8;
    if (rest > 2) k |= data[i + 2] << 16;
    k = mixK(k);
    h1 ^= k;
    h2 ^= k;
  }
  out[0] = fmix32(h1 ^ len);
  out[1] = fmix32(h2 ^ len);
}

/** The 32-bit seed number `row` derived from the 64-bit configured seed (hash.rs derived_seed). */
export function derivedSeed(seed: bigint, row: number): number {
  const lo = Number(BigInt.asUintN(32, seed));
  const hi = Number(BigInt.asUintN(32, seed >> 32n));
  return fmix32(lo ^ fmix32(hi ^ fmix32((row + 0x9e3779b9) >>> 0)));
}
