// Writers against real stores (embedded ClickHouse, and the server client through ClickHouse's
// HTTP interface over it): an outage spills to disk and is replayed in order into the store the
// rows were meant for; rows the store refuses are bisected out and quarantined with the reason,
// never blocking the rows behind them; times are stored exactly or quarantined; a re-run of an
// analysis replaces the earlier run's rows for queries; the JSON Lines writer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRows, storageRows, type CoreRows } from '../backend/index.js';
import { closedWindows, flowRecordRows, storeCapture } from '../testing/captures.js';
import { concat, epb, frameOf, idb, pcapFile, Rng, shb, spb, tsoffset } from '../testing/test-captures.js';
import { emptyRecord } from '../backend/js/record.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { startClickHouseHttp, type ClickHouseHttp } from '../testing/clickhouse-http.js';
import { connectStore, newRunId, openStore, openWindowStorage, spillBlock, storeIdentity, type Store, type WriterStats } from './index.js';
import { migrate, MIGRATIONS, visibleRuns } from './schema.js';
import { aggregateFlows, findTask, listFlowRecords } from './queries.js';
import type { FlowRecordJson } from '../flows/types.js';
import { StoreWriter } from './writer.js';

const pathspider = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const kakao = join(process.cwd(), '..', 'shared', 'pcaps', 'ndpi-KakaoTalk_talk.pcap');

/** Window snapshots (NSWS) of a capture in 60 s windows. */
async function snapshots(file = pathspider): Promise<Uint8Array[]> {
  const cfg = loadConfig({ overrides: { 'analyze.window': 60 } });
  return (await closedWindows(file, cfg)).map((w) => w.snapshot);
}

/** The storage rows of a window snapshot, written as `source`. */
function rowsOf(snapshot: Uint8Array, source: string, run = ''): CoreRows {
  return readRows(storageRows(snapshot, source, run));
}

/** Hand-made flow records of the core's shape, told apart by their source port. */
function flowRecords(n: number): FlowRecordJson[] {
  return Array.from({ length: n }, (_, i) => ({
    communityId: i % 2 ? null : '1:9j2Dzwrw7T9E+IZi4b4IVT66HBI=', srcIp: i % 3 ? '10.0.0.1' : '2001:db8::1', srcPort: 1000 + i,
    dstIp: i % 3 ? '192.0.2.1' : '2001:db8::2', dstPort: 53, proto: 17, protoName: 'UDP', service: 'domain', firstTime: `1700000000.${String(i).padStart(9, '0')}`,
    lastTime: '1700000010.000000000', packetsAtoB: 1, bytesAtoB: 80 + i, packetsBtoA: 1, bytesBtoA: 200, tcpFlagsAtoB: '', tcpFlagsBtoA: '',
    state: 'active', reason: 'idleTimeout', probe: 'p\t1', interface: 'eth0', vlan: 7, direction: 'outbound',
    app: 'DNS', serverName: i % 2 ? `host-${i}.example.com` : '', alpn: '',
    srcCountry: i % 2 ? 'DE' : '', dstCountry: '', srcAs: i % 2 ? 3320 : 0, dstAs: 0, srcAsName: i % 2 ? 'Deutsche Telekom AG' : '', dstAsName: '',
  }));
}

async function one<T>(store: Store, query: string): Promise<T> {
  const r = await store.client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } });
  return (await r.json<T>())[0];
}

async function count(store: Store, table: string, where = ''): Promise<number> {
  return Number((await one<{ n: string }>(store, `SELECT count() AS n FROM ${store.database}.${table} ${where}`)).n);
}

/** Stores the analysis of `file` as a run of `source`, as `analyze` does. */
async function analyzeInto(cfg: NetspectraConfig, file: string, source: string, store?: Store, log: (l: string) => void = () => {}): Promise<WriterStats & { windows: number }> {
  const started = Date.now();
  const storage = openWindowStorage(cfg.storage, { source, run: newRunId(started), store, log })!;
  const windows = await storeCapture(file, cfg, storage);
  if (windows) storage.complete(started, {});
  return { ...(await storage.close()), windows };
}

/** A UDP packet's Ethernet frame. */
function udpFrame(sport: number): Uint8Array {
  const r = emptyRecord();
  r.srcFamily = r.dstFamily = 4;
  r.src.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
  r.dst.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2]);
  r.proto = 17;
  r.srcPort = sport;
  r.dstPort = 53;
  return frameOf(r);
}

/** A pcapng capture of one interface with if_tsresol `resol` and if_tsoffset `offset` s; a
 * packet per timestamp (in units of the resolution), null for a simple packet (no time). */
function pcapng(resol: number, offset: bigint, units: (bigint | null)[]): Uint8Array {
  const options: [number, number[]][] = [[9, [resol]]];
  if (offset) options.push([14, tsoffset(false, offset)]);
  return concat([shb(false), idb(false, 1, 0, options), ...units.map((u, i) => (u === null ? spb(false, 60, udpFrame(1000 + i)) : epb(false, 0, u, udpFrame(1000 + i))))]);
}

describe('the server client through a store that goes down and comes back', () => {
  let dir: string;
  let ch: ClickHouseHttp;
  let cfg: NetspectraConfig;
  let windows: Uint8Array[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-server-'));
    ch = await startClickHouseHttp(join(dir, 'ch'));
    cfg = loadConfig({
      overrides: { 'storage.kind': 'clickhouse', 'storage.url': ch.url, 'storage.spillDir': join(dir, 'spill'), 'storage.batchRows': 500, 'storage.retryMax': '200ms', 'storage.flushInterval': '50ms' },
    });
    windows = await snapshots();
    assert.ok(windows.length > 30, 'many windows');
  });
  after(async () => {
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an outage spills every row; the next writer of that store replays them, each window once', async () => {
    ch.down();
    const lines: string[] = [];
    const outage = openWindowStorage(cfg.storage, { source: 'outage', log: (l) => lines.push(l) })!;
    for (const w of windows) outage.addRows(rowsOf(w, outage.source));
    const s = await outage.close();
    assert.deepEqual([s.rowsWritten, s.rowsLost, s.rowsQuarantined], [0, 0, 0], 'nothing written, lost or quarantined');
    assert.ok(s.spillRows > 0 && s.spillRows === s.rowsSpilled, 'every row is in the spill');
    assert.match(s.lastError ?? '', /503|Unavailable/);
    assert.ok(lines.some((l) => /cannot write to http:\/\/127\.0\.0\.1:\d+: .*spilling rows to/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /stay in .*spill; the next run replays them/.test(l)));
    const files = readdirSync(join(dir, 'spill'));
    assert.ok(files.length > 0 && files.every((f) => f.endsWith('.spill')));
    assert.equal(JSON.parse(readFileSync(join(dir, 'spill', files[0]), 'utf8').split('\n')[0]).store, `${ch.url} netspectra`, 'the spill names its store');

    ch.up();
    const r = await openWindowStorage(cfg.storage, { source: 'outage', log: (l) => lines.push(l) })!.close();
    assert.equal(r.rowsReplayed, s.spillRows, 'every spilled row replayed');
    assert.deepEqual([r.spillRows, readdirSync(join(dir, 'spill')).length], [0, 0]);
    const store = await openStore(cfg.storage);
    try {
      assert.equal(await count(store, 'windows', "WHERE source = 'outage'"), windows.length, 'each window stored once');
      const p = await one<{ p: string }>(store, `SELECT sum(packets) AS p FROM ${store.database}.windows WHERE source = 'outage'`);
      assert.equal(Number(p.p), 62_781, 'every packet of the capture');
    } finally {
      await store.close();
    }
  });

  test('a store that fails mid-run recovers in the same writer: the spill is replayed in order', async () => {
    const lines: string[] = [];
    const storage = openWindowStorage(cfg.storage, { source: 'recover', log: (l) => lines.push(l) })!;
    ch.down();
    for (const w of windows.slice(0, 10)) storage.addRows(rowsOf(w, storage.source));
    await storage.sink.flush();
    assert.ok(storage.sink.stats().spillRows > 0, 'spilled while down');
    ch.up();
    for (const w of windows.slice(10)) storage.addRows(rowsOf(w, storage.source));
    const deadline = Date.now() + 20_000;
    while (storage.sink.stats().spillRows > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const s = await storage.close();
    assert.deepEqual([s.spillRows, s.rowsLost], [0, 0]);
    assert.ok(s.rowsReplayed > 0);
    const store = await openStore(cfg.storage);
    try {
      assert.equal(await count(store, 'windows', "WHERE source = 'recover'"), windows.length);
      // In order: window starts were written oldest first.
      const order = await one<{ sorted: number }>(store, `SELECT arraySort(groupArray(window_start)) = groupArray(window_start) AS sorted
        FROM (SELECT window_start FROM ${store.database}.windows WHERE source = 'recover' ORDER BY written_at, window_start)`);
      assert.equal(Number(order.sorted), 1);
    } finally {
      await store.close();
    }
    assert.ok(lines.some((l) => /is writable again; the spill is replayed/.test(l)), lines.join('\n'));
  });

  test('a spill is replayed only into the store and database it was meant for', async () => {
    ch.down();
    const theirs = openWindowStorage(cfg.storage, { source: 'theirs', log: () => {} })!;
    for (const w of windows.slice(0, 5)) theirs.addRows(rowsOf(w, theirs.source));
    const spilled = (await theirs.close()).spillRows;
    assert.ok(spilled > 0);
    ch.up();
    // Another database of the same server, sharing the spill folder, leaves them alone.
    const lines: string[] = [];
    const other = loadConfig({ overrides: { ...overridesOf(cfg), 'storage.database': 'other' } });
    const o = await openWindowStorage(other.storage, { source: 'mine', log: (l) => lines.push(l) })!.close();
    assert.deepEqual([o.rowsReplayed, o.foreignSpillRows], [0, spilled]);
    assert.ok(lines.some((l) => l.includes(`${spilled} rows in ${join(dir, 'spill')} are meant for another store or database; they are left for it`)), lines.join('\n'));
    const r = await openWindowStorage(cfg.storage, { source: 'theirs', log: () => {} })!.close();
    assert.deepEqual([r.rowsReplayed, r.spillRows], [spilled, 0]);
  });

  test('flow records share the window rows path: an outage spills them, the next writer replays them', async () => {
    const records = flowRecords(30);
    ch.down();
    const outage = openWindowStorage(cfg.storage, { source: 'flows', log: () => {} })!;
    outage.addRows(flowRecordRows('flows', records.slice(0, 20)));
    outage.addRows(flowRecordRows('flows', records.slice(20)));
    const s = await outage.close();
    assert.deepEqual([s.rowsWritten, s.rowsLost, s.rowsSpilled, s.spillRows], [0, 0, 30, 30], 'every record spilled');
    assert.ok(readdirSync(join(dir, 'spill')).every((f) => f.endsWith('-flows.spill')));
    ch.up();
    const r = await openWindowStorage(cfg.storage, { source: 'flows', log: () => {} })!.close();
    assert.deepEqual([r.rowsReplayed, r.spillRows], [30, 0]);
    const store = await openStore(cfg.storage);
    try {
      const got = await listFlowRecords(store, { sort: 'first', dir: 'asc', limit: 100, offset: 0, source: 'flows' });
      assert.equal(got.total, 30);
      assert.deepEqual(got.flows, records, 'read back as the core emitted them (IPv4 and IPv6, nulls, nanoseconds, escapes)');
    } finally {
      await store.close();
    }
  });

  test('a re-analysis after one and two failed runs: queries see one run, whatever the spill held', async () => {
    const totals = async () => {
      const store = await openStore(cfg.storage);
      try {
        const task = await findTask(store, 'src_ip');
        const agg = await aggregateFlows(store, { task, filter: { source: 'analyze:kakao' }, groupBy: [], orderBy: 'packets', ascending: false, limit: 10_000, offset: 0 });
        const flows = await listFlowRecords(store, { sort: 'first', dir: 'asc', limit: 1, offset: 0, source: 'analyze:kakao' });
        return { packets: Number(agg.totals.packets), flows: flows.total };
      } finally {
        await store.close();
      }
    };
    const once = await analyzeInto(cfg, kakao, 'analyze:kakao');
    assert.deepEqual([once.spillRows, once.rowsQuarantined], [0, 0]);
    const one = await totals();
    assert.equal(one.packets, 3_203, 'tshark counts 3,203 packets');
    for (const failures of [1, 2]) {
      ch.down();
      for (let i = 0; i < failures; i++) {
        const failed = await analyzeInto(cfg, kakao, 'analyze:kakao');
        assert.ok(failed.spillRows > 0, 'the failed run waits in the spill');
        assert.deepEqual(await (async () => { ch.up(); const t = await totals(); ch.down(); return t; })(), one, 'still the earlier run');
      }
      ch.up();
      const again = await analyzeInto(cfg, kakao, 'analyze:kakao');
      assert.equal(again.spillRows, 0);
      assert.ok(again.rowsReplayed > 0, 'the failed runs were replayed first');
      assert.deepEqual(await totals(), one, `after ${failures} failed run(s): the totals of one run`);
    }
    const store = await openStore(cfg.storage);
    try {
      // Dropped in the background: queries stopped reading them when the run row was written.
      const all = () => count(store, 'windows', "WHERE source = 'analyze:kakao'");
      const visible = await count(store, 'windows', `WHERE source = 'analyze:kakao' AND ${visibleRuns(store.database)}`);
      for (const deadline = Date.now() + 10_000; (await all()) !== visible && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await all(), visible, 'earlier runs are dropped, not only hidden');
    } finally {
      await store.close();
    }
  });

  test('a full spill: what cannot be written nor spilled is counted as lost and logged once', async () => {
    ch.down();
    const small = loadConfig({ overrides: { ...overridesOf(cfg), 'storage.spillDir': join(dir, 'full'), 'storage.spillMax': '4KiB', 'storage.batchRows': 100 } });
    const lines: string[] = [];
    const storage = openWindowStorage(small.storage, { source: 'full', log: (l) => lines.push(l) })!;
    for (const w of windows) storage.addRows(rowsOf(w, storage.source));
    const s = await storage.close();
    ch.up();
    assert.ok(s.rowsLost > 0, 'rows lost');
    assert.ok(s.spillBytes <= 4096, 'the spill kept its limit');
    const rows = windows.reduce((a, w) => a + rowsOf(w, 'full').blocks.reduce((b, x) => b + x.rows, 0), 0);
    assert.equal(s.rowsLost + s.rowsSpilled, rows, 'every row is either spilled or counted lost');
    assert.equal(lines.filter((l) => /rows lost: the spill is full \(\d+ of 4096 bytes\); further losses are only counted/.test(l)).length, 1, lines.join('\n'));
  });
});

function overridesOf(cfg: NetspectraConfig): Record<string, unknown> {
  const s = cfg.storage;
  return { 'storage.kind': s.kind, 'storage.url': s.url, 'storage.spillDir': s.spillDir, 'storage.batchRows': s.batchRows, 'storage.retryMax': `${s.retryMax * 1000}ms`, 'storage.flushInterval': `${s.flushInterval * 1000}ms` };
}

describe('the embedded store', () => {
  let dir: string;
  let cfg: NetspectraConfig;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-embedded-'));
    cfg = loadConfig({ overrides: { 'storage.path': join(dir, 'data'), 'analyze.window': 60 } });
    store = await openStore(cfg.storage);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ns = async (source: string, column = 'window_start') =>
    (await one<{ t: string | null }>(store, `SELECT toString(toUnixTimestamp64Nano(min(${column}))) AS t FROM ${store.database}.windows WHERE source = '${source}'`)).t;

  test('times are stored exactly down to the nanosecond, from 1970 to the last one DateTime64(9) holds; later ones are quarantined with the reason', async () => {
    const max = (1n << 63n) - 1n;
    const cases: { name: string; bytes: Uint8Array; stored?: string; quarantined?: RegExp; untimed?: boolean }[] = [
      { name: 'zero', bytes: pcapFile(false, true, 1, [{ sec: 0, frac: 0, data: udpFrame(1) }]), stored: '0' },
      { name: 'before-1973', bytes: pcapFile(false, true, 1, [{ sec: 99_999_999, frac: 250_000_000, data: udpFrame(1) }]), stored: '99999999250000000' },
      { name: 'pcap-last', bytes: pcapFile(false, true, 1, [{ sec: 0xffffffff, frac: 999_999_999, data: udpFrame(1) }]), stored: '4294967295999999999' },
      { name: 'last-ns', bytes: pcapng(9, 0n, [max]), stored: String(max) },
      { name: 'negative-offset', bytes: pcapng(9, -100n, [150_000_000_001n]), stored: '50000000001' },
      { name: 'past-2262', bytes: pcapng(9, 0n, [max + 1n]), quarantined: /window_start 9223372036\.854775808 s is past 2262-04-11T23:47:16\.854775807Z/ },
      { name: 'u64-last', bytes: pcapng(0, 0n, [18_446_744_073n]), quarantined: /window_start 18446744073\.000000000 s is past 2262/ },
      // Past u64 nanoseconds (2554), or before 1970: the packets are counted without a time.
      { name: 'past-2554', bytes: pcapng(0, 0n, [1n << 40n]), stored: '0', untimed: true },
      { name: 'before-1970', bytes: pcapng(9, -100n, [3n]), stored: '0', untimed: true },
      { name: 'untimed', bytes: pcapng(9, 0n, [null, null]), stored: '0', untimed: true },
    ];
    // One window per capture: its start is its first packet's time.
    const whole = loadConfig({ overrides: { 'storage.path': cfg.storage.path, 'analyze.window': 0 } });
    for (const c of cases) {
      const file = join(dir, `${c.name}.pcapng`);
      writeFileSync(file, c.bytes);
      const s = await analyzeInto(whole, file, c.name, store);
      assert.equal(s.spillRows + s.rowsLost, 0, `${c.name}: nothing spilled or lost`);
      if (c.stored !== undefined) {
        assert.equal(s.rowsQuarantined, 0, `${c.name}: nothing quarantined`);
        assert.equal(await ns(c.name), c.stored, `${c.name}: window start`);
        assert.equal(await ns(c.name, 'first_seen'), c.untimed ? null : c.stored, `${c.name}: first packet`);
      } else {
        assert.ok(s.rowsQuarantined > 0, `${c.name}: quarantined`);
        assert.ok(Object.keys(s.quarantineReasons).some((r) => c.quarantined!.test(r)), `${c.name}: ${JSON.stringify(s.quarantineReasons)}`);
        assert.equal(await count(store, 'windows', `WHERE source = '${c.name}'`), 0);
        const q = await one<{ n: string; reason: string; row: string }>(store, `SELECT count() AS n, any(reason) AS reason, any(row) AS row FROM ${store.database}.quarantine WHERE source = '${c.name}' AND table = 'windows'`);
        assert.equal(Number(q.n), 1, `${c.name}: the window row is in the quarantine`);
        assert.match(q.reason, c.quarantined!);
        assert.equal(JSON.parse(q.row).source, c.name, 'the row kept whole, as JSON');
      }
    }
    const good = await analyzeInto(cfg, pathspider, 'after-the-bad-ones', store);
    assert.deepEqual([good.spillRows, good.rowsQuarantined, good.rowsLost], [0, 0, 0]);
    assert.equal(await count(store, 'windows', "WHERE source = 'after-the-bad-ones'"), good.windows, 'a good capture after them is stored whole');
  });

  test('rows the store refuses are bisected out: the others are stored, the refused ones quarantined with the reason, logged once', async () => {
    // A store whose administrator constrained a table: it refuses some rows and takes the rest.
    await store.client.command({ query: `ALTER TABLE ${store.database}.exact_rows ADD CONSTRAINT few_packets CHECK packets < 100` });
    try {
      const lines: string[] = [];
      const s = await analyzeInto(cfg, pathspider, 'constrained', store, (l) => lines.push(l));
      const stored = await count(store, 'exact_rows', "WHERE source = 'constrained'");
      const refused = await count(store, 'quarantine', "WHERE source = 'constrained' AND table = 'exact_rows'");
      assert.ok(refused > 0 && stored > 1000, `${refused} refused, ${stored} stored`);
      assert.equal(s.rowsQuarantined, refused);
      const want = await one<{ n: string }>(store, `SELECT count() AS n FROM ${store.database}.exact_rows WHERE source = 'after-the-bad-ones'`);
      assert.equal(stored + refused, Number(want.n), 'every row stored or quarantined');
      const reasons = Object.keys(s.quarantineReasons);
      assert.ok(reasons.every((r) => /^the store refused the row: .*few_packets/.test(r)), reasons.join('\n'));
      assert.equal(lines.filter((l) => /exact_rows rows quarantined/.test(l)).length, reasons.length, lines.join('\n'));
      assert.deepEqual([s.spillRows, s.failedInserts], [0, 0], 'bad data is not an outage: nothing spilled, nothing retried');
      assert.ok(await count(store, 'windows', "WHERE source = 'constrained'") > 0, 'the other tables are whole');
    } finally {
      await store.client.command({ query: `ALTER TABLE ${store.database}.exact_rows DROP CONSTRAINT few_packets` });
    }
  });

  test('a damaged spill file never blocks: its whole rows are stored, the damaged rest quarantined, later rows follow', async () => {
    const spill = join(cfg.storage.path, 'spill');
    const rows = rowsOf((await snapshots(kakao))[0], 'damaged');
    const exact = rows.blocks.find((b) => b.table === 'exact_rows')!;
    // Rows spilled for this store (by a process that could not reach it).
    spillBlock(spill, storeIdentity(store), exact);
    const writer = new StoreWriter(store, {
      batchRows: 1_000_000, flushIntervalMs: 3_600_000, retryMaxMs: 100, spillDir: spill, spillMaxBytes: 1024 ** 3,
      stagingDir: join(cfg.storage.path, 'staging'), prepare: async () => {}, log: () => {},
    });
    const [file] = readdirSync(spill).filter((f) => f.endsWith('.spill'));
    // Cut the file in the middle of a row.
    const raw = readFileSync(join(spill, file));
    writeFileSync(join(spill, file), raw.subarray(0, raw.length - 7));
    for (const b of rows.blocks.filter((x) => x.table !== 'exact_rows')) writer.addBlock(b);
    await writer.close();
    const s = writer.stats();
    assert.deepEqual([s.spillRows, s.rowsLost], [0, 0]);
    assert.equal(s.rowsQuarantined, 1);
    assert.match(Object.keys(s.quarantineReasons)[0], /^damaged rows: RowBinary: \w+ needs \d+ bytes at offset \d+/);
    assert.equal(await count(store, 'exact_rows', "WHERE source = 'damaged'"), exact.rows - 1);
    assert.equal(await count(store, 'windows', "WHERE source = 'damaged'"), 1, 'rows after the damaged file are stored');
  });

  test('spill files of an earlier version are moved aside, counted, not replayed', async () => {
    const spill = join(cfg.storage.path, 'spill');
    writeFileSync(join(spill, '000001700000000-000000001-12-windows.tsv'), 'old\t0\t60\t1\t1\t0\t\\N\t\\N\n');
    const lines: string[] = [];
    const s = await openWindowStorage(cfg.storage, { source: 'x', store, log: (l) => lines.push(l) })!.close();
    assert.equal(s.rowsQuarantined, 12);
    assert.deepEqual(readdirSync(join(cfg.storage.path, 'spill-unreplayable')), ['000001700000000-000000001-12-windows.tsv']);
    assert.ok(lines.some((l) => /1 spill file\(s\) of an earlier version \(12 rows\) moved to/.test(l)), lines.join('\n'));
  });

  test('mutated capture timestamps: whatever a capture says, a good capture after it is stored', async () => {
    const rng = new Rng(2024);
    const good = await analyzeInto(cfg, kakao, 'fuzz-good', store);
    const wanted = await count(store, 'exact_rows', "WHERE source = 'fuzz-good'");
    for (let i = 0; i < 24; i++) {
      const u64 = () => (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
      const pick = rng.below(4);
      const bytes =
        pick === 0
          ? pcapFile(rng.chance(0.5), rng.chance(0.5), 1, Array.from({ length: 3 }, () => ({ sec: rng.u32(), frac: rng.u32(), data: udpFrame(rng.below(60000)) })))
          : pcapng(rng.pick([0, 1, 3, 6, 9, 12, 19, 0x80 | rng.below(64)]), rng.chance(0.5) ? BigInt.asIntN(64, u64()) : 0n, Array.from({ length: 3 }, () => (rng.chance(0.2) ? null : pick === 1 ? u64() : BigInt(rng.u32()))));
      const file = join(dir, `fuzz-${i}.pcapng`);
      writeFileSync(file, bytes);
      const bad = await analyzeInto(cfg, file, `fuzz-${i}`, store);
      assert.equal(bad.spillRows + bad.rowsLost, 0, `capture ${i}: nothing waits or is lost`);
      const again = await analyzeInto(cfg, kakao, 'fuzz-good', store);
      assert.deepEqual([again.spillRows, again.rowsQuarantined], [0, 0], `after capture ${i}`);
      assert.equal(await count(store, 'exact_rows', `WHERE source = 'fuzz-good' AND ${visibleRuns(store.database)}`), wanted, `after capture ${i}: the good capture's rows`);
    }
    assert.equal(good.rowsQuarantined, 0);
  });

  test('rows waiting for their insert are staged on disk, not held in memory, and all stored in one insert per table', async () => {
    const lines: string[] = [];
    const staging = join(dir, 'staging-test');
    const writer = new StoreWriter(store, {
      batchRows: 1_000_000, flushIntervalMs: 3_600_000, retryMaxMs: 100, spillDir: join(dir, 'staging-spill'), spillMaxBytes: 1024 ** 3,
      stagingDir: staging, prepare: async () => {}, log: (l) => lines.push(l),
    });
    const windows = await snapshots();
    // Added without yielding, as an offline analysis does: no insert can run meanwhile.
    let bytes = 0;
    const tables = new Set<string>();
    for (const w of windows) {
      for (const b of rowsOf(w, 'staged').blocks) {
        writer.addBlock(b);
        bytes += b.data.length;
        tables.add(b.table);
      }
    }
    const staged = readdirSync(staging);
    assert.equal(staged.length, tables.size, 'one staging file per table');
    assert.equal(staged.reduce((n, f) => n + statSync(join(staging, f)).size, 0), bytes, 'every row on disk');
    await writer.close();
    const s = writer.stats();
    assert.deepEqual([s.inserts, s.rowsSpilled, s.spillRows, s.rowsLost, s.failedInserts], [tables.size, 0, 0, 0, 0]);
    assert.equal(await count(store, 'windows', "WHERE source = 'staged'"), windows.length);
    assert.deepEqual(readdirSync(staging), [], 'the staging files are gone once inserted');
    assert.deepEqual(lines, [], 'nothing to report: the store never failed');
  });

  test('staging files a crashed process left are removed, and said', async () => {
    const staging = join(dir, 'staging-orphans');
    mkdirSync(staging, { recursive: true });
    // A pid that is not running (the highest a Linux pid can be, plus one).
    writeFileSync(join(staging, '4194305-0-flows.bin'), Buffer.alloc(100));
    writeFileSync(join(staging, `${process.pid}-999999-flows.bin`), Buffer.alloc(10));
    const lines: string[] = [];
    const writer = new StoreWriter(store, {
      batchRows: 10, flushIntervalMs: 3_600_000, retryMaxMs: 100, spillDir: join(dir, 'orphan-spill'), spillMaxBytes: 1024 ** 3,
      stagingDir: staging, prepare: async () => {}, log: (l) => lines.push(l),
    });
    await writer.close();
    assert.deepEqual(readdirSync(staging), [`${process.pid}-999999-flows.bin`], 'only the gone process\'s file');
    assert.ok(lines.some((l) => /removed 1 staging file\(s\) \(100 bytes\)/.test(l)), lines.join('\n'));
  });
});

test('migrations 4 to 6 on a store at version 3 add runs, the quarantine, flow names and key dimensions; rows stored before stay visible', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-migrate4-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.path': dir } });
    const store = connectStore(cfg.storage);
    try {
      const db = store.database;
      assert.deepEqual(await migrate(store.client, db, cfg.storage.retention, MIGRATIONS.filter((m) => m.version <= 3)), [1, 2, 3]);
      await store.client.command({ query: `INSERT INTO ${db}.windows (source, window_start, window_end, packets, bytes, late_packets) VALUES ('old', 0, 60, 5, 500, 0)` });
      await store.client.command({ query: `INSERT INTO ${db}.flows (source, family, src_port, dst_port, proto, packets_ab) VALUES ('old', 4, 40000, 443, 6, 3)` });
      await store.client.command({ query: `INSERT INTO ${db}.exact_rows (source, task, window_start, window_end, family, dst_port, proto, packets, bytes) VALUES ('old', 'ports', 0, 60, 4, 443, 6, 7, 700)` });
      assert.deepEqual(await migrate(store.client, db, cfg.storage.retention), [4, 5, 6]);
      assert.deepEqual(await migrate(store.client, db, cfg.storage.retention), [], 'applied once');
      assert.equal(await count(store, 'windows', `WHERE ${visibleRuns(db)}`), 1, 'the old rows stay, and are read');
      for (const t of ['runs', 'quarantine']) assert.equal(await count(store, t), 0, `${t} exists`);
      const d = await store.client.query({ query: `DESCRIBE TABLE ${db}.flows`, format: 'JSONEachRow' });
      const columns = await d.json<{ name: string; type: string }>();
      assert.ok(columns.some((c) => c.name === 'run' && c.type === 'LowCardinality(String)'));
      assert.ok(columns.some((c) => c.name === 'server_name' && c.type === 'String'));
      const old = await one<{ packets_ab: string; app: string; server_name: string }>(store, `SELECT packets_ab, app, server_name FROM ${db}.flows WHERE source = 'old'`);
      assert.deepEqual(old, { packets_ab: '3', app: '', server_name: '' }, 'a flow stored before names has none');
      const key = await one<Record<string, string | number>>(store, `SELECT dst_port, packets, dscp, vlan, src_prefix_len FROM ${db}.exact_rows WHERE source = 'old'`);
      assert.deepEqual(key, { dst_port: 443, packets: '7', dscp: 0, vlan: 0, src_prefix_len: 0 }, 'a key stored before the new fields has none of them');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tables the migrations make have exactly the columns the rows carry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-columns-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.path': dir } });
    const store = await openStore(cfg.storage);
    try {
      const { columnsOf, STORED_TABLES } = await import('./schema.js');
      for (const t of STORED_TABLES) {
        const d = await store.client.query({ query: `DESCRIBE TABLE ${store.database}.${t}`, format: 'JSONEachRow' });
        const stored = (await d.json<{ name: string; type: string }>()).filter((c) => c.name !== 'written_at').map((c) => `${c.name} ${c.type}`).sort();
        assert.deepEqual(stored, columnsOf(t).map(([n, ty]) => `${n} ${ty}`).sort(), t);
      }
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
      for (const t of ['exact_rows', 'runs', 'quarantine']) {
        const q = await one<{ q: string }>(store, `SELECT create_table_query AS q FROM system.tables WHERE database = '${store.database}' AND name = '${t}'`);
        assert.match(q.q, /7776000/, `${t}: the new retention`);
      }
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file writer appends JSON Lines per table, addresses and times as people write them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-files-'));
  try {
    const cfg = loadConfig({ overrides: { 'storage.kind': 'file', 'storage.path': dir } });
    const storage = openWindowStorage(cfg.storage, { source: 'files', log: () => {} })!;
    for (const w of await snapshots()) storage.addRows(rowsOf(w, storage.source));
    storage.addStats({ atMs: Date.UTC(2024, 0, 1), kind: 'analyze', packets: 62_781, bytes: 1, windows: 1, details: { note: 'tab\there' } });
    const at = '2012-11-23T18:00:38.421Z';
    storage.addAlert({
      id: 'a1', rule: 'busy', state: 'firing', repeat: false, severity: 'critical', summary: 'busy: pps 2.00 kpps > 1.00 kpps', description: '',
      task: '', metric: 'pps', op: '>', threshold: 1000, thresholdText: '1kpps', value: 2000, valueText: '2.00 kpps', key: {}, keyText: '',
      labels: { team: 'noc' }, startsAt: at, endsAt: null, at, windowStart: at, windowEnd: at, source: 'files',
    });
    storage.addRows(flowRecordRows('files', flowRecords(3)));
    await storage.close();
    const read = (t: string) => readFileSync(join(dir, `${t}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const windows = read('windows');
    assert.equal(windows.reduce((a, w) => a + (w.packets as number), 0), 62_781);
    assert.match(windows[0].window_start as string, /^2012-11-23T\d\d:\d\d:00\.000000000Z$/);
    const exact = read('exact_rows').filter((r) => r.task === 'src_ip');
    assert.ok(exact.some((r) => r.src_ip === '10.64.88.105' && r.family === 4 && r.dst_ip === ''));
    assert.deepEqual(JSON.parse(read('ingest_stats')[0].details as string), { note: 'tab\there' });
    assert.deepEqual(read('alerts').map((a) => [a.rule, a.state, a.severity, JSON.parse(a.labels_json as string), a.at]), [['busy', 'firing', 'critical', { team: 'noc' }, '2012-11-23T18:00:38.421000000Z']]);
    const flows = read('flows');
    assert.deepEqual(flows.map((f) => [f.src_ip, f.src_port, f.first_seen, f.community_id, f.probe]), flowRecords(3).map((r, i) => [r.srcIp, r.srcPort, `2023-11-14T22:13:20.00000000${i}Z`, r.communityId, 'p\t1']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
