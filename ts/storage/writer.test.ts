// Writers against real stores: an outage (a ClickHouse URL with nothing listening) spills to
// disk, and the spill is replayed into a live embedded store; the JSON Lines writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend, storageRows } from '../backend/index.js';
import { loadConfig } from '../config/index.js';
import { connectStore, openStore, openWindowStorage, type Store } from './index.js';
import { migrate, MIGRATIONS } from './schema.js';
import { listFlowRecords } from './queries.js';
import type { FlowRecordJson } from '../flows/types.js';
import { splitRows } from './rows.js';
import { StoreWriter } from './writer.js';

const capture = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');

/** Window snapshots of the capture in 60 s windows. */
function snapshots(): Uint8Array[] {
  const cfg = loadConfig({ overrides: { 'analyze.window': 60 } });
  const out: Uint8Array[] = [];
  analyzeFiles([capture], { backend: loadBackend(), config: cfg, onWindows: (s) => out.push(...s) });
  return out;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Hand-made flow records of the core's shape, told apart by their source port. */
function flowRecords(n: number): FlowRecordJson[] {
  return Array.from({ length: n }, (_, i) => ({
    communityId: i % 2 ? null : '1:9j2Dzwrw7T9E+IZi4b4IVT66HBI=', srcIp: i % 3 ? '10.0.0.1' : '2001:db8::1', srcPort: 1000 + i,
    dstIp: i % 3 ? '192.0.2.1' : '2001:db8::2', dstPort: 53, proto: 17, protoName: 'UDP', firstTime: `1700000000.${String(i).padStart(9, '0')}`,
    lastTime: '1700000010.000000000', packetsAtoB: 1, bytesAtoB: 80 + i, packetsBtoA: 1, bytesBtoA: 200, tcpFlagsAtoB: '', tcpFlagsBtoA: '',
    state: 'active', reason: 'idleTimeout', probe: 'p\t1', interface: 'eth0', vlan: 7, direction: 'outbound',
  }));
}

async function count(store: Store, table: string): Promise<number> {
  const r = await store.client.query({ query: `SELECT count() AS n, sum(packets) AS p FROM ${store.database}.${table}`, format: 'JSONEachRow' });
  return Number((await r.json<{ n: string }>())[0].n);
}

test('an unreachable store: rows spill to disk, are counted, and are replayed into a live store on recovery', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-outage-'));
  try {
    const windows = snapshots();
    assert.ok(windows.length > 30, 'many windows');
    const lines: string[] = [];
    const down = loadConfig({
      overrides: { 'storage.kind': 'clickhouse', 'storage.url': `http://127.0.0.1:${await freePort()}`, 'storage.spillDir': join(dir, 'spill'), 'storage.batchRows': 500, 'storage.retryMax': '200ms' },
    });
    const outage = openWindowStorage(down.storage, { source: 'outage', log: (l) => lines.push(l) })!;
    for (const w of windows) outage.addWindow(w);
    const s = await outage.close();
    assert.equal(s.rowsWritten, 0);
    assert.equal(s.rowsLost, 0, 'nothing lost');
    assert.ok(s.spillRows > 0 && s.spillRows === s.rowsSpilled, 'every row is in the spill');
    assert.ok(s.failedInserts > 0);
    assert.match(s.lastError ?? '', /ECONNREFUSED|connect/i);
    assert.ok(lines.some((l) => /cannot write to http:\/\/127\.0\.0\.1:\d+: .*spilling rows to/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /stay in .*spill; the next run replays them/.test(l)));
    assert.ok(readdirSync(join(dir, 'spill')).length > 0);

    // The store is back (a live embedded one, sharing the spill folder): the next writer replays.
    const up = loadConfig({ overrides: { 'storage.path': join(dir, 'store'), 'storage.spillDir': join(dir, 'spill') } });
    const recovered = openWindowStorage(up.storage, { source: 'outage', log: (l) => lines.push(l) })!;
    const r = await recovered.close();
    assert.equal(r.rowsReplayed, s.spillRows, 'every spilled row replayed');
    assert.equal(r.spillRows, 0);
    assert.deepEqual(readdirSync(join(dir, 'spill')), []);
    const store = await openStore(up.storage);
    try {
      assert.equal(await count(store, 'windows'), windows.length, 'each window stored once');
      const r2 = await store.client.query({ query: `SELECT sum(packets) AS p FROM ${store.database}.windows`, format: 'JSONEachRow' });
      assert.equal(Number((await r2.json<{ p: string }>())[0].p), 62_781, 'every packet of the capture');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store that fails mid-run recovers in the same writer: the spill is replayed in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-recover-'));
  try {
    const windows = snapshots();
    const cfg = loadConfig({ overrides: { 'storage.path': join(dir, 'store'), 'storage.batchRows': 200, 'storage.retryMax': '100ms', 'storage.flushInterval': '50ms' } });
    const live = await openStore(cfg.storage);
    // The writer's store starts as a server URL with nothing listening, then becomes the live one.
    const dead = connectStore({ ...cfg.storage, kind: 'clickhouse', url: `http://127.0.0.1:${await freePort()}` });
    const store: Store = { ...dead, client: dead.client };
    const lines: string[] = [];
    const storage = openWindowStorage(cfg.storage, { source: 'recover', log: (l) => lines.push(l), store })!;
    for (const w of windows.slice(0, 10)) storage.addWindow(w);
    await storage.sink.flush();
    assert.ok(storage.sink.stats().spillRows > 0, 'spilled while down');
    store.client = live.client;
    for (const w of windows.slice(10)) storage.addWindow(w);
    const deadline = Date.now() + 20_000;
    while (storage.sink.stats().spillRows > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const s = await storage.close();
    assert.equal(s.spillRows, 0);
    assert.equal(s.rowsLost, 0);
    assert.ok(s.rowsReplayed > 0);
    assert.equal(await count(live, 'windows'), windows.length);
    assert.ok(lines.some((l) => /is writable again; the spill is replayed/.test(l)), lines.join('\n'));
    await dead.close();
    await live.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rows beyond the memory bound go through the spill and are all stored, without an outage reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-memory-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.path': join(dir, 'store') } });
    const store = await openStore(cfg.storage);
    const lines: string[] = [];
    const writer = new StoreWriter(store, {
      batchRows: 1_000_000, flushIntervalMs: 3_600_000, retryMaxMs: 100, spillDir: join(dir, 'spill'), spillMaxBytes: 1024 ** 3,
      maxPendingBytes: 4096, prepare: () => migrate(store.client, store.database, cfg.storage.retention).then(() => {}), log: (l) => lines.push(l),
    });
    const windows = snapshots();
    // Added without yielding, as an offline analysis does: no insert can run meanwhile.
    for (const w of windows) writer.addRows(storageRows(w, 'memory'));
    assert.ok(writer.stats().rowsSpilled > 0, 'spilled for memory');
    await writer.close();
    const s = writer.stats();
    assert.equal(s.rowsReplayed, s.rowsSpilled);
    assert.deepEqual([s.spillRows, s.rowsLost, s.failedInserts], [0, 0, 0]);
    assert.equal(await count(store, 'windows'), windows.length);
    assert.deepEqual(lines, [], 'nothing to report: the store never failed');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full spill: what cannot be written nor spilled is counted as lost and logged once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-full-'));
  try {
    const cfg = loadConfig({
      overrides: { 'storage.kind': 'clickhouse', 'storage.url': `http://127.0.0.1:${await freePort()}`, 'storage.spillDir': dir, 'storage.spillMax': '2KiB', 'storage.batchRows': 100 },
    });
    const lines: string[] = [];
    const storage = openWindowStorage(cfg.storage, { source: 'full', log: (l) => lines.push(l) })!;
    const windows = snapshots();
    for (const w of windows) storage.addWindow(w);
    const s = await storage.close();
    assert.ok(s.rowsLost > 0, 'rows lost');
    assert.ok(s.spillBytes <= 2048, 'the spill kept its limit');
    const rows = windows.reduce((a, w) => a + splitRows(storageRows(w, 'full')).reduce((b, x) => b + x.rows, 0), 0);
    assert.equal(s.rowsLost + s.rowsSpilled, rows, 'every row is either spilled or counted lost');
    assert.equal(s.spillRows, s.rowsSpilled);
    assert.equal(lines.filter((l) => /rows lost: the spill is full \(\d+ of 2048 bytes\); further losses are only counted/.test(l)).length, 1, lines.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flow records share the window rows path: an outage spills them, the next run replays them into the store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-flows-outage-'));
  try {
    const records = flowRecords(30);
    const down = loadConfig({ overrides: { 'storage.kind': 'clickhouse', 'storage.url': `http://127.0.0.1:${await freePort()}`, 'storage.spillDir': join(dir, 'spill'), 'storage.batchRows': 10 } });
    const outage = openWindowStorage(down.storage, { source: 'flows', log: () => {} })!;
    outage.addFlows(records.slice(0, 20));
    outage.addFlows(records.slice(20));
    assert.throws(() => outage.addFlows([{ ...records[0], firstTime: '1700000000.5' }]), /^Error: flow record 0: firstTime "1700000000.5" is not null or epoch seconds with 9 decimals$/);
    const s = await outage.close();
    assert.deepEqual([s.rowsWritten, s.rowsLost, s.rowsSpilled, s.spillRows], [0, 0, 30, 30], 'every record spilled, the malformed one taken by none');
    assert.ok(readdirSync(join(dir, 'spill')).every((f) => f.endsWith('-flows.tsv')));

    const up = loadConfig({ overrides: { 'storage.path': join(dir, 'store'), 'storage.spillDir': join(dir, 'spill') } });
    const r = await openWindowStorage(up.storage, { source: 'flows', log: () => {} })!.close();
    assert.deepEqual([r.rowsReplayed, r.spillRows], [30, 0]);
    const store = await openStore(up.storage);
    try {
      const got = await listFlowRecords(store, { sort: 'first', dir: 'asc', limit: 100, offset: 0 });
      assert.equal(got.total, 30);
      assert.deepEqual(got.flows, records, 'read back as the core emitted them (IPv4 and IPv6, nulls, nanoseconds, escapes)');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 3 on a store at version 2 adds the flows table and leaves the stored rows alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-migrate3-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.path': dir } });
    const store = connectStore(cfg.storage);
    try {
      const db = store.database;
      assert.deepEqual(await migrate(store.client, db, cfg.storage.retention, MIGRATIONS.filter((m) => m.version <= 2)), [1, 2]);
      await store.client.command({ query: `INSERT INTO ${db}.windows (source, window_start, window_end, packets, bytes, late_packets) VALUES ('old', 0, 60, 5, 500, 0)` });
      const tables = async () => (await (await store.client.query({ query: `SELECT name FROM system.tables WHERE database = '${db}' ORDER BY name`, format: 'JSONEachRow' })).json<{ name: string }>()).map((t) => t.name);
      assert.ok(!(await tables()).includes('flows'));
      assert.deepEqual(await migrate(store.client, db, cfg.storage.retention), [3]);
      assert.deepEqual(await migrate(store.client, db, cfg.storage.retention), [], 'applied once');
      assert.ok((await tables()).includes('flows'));
      assert.equal(await count(store, 'windows'), 1, 'the old rows stay');
      const t = await store.client.query({ query: `SELECT create_table_query AS q FROM system.tables WHERE database = '${db}' AND name = 'flows'`, format: 'JSONEachRow' });
      const ddl = (await t.json<{ q: string }>())[0].q;
      assert.match(ddl, new RegExp(`TTL toDateTime\\(written_at\\) \\+ toIntervalSecond\\(${cfg.storage.retention}\\)`));
      assert.match(ddl, /`src_ip` IPv6/);
      assert.match(ddl, /`first_seen` Nullable\(DateTime64\(9, 'UTC'\)\)/);
      assert.match(ddl, /ORDER BY \(first_seen, src_ip, dst_ip\)/);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations are versioned, applied once, and a changed retention becomes the tables TTL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-migrate-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.path': dir, 'storage.retention': '7d' } });
    await (await openStore(cfg.storage)).close();
    const store = await openStore({ ...cfg.storage, retention: 90 * 86_400 });
    try {
      const v = await store.client.query({ query: `SELECT version FROM ${store.database}.schema_migrations ORDER BY version`, format: 'JSONEachRow' });
      assert.deepEqual((await v.json<{ version: number }>()).map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version));
      const t = await store.client.query({ query: `SELECT create_table_query AS q FROM system.tables WHERE database = '${store.database}' AND name = 'exact_rows'`, format: 'JSONEachRow' });
      const ddl = (await t.json<{ q: string }>())[0].q;
      assert.match(ddl, /7776000/, 'the new retention');
      assert.match(ddl, /IPv6/);
      assert.match(ddl, /DateTime64\(9, 'UTC'\)/);
      assert.match(ddl, /LowCardinality\(String\)/);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file writer appends JSON Lines per table, addresses as people write them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-files-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.kind': 'file', 'storage.path': dir } });
    const storage = openWindowStorage(cfg.storage, { source: 'files', log: () => {} })!;
    for (const w of snapshots()) storage.addWindow(w);
    storage.addStats({ atMs: Date.UTC(2024, 0, 1), kind: 'analyze', packets: 62_781, bytes: 1, windows: 1, details: { note: 'tab\there' } });
    const at = '2012-11-23T18:00:38.421Z';
    storage.addAlert({
      id: 'a1', rule: 'busy', state: 'firing', repeat: false, severity: 'critical', summary: 'busy: pps 2.00 kpps > 1.00 kpps', description: '',
      task: '', metric: 'pps', op: '>', threshold: 1000, thresholdText: '1kpps', value: 2000, valueText: '2.00 kpps', key: {}, keyText: '',
      labels: { team: 'noc' }, startsAt: at, endsAt: null, at, windowStart: at, windowEnd: at, source: 'files',
    });
    storage.addFlows(flowRecords(3));
    await storage.close();
    const read = (t: string) => readFileSync(join(dir, `${t}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const windows = read('windows');
    assert.equal(windows.reduce((a, w) => a + (w.packets as number), 0), 62_781);
    assert.match(windows[0].window_start as string, /^2012-11-23T\d\d:\d\d:00\.000000000Z$/);
    const exact = read('exact_rows').filter((r) => r.task === 'src_ip');
    assert.ok(exact.some((r) => r.src_ip === '10.64.88.105' && r.family === 4 && r.dst_ip === ''));
    assert.equal(read('ingest_stats')[0].kind, 'analyze');
    assert.deepEqual(read('alerts').map((a) => [a.rule, a.state, a.severity, a.labels]), [['busy', 'firing', 'critical', { team: 'noc' }]]);
    assert.deepEqual(read('flows'), flowRecords(3).map((r) => ({ source: 'files', ...r })), 'flow records as the core emits them');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
