// The stored tables and their versioned migrations. Rows are per window, never re-written:
// queries sum windows over a time range. Times are DateTime64 in UTC, addresses IPv6 (IPv4
// mapped, with the family beside them so IPv4 prints as a dotted quad again). Rows are written
// in RowBinary with the columns below: the core's tables list theirs in the core
// (crates/core/src/rows), the rest are made here.
import type { ClickHouseClient } from '@clickhouse/client';
import { CORE_TABLES, tablesJson, type CoreTable } from '../backend/index.js';
import { isColumnType, type Column } from './row-binary.js';

export { CORE_TABLES, type CoreTable } from '../backend/index.js';
/** Tables whose rows are made here. */
export type LocalTable = 'ingest_stats' | 'alerts' | 'quarantine' | 'runs';
/** Every table writers fill. */
export type StoredTable = CoreTable | LocalTable;

const NS = "DateTime64(9, 'UTC')";
const NULL_NS = "Nullable(DateTime64(9, 'UTC'))";
const MS = "DateTime64(3, 'UTC')";
const LC = 'LowCardinality(String)';

const LOCAL_COLUMNS: Record<LocalTable, Column[]> = {
  ingest_stats: [['source', LC], ['run', LC], ['at', NS], ['kind', LC], ['packets', 'UInt64'], ['bytes', 'UInt64'], ['windows', 'UInt64'], ['details', 'String']],
  alerts: [
    ['source', LC], ['run', LC], ['at', NS], ['id', 'String'], ['rule', LC], ['state', LC], ['repeat', 'UInt8'], ['severity', LC],
    ['summary', 'String'], ['description', 'String'], ['task', LC], ['metric', LC], ['op', LC], ['threshold', 'Float64'],
    ['threshold_text', 'String'], ['value', 'Float64'], ['value_text', 'String'], ['key_text', 'String'], ['key_json', 'String'],
    ['labels_json', 'String'], ['starts_at', NS], ['ends_at', NULL_NS], ['window_start', NS], ['window_end', NS],
    ['enrichment_json', 'String'], ['enrichment_note', 'String'],
  ],
  quarantine: [['source', LC], ['run', LC], ['at', MS], ['table', LC], ['reason', 'String'], ['row', 'String']],
  runs: [['source', LC], ['run', 'String'], ['started_at', MS], ['finished_at', MS], ['details', 'String']],
};

let coreColumns: Record<CoreTable, Column[]> | null = null;

/** The core's tables and columns, as its rows carry them. */
function core(): Record<CoreTable, Column[]> {
  if (!coreColumns) {
    const parsed = JSON.parse(tablesJson()) as Record<string, [string, string][]>;
    const out = {} as Record<CoreTable, Column[]>;
    for (const t of CORE_TABLES) {
      const cols = parsed[t];
      if (!cols) throw new Error(`storage: the backend makes no rows for table ${t}`);
      out[t] = cols.map(([name, type]) => {
        if (!isColumnType(type)) throw new Error(`storage: table ${t} column ${name} has type ${type}, which the writer cannot read`);
        return [name, type] as Column;
      });
    }
    coreColumns = out;
  }
  return coreColumns;
}

/** Columns of a table in the order its rows carry them. */
export function columnsOf(table: StoredTable): readonly Column[] {
  return (CORE_TABLES as readonly string[]).includes(table) ? core()[table as CoreTable] : LOCAL_COLUMNS[table as LocalTable];
}

export const STORED_TABLES: readonly StoredTable[] = [...CORE_TABLES, 'ingest_stats', 'alerts', 'quarantine', 'runs'];

export function isStoredTable(t: string): t is StoredTable {
  return (STORED_TABLES as readonly string[]).includes(t);
}

const TIME = "DateTime64(9, 'UTC')";
const KEY_COLUMNS = `family UInt8, src_ip IPv6, dst_ip IPv6, src_port UInt16, dst_port UInt16, proto UInt8`;
const WINDOW_COLUMNS = `source LowCardinality(String), window_start ${TIME}, window_end ${TIME}`;
/** When the row was stored: retention counts from here, so an old capture analysed today stays. */
const WRITTEN = `written_at DateTime64(3, 'UTC') DEFAULT now64(3)`;

export interface Migration {
  version: number;
  name: string;
  /** Statements, with {db} for the database and {ttl} for the retention clause. */
  statements: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'window tables',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.windows (${WINDOW_COLUMNS}, packets UInt64, bytes UInt64, late_packets UInt64,
        first_seen Nullable(${TIME}), last_seen Nullable(${TIME}), ${WRITTEN})
        ENGINE = MergeTree ORDER BY (window_start, source) {ttl}`,
      `CREATE TABLE IF NOT EXISTS {db}.window_tasks (${WINDOW_COLUMNS}, task LowCardinality(String), type LowCardinality(String),
        key_fields LowCardinality(String), second_fields LowCardinality(String), keys UInt64, stream_packets UInt64,
        stream_bytes UInt64, payload_bytes UInt64, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (task, window_start, source) {ttl}`,
      `CREATE TABLE IF NOT EXISTS {db}.exact_rows (${WINDOW_COLUMNS}, task LowCardinality(String), ${KEY_COLUMNS},
        packets UInt64, bytes UInt64, distinct_count UInt64, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (task, window_start, src_ip, dst_ip, src_port, dst_port, proto) {ttl}`,
      `CREATE TABLE IF NOT EXISTS {db}.heavy_hitters (${WINDOW_COLUMNS}, task LowCardinality(String), rank LowCardinality(String),
        ${KEY_COLUMNS}, packets UInt64, bytes UInt64, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (task, rank, window_start, src_ip, dst_ip) {ttl}`,
      `CREATE TABLE IF NOT EXISTS {db}.spreaders (${WINDOW_COLUMNS}, task LowCardinality(String), ${KEY_COLUMNS},
        spread UInt64, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (task, window_start, src_ip, dst_ip) {ttl}`,
      `CREATE TABLE IF NOT EXISTS {db}.ingest_stats (source LowCardinality(String), at ${TIME}, kind LowCardinality(String),
        packets UInt64, bytes UInt64, windows UInt64, details String, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (source, at) {ttl}`,
    ],
  },
  {
    version: 2,
    name: 'alert history',
    statements: [
      // Key, labels and enrichment as JSON text: read back whole, never filtered inside.
      `CREATE TABLE IF NOT EXISTS {db}.alerts (source LowCardinality(String), at ${TIME}, id String, rule LowCardinality(String),
        state LowCardinality(String), repeat UInt8, severity LowCardinality(String), summary String, description String,
        task LowCardinality(String), metric LowCardinality(String), op LowCardinality(String), threshold Float64,
        threshold_text String, value Float64, value_text String, key_text String, key_json String, labels_json String,
        starts_at ${TIME}, ends_at Nullable(${TIME}), window_start ${TIME}, window_end ${TIME}, enrichment_json String,
        enrichment_note String, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (at, rule, id) {ttl}`,
    ],
  },
  {
    version: 3,
    name: 'flow records',
    statements: [
      // One row per finished flow (or active-timeout slice), endpoint A in src_*. Times are null
      // when no packet carried one, hence nullable keys allowed; a time range never matches those.
      `CREATE TABLE IF NOT EXISTS {db}.flows (source LowCardinality(String), probe LowCardinality(String),
        interface LowCardinality(String), community_id Nullable(String), ${KEY_COLUMNS}, first_seen Nullable(${TIME}),
        last_seen Nullable(${TIME}), packets_ab UInt64, bytes_ab UInt64, packets_ba UInt64, bytes_ba UInt64,
        tcp_flags_ab LowCardinality(String), tcp_flags_ba LowCardinality(String), state LowCardinality(String),
        reason LowCardinality(String), vlan UInt16, direction LowCardinality(String), ${WRITTEN})
        ENGINE = MergeTree ORDER BY (first_seen, src_ip, dst_ip) {ttl} SETTINGS allow_nullable_key = 1`,
    ],
  },
  {
    version: 4,
    name: 'analysis runs and the quarantine',
    statements: [
      // A re-run of an analysis writes under a new run id and becomes visible at once when its
      // run row is written (queries read the latest run of each source; engines write run '').
      ...(['windows', 'window_tasks', 'exact_rows', 'heavy_hitters', 'spreaders', 'ingest_stats', 'alerts', 'flows'] as const).map(
        (t) => `ALTER TABLE {db}.${t} ADD COLUMN IF NOT EXISTS run LowCardinality(String) DEFAULT '' AFTER source`,
      ),
      `CREATE TABLE IF NOT EXISTS {db}.runs (source LowCardinality(String), run String, started_at DateTime64(3, 'UTC'),
        finished_at DateTime64(3, 'UTC'), details String, ${WRITTEN})
        ENGINE = MergeTree ORDER BY (source, run) {ttl}`,
      // Rows the store refused, or that it cannot hold, with the reason; the row as JSON.
      `CREATE TABLE IF NOT EXISTS {db}.quarantine (source LowCardinality(String), run LowCardinality(String),
        at DateTime64(3, 'UTC'), \`table\` LowCardinality(String), reason String, row String, ${WRITTEN})
        ENGINE = MergeTree ORDER BY at {ttl}`,
    ],
  },
  {
    version: 5,
    name: 'flow names, countries and autonomous systems',
    statements: [
      // What a flow's first payloads told: application, server name (SNI, Host, DNS query), ALPN;
      // and the endpoints' countries and autonomous systems from the configured MMDB files.
      `ALTER TABLE {db}.flows ADD COLUMN IF NOT EXISTS app LowCardinality(String) DEFAULT '' AFTER direction,
        ADD COLUMN IF NOT EXISTS server_name String DEFAULT '' AFTER app,
        ADD COLUMN IF NOT EXISTS alpn LowCardinality(String) DEFAULT '' AFTER server_name,
        ADD COLUMN IF NOT EXISTS src_country LowCardinality(String) DEFAULT '' AFTER alpn,
        ADD COLUMN IF NOT EXISTS dst_country LowCardinality(String) DEFAULT '' AFTER src_country,
        ADD COLUMN IF NOT EXISTS src_as UInt64 DEFAULT 0 AFTER dst_country,
        ADD COLUMN IF NOT EXISTS dst_as UInt64 DEFAULT 0 AFTER src_as,
        ADD COLUMN IF NOT EXISTS src_as_name LowCardinality(String) DEFAULT '' AFTER dst_as,
        ADD COLUMN IF NOT EXISTS dst_as_name LowCardinality(String) DEFAULT '' AFTER src_as_name`,
    ],
  },
  {
    version: 6,
    name: 'task keys on prefixes, AS, country, application, server name, ICMP type and code, TCP flags, DSCP, VLAN, direction and interface',
    statements: [
      // A prefix key writes its network in src_ip/dst_ip and its length here; a field outside
      // the task's key is 0 or empty (window_tasks.key_fields says which are in it).
      // One ALTER per table: each statement costs a store tens of milliseconds, at every first start.
      ...(['exact_rows', 'heavy_hitters', 'spreaders'] as const).map((t) =>
        `ALTER TABLE {db}.${t} ${[
          ['src_prefix_len', 'UInt8', 'proto'],
          ['dst_prefix_len', 'UInt8', 'src_prefix_len'],
          ['icmp_type', 'UInt8', 'dst_prefix_len'],
          ['icmp_code', 'UInt8', 'icmp_type'],
          ['tcp_flags', 'UInt8', 'icmp_code'],
          ['dscp', 'UInt8', 'tcp_flags'],
          ['vlan', 'UInt16', 'dscp'],
          ['src_as', 'UInt64', 'vlan'],
          ['dst_as', 'UInt64', 'src_as'],
          ['src_country', 'LowCardinality(String)', 'dst_as'],
          ['dst_country', 'LowCardinality(String)', 'src_country'],
          ['direction', 'LowCardinality(String)', 'dst_country'],
          ['app', 'LowCardinality(String)', 'direction'],
          ['server_name', 'String', 'app'],
          ['probe', 'LowCardinality(String)', 'server_name'],
          ['interface', 'LowCardinality(String)', 'probe'],
        ].map(([column, type, after]) => `ADD COLUMN IF NOT EXISTS ${column} ${type} DEFAULT ${type.includes('String') ? "''" : 0} AFTER ${after}`).join(', ')}`,
      ),
    ],
  },
];

/** The rows queries see: each analysed source's latest complete run (run ids begin with their
 * start time, so the greatest is the latest), and rows of no run (engines, and analyses stored
 * before runs existed) of sources that have none. */
export function visibleRuns(db: string): string {
  const runs = `${db}.runs`;
  return `((source, run) IN (SELECT source, max(run) FROM ${runs} GROUP BY source) OR (run = '' AND source NOT IN (SELECT source FROM ${runs})))`;
}

/** Statements (parameters source and run) that drop the rows of a source's runs before `run`
 * (and its rows of no run), once `run` is the one queries read. */
export function visibleRunsCleanup(db: string): string[] {
  return STORED_TABLES.filter((t) => t !== 'quarantine').map((t) => `DELETE FROM ${db}.${t} WHERE source = {source:String} AND run < {run:String}`);
}

/** Tables whose retention follows `storage.retention`. */
const RETAINED: readonly string[] = STORED_TABLES;

/** Creates the database, applies the migrations it has not seen yet, and sets the retention
 * (which may change between runs). Returns the versions applied now. `migrations` is for tests
 * that make an older store. */
export async function migrate(client: ClickHouseClient, db: string, retentionSeconds: number, migrations = MIGRATIONS): Promise<number[]> {
  const ttl = `TTL toDateTime(written_at) + INTERVAL ${Math.round(retentionSeconds)} SECOND`;
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String,
      applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version`,
  });
  const done = await client.query({ query: `SELECT version FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
  const have = new Set((await done.json<{ version: number }>()).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of migrations) {
    if (have.has(m.version)) continue;
    for (const s of m.statements) await client.command({ query: s.replaceAll('{db}', db).replaceAll('{ttl}', ttl) });
    await client.insert({ table: `${db}.schema_migrations`, values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    applied.push(m.version);
  }
  // A changed retention: only then, as modifying a TTL re-checks every stored part.
  const tables = await client.query({
    query: 'SELECT name, create_table_query FROM system.tables WHERE database = {db:String}',
    query_params: { db },
    format: 'JSONEachRow',
  });
  const created = new Map((await tables.json<{ name: string; create_table_query: string }>()).map((t) => [t.name, t.create_table_query]));
  const seconds = String(Math.round(retentionSeconds));
  for (const t of RETAINED) {
    // Absent only in a store an older version made (a test's): its migration sets the TTL.
    if (!created.has(t)) continue;
    if (!new RegExp(`\\b${seconds}\\b`).test(created.get(t)!)) {
      await client.command({ query: `ALTER TABLE ${db}.${t} MODIFY ${ttl}` });
    }
  }
  return applied;
}
