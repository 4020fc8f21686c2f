// The rows buffer the backends make from a window snapshot (crates/core/src/engine/rows.rs):
// per table, u32 rows, u32 length, TabSeparated text. Also the way back from TabSeparated to
// JSON rows, for the file writer.
import { COLUMNS, ROW_TABLES, type RowTable } from './schema.js';

export interface RowBlock {
  table: RowTable;
  rows: number;
  text: Buffer;
}

/** The non-empty blocks of a rows buffer. */
export function splitRows(buf: Uint8Array): RowBlock[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RowBlock[] = [];
  let at = 0;
  for (const table of ROW_TABLES) {
    if (at + 8 > b.length) throw new Error(`storage rows: the buffer ends before table ${table}`);
    const rows = b.readUInt32LE(at);
    const len = b.readUInt32LE(at + 4);
    if (at + 8 + len > b.length) throw new Error(`storage rows: table ${table} runs past the buffer`);
    if (rows > 0) out.push({ table, rows, text: b.subarray(at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return out;
}

const NUMERIC = new Set(['packets', 'bytes', 'late_packets', 'keys', 'stream_packets', 'stream_bytes', 'payload_bytes', 'family', 'src_port', 'dst_port', 'proto', 'distinct_count', 'spread']);
const TIMES = new Set(['window_start', 'window_end', 'first_seen', 'last_seen']);

/** "1700000000.123456789" (epoch seconds) as ISO 8601 with nanoseconds. */
function epochToIso(text: string): string {
  const [sec, frac = '0'] = text.split('.');
  const iso = new Date(Number(sec) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${frac.padEnd(9, '0')}Z`;
}

/** An address column as people read it: a dotted quad for IPv4, nothing when the key has none
 * (IPv4 rows hold `::` there; an IPv6 row's `::` may be a real address and stays). */
export function addressText(ip: string, family: number): string {
  if (family === 4) return ip.startsWith('::ffff:') ? ip.slice(7) : '';
  if (family === 6) return ip;
  return '';
}

/** Text as a TabSeparated field. */
export function tsvText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

function unescape(v: string): string {
  return v.includes('\\') ? v.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c)) : v;
}

/** JSON objects of a block, for people and tools without ClickHouse. */
export function blockToObjects(block: RowBlock): Record<string, unknown>[] {
  const columns = COLUMNS[block.table];
  const out: Record<string, unknown>[] = [];
  for (const line of block.text.toString('utf8').split('\n')) {
    if (line === '') continue;
    const values = line.split('\t');
    const row: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      const v = values[i];
      if (v === '\\N') row[c] = null;
      else if (NUMERIC.has(c)) row[c] = Number(v);
      else if (TIMES.has(c)) row[c] = epochToIso(v);
      else row[c] = unescape(v);
    });
    if ('family' in row) {
      row.src_ip = addressText(row.src_ip as string, row.family as number);
      row.dst_ip = addressText(row.dst_ip as string, row.family as number);
    }
    out.push(row);
  }
  return out;
}
