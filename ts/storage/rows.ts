// A block of rows for the writer: RowBinary rows of one table, in the table's column order
// (schema.ts, columnsOf). The core's rows come from its buffers (backend/closed-window.ts).
import type { StoredTable } from './schema.js';

export type { QuarantinedRow } from '../backend/index.js';

export interface RowBlock {
  table: StoredTable;
  rows: number;
  data: Buffer;
}
