// KeyFields (crates/core/src/table/exact.rs): which flow fields make a key, as a bit set.

export const SRC_IP = 1;
export const DST_IP = 2;
export const SRC_PORT = 4;
export const DST_PORT = 8;
export const PROTOCOL = 16;
export const FIVE_TUPLE = 31;

/** Field names as written in configuration, in key order. */
export const FIELD_NAMES: ReadonlyArray<readonly [string, number]> = [
  ['SrcIP', SRC_IP],
  ['DstIP', DST_IP],
  ['SrcPort', SRC_PORT],
  ['DstPort', DST_PORT],
  ['Protocol', PROTOCOL],
];

export function fieldFromName(name: string): number | undefined {
  return FIELD_NAMES.find(([n]) => n === name)?.[1];
}

/** Fields the core keys on besides the five (crates/core/src/key.rs); this backend does not. */
const CORE_ONLY = ['SrcPrefix', 'DstPrefix', 'SrcAS', 'DstAS', 'SrcCountry', 'DstCountry', 'App', 'ServerName', 'ICMPType', 'ICMPCode', 'TCPFlags', 'DSCP', 'VLAN', 'Direction', 'Interface'];

/** Parses "SrcIP,DstPort" style lists; throws with the core's message. */
export function parseKeyFields(list: string): number {
  let f = 0;
  for (const raw of list.split(',')) {
    const part = trimRust(raw);
    if (part === '') continue;
    const k = fieldFromName(part);
    if (k === undefined) {
      if (CORE_ONLY.includes(part.split('/')[0])) {
        throw new Error(`key field "${part}" is counted by the native and wasm backends; the TypeScript backend keys on SrcIP, DstIP, SrcPort, DstPort, Protocol`);
      }
      throw new Error(`unknown key field "${part}": expected one of SrcIP, DstIP, ${CORE_ONLY.slice(0, 8).join(', ')}, SrcPort, DstPort, Protocol, ${CORE_ONLY.slice(8).join(', ')}`);
    }
    f |= k;
  }
  if (f === 0) throw new Error('a key needs at least one field');
  return f;
}

/** "SrcIP,Protocol": the names of the set fields, in key order. */
export function keyFieldsText(f: number): string {
  return FIELD_NAMES.filter(([, k]) => (f & k) !== 0)
    .map(([n]) => n)
    .join(',');
}

/** Bytes of a key packed with these fields: 17 per address, 2 per port, 1 for the protocol. */
export function keyLength(f: number): number {
  return (
    (f & SRC_IP ? 17 : 0) + (f & DST_IP ? 17 : 0) + (f & SRC_PORT ? 2 : 0) + (f & DST_PORT ? 2 : 0) + (f & PROTOCOL ? 1 : 0)
  );
}

/** Rust's str::trim: Unicode White_Space (unlike JS trim: U+0085 yes, U+FEFF no). */
const EDGE_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function trimRust(s: string): string {
  return s.replace(EDGE_SPACE, '');
}
