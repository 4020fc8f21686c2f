// The storage rows the core makes of a window (crates/core/src/rows/mod.rs documents the
// buffer): per table, its RowBinary rows; then the rows it kept out of their tables (a time the
// store cannot hold), as JSON with the reason.
import { CORE_TABLES, type StoredTable } from './schema.js';

/** Rows of one table, RowBinary in the table's column order (`columnsOf`). */
export interface RowBlock {
  table: StoredTable;
  rows: number;
  data: Buffer;
}

/** A row kept out of its table, and why. */
export interface QuarantinedRow {
  table: string;
  reason: string;
  /** The row as JSON text. */
  row: string;
}

export interface WindowRows {
  blocks: RowBlock[];
  quarantined: QuarantinedRow[];
}

/** The non-empty blocks and the quarantined rows of a storage-rows buffer. */
export function readStorageRows(buf: Uint8Array): WindowRows {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const blocks: RowBlock[] = [];
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > b.length) throw new Error(`storage rows: the buffer ends inside ${what}`);
  };
  for (const table of CORE_TABLES) {
    need(8, `table ${table}`);
    const rows = b.readUInt32LE(at);
    const len = b.readUInt32LE(at + 4);
    need(8 + len, `table ${table}`);
    if (rows > 0) blocks.push({ table, rows, data: b.subarray(at + 8, at + 8 + len) });
    at += 8 + len;
  }
  need(4, 'the quarantine');
  const count = b.readUInt32LE(at);
  at += 4;
  const quarantined: QuarantinedRow[] = [];
  for (let i = 0; i < count; i++) {
    need(1, 'a quarantined row');
    const table = CORE_TABLES[b[at]] ?? `table ${b[at]}`;
    at += 1;
    const text = () => {
      need(4, 'a quarantined row');
      const n = b.readUInt32LE(at);
      need(4 + n, 'a quarantined row');
      const s = b.toString('utf8', at + 4, at + 4 + n);
      at += 4 + n;
      return s;
    };
    const reason = text();
    quarantined.push({ table, reason, row: text() });
  }
  if (at !== b.length) throw new Error(`storage rows: ${b.length - at} bytes past the quarantine`);
  return { blocks, quarantined };
}
