// Rows of the tables filled from here rather than by the core: run statistics, alert history,
// the quarantine and runs; RowBinary in the column order of schema.ts. A value the store cannot
// hold makes its row a quarantined one, with the reason.
import type { AlertEvent } from '../shared/index.js';
import type { QuarantinedRow, RowBlock } from './rows.js';
import { OutOfRange, RowEncoder } from './row-binary.js';
import type { LocalTable } from './schema.js';

export interface IngestStatsRow {
  atMs: number;
  kind: string;
  packets: number;
  bytes: number;
  windows: number;
  details: Record<string, unknown>;
}

/** Who wrote the rows: every row starts with them. */
export interface RowOrigin {
  source: string;
  /** The analysis run; empty for an engine. */
  run: string;
}

export interface LocalRows {
  block: RowBlock | null;
  quarantined: QuarantinedRow[];
}

/** Encodes `items` with `write`; an item with a value out of range is quarantined instead. */
function encode<T>(table: LocalTable, items: readonly T[], write: (e: RowEncoder, item: T) => void): LocalRows {
  const e = new RowEncoder();
  const quarantined: QuarantinedRow[] = [];
  for (const item of items) {
    try {
      write(e, item);
      e.end();
    } catch (err) {
      if (!(err instanceof OutOfRange)) throw err;
      e.abandonRow();
      quarantined.push({ table, reason: err.message, row: JSON.stringify(item) });
    }
  }
  const { rows, data } = e.take();
  return { block: rows ? { table, rows, data } : null, quarantined };
}

const msToNs = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;

/** ISO 8601 text as nanoseconds (the alert's times). */
function isoNs(text: string, column: string): bigint {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new OutOfRange(`${column} "${text}" is not a time`);
  const frac = /\.(\d{4,9})Z$/.exec(text);
  // Nanoseconds past the millisecond, when the text carries them.
  const extra = frac ? BigInt(frac[1].padEnd(9, '0').slice(3)) : 0n;
  return msToNs(ms) + extra;
}

export function statsRows(o: RowOrigin, rows: readonly IngestStatsRow[]): LocalRows {
  return encode('ingest_stats', rows, (e, r) => {
    e.string(o.source).string(o.run).timeNs(msToNs(r.atMs), 'at').string(r.kind).u64(r.packets).u64(r.bytes).u64(r.windows);
    e.string(JSON.stringify(r.details));
  });
}

export function alertRows(o: RowOrigin, events: readonly AlertEvent[]): LocalRows {
  return encode('alerts', events, (e, a) => {
    e.string(a.source).string(o.run).timeNs(isoNs(a.at, 'at'), 'at').string(a.id).string(a.rule).string(a.state).u8(a.repeat ? 1 : 0);
    e.string(a.severity).string(a.summary).string(a.description).string(a.task).string(a.metric).string(a.op).f64(a.threshold);
    e.string(a.thresholdText).f64(a.value).string(a.valueText).string(a.keyText).string(JSON.stringify(a.key));
    e.string(JSON.stringify(a.labels)).timeNs(isoNs(a.startsAt, 'starts_at'), 'starts_at');
    e.nullableTimeNs(a.endsAt === null ? null : isoNs(a.endsAt, 'ends_at'), 'ends_at');
    e.timeNs(isoNs(a.windowStart, 'window_start'), 'window_start').timeNs(isoNs(a.windowEnd, 'window_end'), 'window_end');
    e.string(a.enrichment ? JSON.stringify(a.enrichment) : '').string(a.enrichmentNote ?? '');
  });
}

/** Rows for the quarantine table. */
export function quarantineRows(o: RowOrigin, atMs: number, rows: readonly QuarantinedRow[]): RowBlock | null {
  return encode('quarantine', rows, (e, q) => e.string(o.source).string(o.run).timeMs(atMs, 'at').string(q.table).string(q.reason).string(q.row)).block;
}

/** The row that makes a run the one queries read (written after every other row of it). */
export function runRow(o: RowOrigin, startedMs: number, finishedMs: number, details: Record<string, unknown>): RowBlock {
  return encode('runs', [0], (e) => e.string(o.source).string(o.run).timeMs(startedMs, 'started_at').timeMs(finishedMs, 'finished_at').string(JSON.stringify(details))).block!;
}

/** A run id: its start time first (zero-padded milliseconds), so that ids sort by start. */
export function newRunId(startedMs = Date.now()): string {
  return `${String(Math.round(startedMs)).padStart(15, '0')}-${Math.random().toString(16).slice(2, 10).padEnd(8, '0')}`;
}
