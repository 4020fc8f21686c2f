// The stored tables and their versioned migrations. Rows are per window, never re-written:
// queries sum windows over a time range. Times are DateTime64 in UTC, addresses IPv6 (IPv4
// mapped, with the family beside them so IPv4 prints as a dotted quad again).
import type { ClickHouseClient } from '@clickhouse/client';

/** Tables the window rows go to, in the order of the rows buffer (crates/core/src/engine/rows.rs). */
export const ROW_TABLES = ['windows', 'window_tasks', 'exact_rows', 'heavy_hitters', 'spreaders'] as const;
export type RowTable = (typeof ROW_TABLES)[number];
/** Every table writers fill: the window rows, run/ingest statistics, alert history and flow records. */
export type StoredTable = RowTable | 'ingest_stats' | 'alerts' | 'flows';

const KEY = ['family', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'proto'];
const WINDOW = ['source', 'window_start', 'window_end'];

/** Columns of each table in the order the rows carry them. */
export const COLUMNS: Record<StoredTable, string[]> = {
  windows: [...WINDOW, 'packets', 'bytes', 'late_packets', 'first_seen', 'last_seen'],
  window_tasks: [...WINDOW, 'task', 'type', 'key_fields', 'second_fields', 'keys', 'stream_packets', 'stream_bytes', 'payload_bytes'],
  exact_rows: [...WINDOW, 'task', ...KEY, 'packets', 'bytes', 'distinct_count'],
  heavy_hitters: [...WINDOW, 'task', 'rank', ...KEY, 'packets', 'bytes'],
  spreaders: [...WINDOW, 'task', ...KEY, 'spread'],
  ingest_stats: ['source', 'at', 'kind', 'packets', 'bytes', 'windows', 'details'],
  alerts: [
    'source', 'at', 'id', 'rule', 'state', 'repeat', 'severity', 'summary', 'description', 'task', 'metric', 'op',
    'threshold', 'threshold_text', 'value', 'value_text', 'key_text', 'key_json', 'labels_json', 'starts_at', 'ends_at',
    'window_start', 'window_end', 'enrichment_json', 'enrichment_note',
  ],
  flows: [
    'source', 'probe', 'interface', 'community_id', ...KEY, 'first_seen', 'last_seen', 'packets_ab', 'bytes_ab', 'packets_ba',
    'bytes_ba', 'tcp_flags_ab', 'tcp_flags_ba', 'state', 'reason', 'vlan', 'direction',
  ],
};

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
];

/** Tables whose retention follows `storage.retention`. */
const RETAINED = Object.keys(COLUMNS);

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
