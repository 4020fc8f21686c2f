// Thresholds as people write them ("50kpps", "1GB", "10Mbps", "80%", "500/s") and values as
// people read them. Each metric has one dimension; a unit of another dimension is an error
// that says which units would fit, rather than a silent misreading.
import type { AlertMetric } from '../config/index.js';
import { grouped, si } from '../report/units.js';

export type Dimension = 'count' | 'bytes' | 'pps' | 'bps' | 'rate' | 'share';

export const METRIC_DIMENSION: Record<AlertMetric, Dimension> = {
  packets: 'count',
  bytes: 'bytes',
  pps: 'pps',
  bps: 'bps',
  flows: 'count',
  distinct: 'count',
  spread: 'count',
  protocol_share: 'share',
  new_conversations: 'rate',
  drops: 'count',
};

const SI: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
const BINARY: Record<string, number> = { ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, ti: 1024 ** 4 };

const EXAMPLES: Record<Dimension, string> = {
  count: 'a count such as 500 or 2k',
  bytes: 'a size such as 1GB, 500MB or 64MiB',
  pps: 'a packet rate such as 50kpps',
  bps: 'a bit rate such as 10Mbps, 1Gbit/s or 100MB/s',
  rate: 'a rate per second such as 500/s or 2k',
  share: 'a share such as 80% or 0.8',
};

/** Unit suffixes per dimension (lower case, after the prefix), with their factor. */
const SUFFIXES: Record<Dimension, Record<string, number>> = {
  count: { '': 1, pkts: 1, packets: 1 },
  bytes: { b: 1, bytes: 1, '': 1 },
  pps: { pps: 1, 'p/s': 1, '/s': 1, '': 1 },
  bps: { bps: 1, 'bit/s': 1, 'bits/s': 1, 'b/s': 8, 'bytes/s': 8, '': 1 },
  rate: { '/s': 1, 'per s': 1, '': 1 },
  share: {},
};

/** The value of a threshold for a metric of `dim`; an Error says what was expected. */
export function parseQuantity(text: string, dim: Dimension): number {
  const t = text.trim();
  const fail = () => new Error(`"${text}" is not ${EXAMPLES[dim]}`);
  if (dim === 'share') {
    const m = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(t);
    if (!m) throw fail();
    const v = Number(m[1]);
    if (m[2]) {
      if (v > 100) throw new Error(`"${text}" is more than 100%`);
      return v / 100;
    }
    if (v > 1) throw new Error(`"${text}" is ambiguous for a share: write ${v}% or a fraction from 0 to 1`);
    return v;
  }
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?)?\s*(.*)$/.exec(t);
  if (!m) throw fail();
  const prefix = (m[2] ?? '').toLowerCase();
  // "Mbps" and "MB/s": the prefix belongs to the unit; "B" alone is bytes, "b" alone bits.
  const unitRaw = m[3];
  const factor = BINARY[prefix] ?? SI[prefix];
  if (factor === undefined) throw fail();
  if (prefix.endsWith('i') && dim !== 'bytes') throw new Error(`"${text}": binary prefixes are for sizes; expected ${EXAMPLES[dim]}`);
  let unit = unitRaw.toLowerCase();
  if (dim === 'bps' && /^B\/s$|^Bps$/.test(unitRaw)) unit = 'b/s';
  else if (dim === 'bps' && /^bps$|^b\/s$/.test(unitRaw)) unit = 'bps';
  const suffix = SUFFIXES[dim][unit];
  if (suffix === undefined) throw new Error(`"${text}": unit "${unitRaw}" does not fit; expected ${EXAMPLES[dim]}`);
  return Number(m[1]) * factor * suffix;
}

/** A value as people read it, in the metric's unit. */
export function quantityText(v: number, dim: Dimension): string {
  switch (dim) {
    case 'bytes':
      return si(v, 'B');
    case 'pps':
      return si(v, 'pps');
    case 'bps':
      return si(v, 'bit/s');
    case 'rate':
      return si(v, 'conn/s');
    case 'share':
      return `${(v * 100).toFixed(1)}%`;
    default:
      // Counts are exact: people compare them with Wireshark's.
      return Number.isInteger(v) ? grouped(v) : v.toFixed(2);
  }
}
