// MaxMind DB files for tests (https://maxmind.github.io/MaxMind-DB/): an IPv6 search tree of
// 24-bit records over the given networks, a data section of maps, strings and unsigned
// integers, and the metadata. Small, but in the format MaxMind's and ip-location-db's files use.

type Value = string | number | { [k: string]: Value };

function control(out: number[], kind: number, len: number): void {
  const size = Math.min(len, 29);
  if (kind <= 7) out.push((kind << 5) | size);
  else out.push(size, kind - 7);
  if (len >= 29) out.push(len - 29);
}

function write(out: number[], v: Value): void {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    control(out, 2, b.length);
    out.push(...b);
  } else if (typeof v === 'number') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    const bytes = [...b].slice([...b].findIndex((x) => x !== 0) === -1 ? 4 : [...b].findIndex((x) => x !== 0));
    control(out, 6, bytes.length);
    out.push(...bytes);
  } else {
    control(out, 7, Object.keys(v).length);
    for (const [k, x] of Object.entries(v)) {
      write(out, k);
      write(out, x);
    }
  }
}

/** 16 bytes of an address; IPv4 as ::a.b.c.d (its prefix length then counts 96 more). */
function addressBits(address: string): Buffer {
  const out = Buffer.alloc(16);
  if (address.includes('.')) {
    address.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  const [head, tail] = address.split('::');
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  [...h, ...Array(8 - h.length - t.length).fill(0), ...t].forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** An MMDB file of `networks` ("192.0.2.0/24" or "2001:db8::/32") and their records. */
export function mmdbFile(networks: [string, Value][], databaseType: string): Buffer {
  type Child = { node: number } | { data: number } | null;
  const nodes: [Child, Child][] = [[null, null]];
  const data: number[] = [];
  for (const [cidr, record] of networks) {
    const [address, lenText] = cidr.split('/');
    const len = Number(lenText) + (address.includes('.') ? 96 : 0);
    const bits = addressBits(address);
    const offset = data.length;
    write(data, record);
    let node = 0;
    for (let i = 0; i < len; i++) {
      const bit = (bits[i >> 3] >> (7 - (i & 7))) & 1;
      if (i + 1 === len) {
        nodes[node][bit] = { data: offset };
      } else {
        const c = nodes[node][bit];
        if (c && 'node' in c) node = c.node;
        else {
          nodes.push([null, null]);
          nodes[node][bit] = { node: nodes.length - 1 };
          node = nodes.length - 1;
        }
      }
    }
  }
  const count = nodes.length;
  const out: number[] = [];
  for (const n of nodes) {
    for (const c of n) {
      const v = c === null ? count : 'node' in c ? c.node : count + 16 + c.data;
      out.push((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
    }
  }
  // Not push(...data): a database of many networks has more bytes than a call takes arguments.
  for (const part of [Array(16).fill(0), data, [...Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1')]]) for (const b of part) out.push(b);
  write(out, { node_count: count, record_size: 24, ip_version: 6, database_type: databaseType, binary_format_major_version: 2 });
  return Buffer.from(out);
}
