// The ClickHouse storage layer, embedded (chdb): ingest of window rows and the latency of the
// queries the API runs.
//
// Ingest: synthetic traffic from the engine's generator (50,000 internal hosts; several runs,
// each with its own seed and its own stretch of time, so windows never overlap) is analysed in
// 1 s windows with the default tasks (and an exact task beside every sketch), and every closed
// window goes to the store through openWindowStorage, until at least --rows rows are stored
// (default 10,000,000). Time is kept apart per stage: generating, analysing, addWindow (rows out
// of the snapshot, buffering) and the inserts (awaited when a batch is full, and the close).
// The timer flush is pushed out of the way so inserts never overlap analysis: the store's share
// is then exactly the time spent in addWindow and awaiting inserts.
//
// Queries: the store is opened again (openStore) and each query runs 2 times to warm up, then
// --runs times (default 30); p50 and p99 latency in ms.
//
// Prints a table and writes bench/results/storage.json. The data folder is a temporary folder,
// removed at the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAnalyzer } from '../ts/analyze/analyze-files.js';
import { createTrafficSource, loadBackend, readClosedWindow } from '../ts/backend/index.js';
import { loadConfig } from '../ts/config/index.js';
import { openStore, openWindowStorage, type Store, type WriterStats } from '../ts/storage/index.js';
import { aggregateFlows, listTasks, topHeavyHitters, topSpreaders, traceFlow, windowSeries, type Key, type Range, type TaskInfo } from '../ts/storage/queries.js';
import { apiLoad, benchRoutes, type ApiLoad } from './api-load.js';
import { CORE_TABLES } from '../ts/storage/schema.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const TARGET_ROWS = Number(arg('rows') ?? 10_000_000);
const RUNS = Number(arg('runs') ?? 30);
const WARMUP = 2;
/** Seconds each API route is asked per level of concurrency. */
const API_SECONDS = Number(arg('api-seconds') ?? 4);
/** One traffic run: this many packets over this many seconds (about 0.75 rows per packet). */
const PACKETS_PER_RUN = 2_000_000;
const RUN_SECONDS = 120;
const HOSTS = 50_000;
const PACKETS_PER_CHUNK = 65_536;
/** Runs start this far apart: a run's windows end before the next run's begin. */
const RUN_SPACING_MS = (RUN_SECONDS + 60) * 1000;
const FIRST_START_MS = Date.UTC(2026, 0, 1);
const MAX_RUNS = 100;
const SOURCE = 'bench-storage';

const log = (line: string) => process.stderr.write(`${line}\n`);
const now = () => performance.now();
const grouped = (n: number) => Math.round(n).toLocaleString('en-US');

interface IngestResult {
  runs: number;
  packets: number;
  windows: number;
  rowsWritten: number;
  writer: WriterStats;
  /** Milliseconds per stage. */
  ms: { generate: number; analyze: number; addWindow: number; insert: number; wall: number };
}

async function ingest(dataPath: string): Promise<IngestResult> {
  const cfg = loadConfig({
    env: {},
    // The timer flush would start inserts in the background of the analysis; batches go by row
    // count (storage.batchRows) and are awaited, so each stage's time is its own.
    overrides: { 'storage.kind': 'embedded', 'storage.path': dataPath, 'storage.flushInterval': 3600, 'analyze.window': 1 },
  });
  const backend = loadBackend();
  const storage = openWindowStorage(cfg.storage, { source: SOURCE, log });
  if (!storage) throw new Error('storage.kind is none');
  const ms = { generate: 0, analyze: 0, addWindow: 0, insert: 0, wall: 0 };
  let packets = 0;
  let windows = 0;
  let runs = 0;
  const started = now();

  const store = (closed: Uint8Array[]) => {
    const t = now();
    for (const c of closed) storage.addRows(readClosedWindow(c).rows!);
    ms.addWindow += now() - t;
    windows += closed.length;
  };
  const insertFull = async () => {
    if (storage.sink.stats().pendingRows < cfg.storage.batchRows) return;
    const t = now();
    await storage.sink.flush();
    ms.insert += now() - t;
  };
  const stored = () => {
    const s = storage.sink.stats();
    return s.rowsWritten + s.pendingRows + s.spillRows;
  };

  while (stored() < TARGET_ROWS && runs < MAX_RUNS) {
    const { analyzer } = createAnalyzer(backend, cfg, true, { source: SOURCE, run: '' });
    const source = createTrafficSource({ seed: runs + 1, packets: PACKETS_PER_RUN, hosts: HOSTS, durationSeconds: RUN_SECONDS, startMs: FIRST_START_MS + runs * RUN_SPACING_MS }, backend);
    analyzer.beginFile(`run-${runs + 1}`);
    for (;;) {
      let t = now();
      const chunk = source.nextChunk(PACKETS_PER_CHUNK);
      ms.generate += now() - t;
      if (chunk.length === 0) break;
      t = now();
      const error = analyzer.feed(chunk);
      const snapshots = analyzer.takeWindows();
      ms.analyze += now() - t;
      if (error) throw new Error(`run ${runs + 1}: ${error}`);
      store(snapshots);
      await insertFull();
    }
    let t = now();
    const error = analyzer.endFile();
    analyzer.closeWindow();
    const snapshots = analyzer.takeWindows();
    packets += analyzer.packets();
    ms.analyze += now() - t;
    if (error) throw new Error(`run ${runs + 1}: ${error}`);
    store(snapshots);
    await insertFull();
    runs++;
    log(`storage bench: run ${runs}: ${grouped(packets)} packets, ${grouped(windows)} windows, ${grouped(stored())} rows so far`);
  }
  const t = now();
  const writer = await storage.close();
  ms.insert += now() - t;
  ms.wall = now() - started;
  if (writer.rowsLost || writer.spillRows || writer.failedInserts) {
    throw new Error(`the writer did not store every row: ${JSON.stringify(writer)}`);
  }
  return { runs, packets, windows, rowsWritten: writer.rowsWritten, writer, ms };
}

/** Bytes under a folder: `du -sb`, or the sum of file sizes where du has no -b. */
function diskBytes(path: string): number {
  const r = spawnSync('du', ['-sb', path], { encoding: 'utf8' });
  const n = Number(r.stdout?.split(/\s/)[0]);
  if (r.status === 0 && Number.isFinite(n)) return n;
  let sum = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    sum += e.isDirectory() ? diskBytes(p) : statSync(p).size;
  }
  return sum;
}

async function tableStats(store: Store): Promise<Record<string, { rows: number; parts: number; bytesOnDisk: number; uncompressedBytes: number }>> {
  const r = await store.client.query({
    query: `SELECT table, sum(rows) AS rows, count() AS parts, sum(bytes_on_disk) AS disk, sum(data_uncompressed_bytes) AS raw
            FROM system.parts WHERE database = {db:String} AND active GROUP BY table`,
    query_params: { db: store.database },
    format: 'JSONEachRow',
  });
  const parts = new Map((await r.json<{ table: string; rows: string; parts: string; disk: string; raw: string }>()).map((p) => [p.table, p]));
  const out: Record<string, { rows: number; parts: number; bytesOnDisk: number; uncompressedBytes: number }> = {};
  for (const table of CORE_TABLES) {
    // count() is the row count; system.parts gives the parts and their size.
    const c = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.${table}`, format: 'JSONEachRow' });
    const [{ n }] = await c.json<{ n: string }>();
    const p = parts.get(table);
    out[table] = { rows: Number(n), parts: Number(p?.parts ?? 0), bytesOnDisk: Number(p?.disk ?? 0), uncompressedBytes: Number(p?.raw ?? 0) };
  }
  return out;
}

/** Waits (up to `ms`) for the background merges of the inserts to finish: queries then see
 * the parts a store settles into, not a burst of fresh ones. */
async function settle(store: Store, ms: number): Promise<number> {
  const t = now();
  for (;;) {
    const r = await store.client.query({ query: 'SELECT count() AS n FROM system.merges WHERE database = {db:String}', query_params: { db: store.database }, format: 'JSONEachRow' });
    const [{ n }] = await r.json<{ n: string }>();
    if (Number(n) === 0 || now() - t > ms) return now() - t;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface QueryResult {
  name: string;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  /** Rows the last run returned. */
  resultRows: number;
}

/** Nearest rank. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function measure(name: string, run: (i: number) => Promise<number>): Promise<QueryResult> {
  let resultRows = 0;
  for (let i = 0; i < WARMUP; i++) await run(i);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = now();
    resultRows = await run(i);
    times.push(now() - t);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const r = {
    name, runs: RUNS, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length, minMs: sorted[0], maxMs: sorted[sorted.length - 1], resultRows,
  };
  log(`storage bench: ${name}: p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`);
  return r;
}

function task(tasks: TaskInfo[], name: string): TaskInfo {
  const t = tasks.find((x) => x.name === name);
  if (!t) throw new Error(`the store has no task "${name}" (it has ${tasks.map((x) => x.name).join(', ')})`);
  return t;
}

async function queries(store: Store): Promise<{ results: QueryResult[]; range: Range; traced: string[]; topKey: Key }> {
  const tasks = await listTasks(store);
  const flows = task(tasks, 'heavy_flows_exact');
  const range: Range = { startNs: flows.firstWindowNs, endNs: flows.lastWindowEndNs };
  // Flows to trace: the 10 largest of the 5-tuple task, one per run in turn.
  const top = await aggregateFlows(store, { task: flows, range, groupBy: [], orderBy: 'packets', ascending: false, limit: 10, offset: 0 });
  if (!top.rows.length) throw new Error('heavy_flows_exact has no rows to trace');
  const traced = top.rows.map((r) => `${r.key.protocolName} ${r.key.srcIp}:${r.key.srcPort} -> ${r.key.dstIp}:${r.key.dstPort}`);
  const results: QueryResult[] = [];
  results.push(await measure('listTasks', async () => (await listTasks(store)).length));
  results.push(
    await measure('aggregateFlows heavy_flows_exact by SrcIP, whole range, limit 100', async () =>
      (await aggregateFlows(store, { task: flows, range, groupBy: ['SrcIP'], orderBy: 'packets', ascending: false, limit: 100, offset: 0 })).rows.length),
  );
  results.push(
    await measure('aggregateFlows heavy_flows_exact by SrcIP, ip 10.0.0.0/16, tcp, limit 100', async () =>
      (await aggregateFlows(store, { task: flows, range, filter: { ip: '10.0.0.0/16', protocol: 'tcp' }, groupBy: ['SrcIP'], orderBy: 'packets', ascending: false, limit: 100, offset: 0 })).rows.length),
  );
  results.push(
    await measure('traceFlow heavy_flows_exact, both directions (top 10 flows in turn)', async (i) => {
      const k = top.rows[i % top.rows.length].key;
      const trace = await traceFlow(store, {
        task: flows, range, bothDirections: true, limit: 100_000,
        flow: { srcIp: k.srcIp, dstIp: k.dstIp, srcPort: k.srcPort, dstPort: k.dstPort, protocol: String(k.protocol) },
      });
      if (!trace.length) throw new Error(`traceFlow found no window of the flow ${traced[i % traced.length]}, which aggregateFlows returned`);
      return trace.length;
    }),
  );
  const hh = task(tasks, 'heavy_flows');
  results.push(await measure('topHeavyHitters heavy_flows by bytes, whole range, limit 100', async () => (await topHeavyHitters(store, { task: hh, range, by: 'bytes', limit: 100 })).length));
  const scanners = task(tasks, 'scanners');
  results.push(await measure('topSpreaders scanners, whole range, limit 100', async () => (await topSpreaders(store, { task: scanners, range, limit: 100 })).length));
  results.push(await measure('windowSeries packets (all traffic), whole range', async () => (await windowSeries(store, { range, metric: 'packets', limit: 100_000 })).length));
  return { results, range, traced, topKey: top.rows[0].key };
}

async function main(): Promise<void> {
  const wallStart = now();
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-bench-storage-'));
  try {
    const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
    log(`storage bench: data folder ${dir}; ingesting at least ${grouped(TARGET_ROWS)} rows`);
    const ing = await ingest(dir);
    const storeMs = ing.ms.addWindow + ing.ms.insert;

    const cfg = loadConfig({ env: {}, overrides: { 'storage.kind': 'embedded', 'storage.path': dir } });
    const openStart = now();
    const store = await openStore(cfg.storage);
    const openMs = now() - openStart;
    let settleMs = 0;
    let tables: Awaited<ReturnType<typeof tableStats>>;
    let q: Awaited<ReturnType<typeof queries>>;
    let api: ApiLoad;
    try {
      settleMs = await settle(store, 60_000);
      tables = await tableStats(store);
      const counted = Object.values(tables).reduce((s, t) => s + t.rows, 0);
      if (counted !== ing.rowsWritten) throw new Error(`the tables hold ${counted} rows; the writer wrote ${ing.rowsWritten}`);
      q = await queries(store);
      const k = q.topKey;
      api = await apiLoad(store, benchRoutes(q.range, { srcIp: k.srcIp, dstIp: k.dstIp, srcPort: k.srcPort, dstPort: k.dstPort, protocol: k.protocol }), API_SECONDS, log);
    } finally {
      await store.close();
    }
    const disk = diskBytes(dir);
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    const wallSeconds = (now() - wallStart) / 1000;

    const s = (ms: number) => ms / 1000;
    const ingestOut = {
      runs: ing.runs, packets: ing.packets, windows: ing.windows, rows: ing.rowsWritten, inserts: ing.writer.inserts,
      seconds: { generate: s(ing.ms.generate), analyze: s(ing.ms.analyze), addWindow: s(ing.ms.addWindow), insert: s(ing.ms.insert), store: s(storeMs), endToEnd: s(ing.ms.wall) },
      rowsPerSecond: { store: ing.rowsWritten / s(storeMs), insertOnly: ing.rowsWritten / s(ing.ms.insert), endToEnd: ing.rowsWritten / s(ing.ms.wall) },
    };

    console.log(`storage bench (embedded ClickHouse, chdb): ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB`);
    console.log(`traffic: ${ing.runs} runs x ${grouped(PACKETS_PER_RUN)} packets over ${RUN_SECONDS} s, ${grouped(HOSTS)} hosts; 1 s windows, default tasks + exact beside`);
    console.log(`\ningest: ${grouped(ing.rowsWritten)} rows in ${grouped(ing.windows)} windows from ${grouped(ing.packets)} packets, ${grouped(ing.writer.inserts)} inserts (batchRows ${grouped(cfg.storage.batchRows)})`);
    console.log('| stage | seconds | rows/s |\n|---|---:|---:|');
    const stage = (label: string, sec: number, rate = true) => console.log(`| ${label} | ${sec.toFixed(2)} | ${rate ? grouped(ing.rowsWritten / sec) : ''} |`);
    stage('generate traffic', ingestOut.seconds.generate, false);
    stage('analyze (decode + tasks)', ingestOut.seconds.analyze, false);
    stage('addWindow (snapshot -> rows, buffer)', ingestOut.seconds.addWindow);
    stage('inserts (awaited flushes + close)', ingestOut.seconds.insert);
    stage('store total (addWindow + inserts)', ingestOut.seconds.store);
    stage('end to end', ingestOut.seconds.endToEnd);
    console.log('\n| table | rows | parts | on disk | uncompressed |\n|---|---:|---:|---:|---:|');
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    for (const [name, t] of Object.entries(tables)) console.log(`| ${name} | ${grouped(t.rows)} | ${t.parts} | ${mib(t.bytesOnDisk)} | ${mib(t.uncompressedBytes)} |`);
    console.log(`\ndata folder on disk (du): ${mib(disk)}; store opened in ${openMs.toFixed(0)} ms; merges settled after ${(settleMs / 1000).toFixed(1)} s`);
    console.log(`\nqueries: ${WARMUP} warm-up runs, then ${RUNS} timed runs each; traced flows: ${q.traced.slice(0, 3).join('; ')}, ...`);
    console.log('| query | p50 ms | p99 ms | mean ms | rows returned |\n|---|---:|---:|---:|---:|');
    for (const r of q.results) console.log(`| ${r.name} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.meanMs.toFixed(1)} | ${r.resultRows} |`);
    console.log(`\nAPI server (default limits: ${api.limits.maxQueries} queries at once), ${API_SECONDS} s per route and level`);
    console.log('| route | clients | req/s | p50 ms | p99 ms | 429 | other errors |\n|---|---:|---:|---:|---:|---:|---:|');
    for (const r of api.results) console.log(`| ${r.route} | ${r.clients} | ${r.perSecond.toFixed(1)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.refused} | ${r.failed} |`);
    console.log(`/healthz while 50 clients ask the slowest route: p50 ${api.healthzUnderLoad.p50Ms.toFixed(1)} ms, p99 ${api.healthzUnderLoad.p99Ms.toFixed(1)} ms`);
    console.log(`\npeak RSS ${peakRssMiB} MiB; wall time ${wallSeconds.toFixed(1)} s`);

    const results = join(root, 'bench', 'results');
    mkdirSync(results, { recursive: true });
    writeFileSync(
      join(results, 'storage.json'),
      JSON.stringify(
        {
          machine,
          setup: { targetRows: TARGET_ROWS, packetsPerRun: PACKETS_PER_RUN, runSeconds: RUN_SECONDS, hosts: HOSTS, windowSeconds: 1, batchRows: cfg.storage.batchRows, warmupRuns: WARMUP, timedRuns: RUNS },
          ingest: ingestOut,
          tables,
          diskBytes: disk,
          queryRange: { startNs: q.range.startNs?.toString(), endNs: q.range.endNs?.toString() },
          queries: q.results,
          tracedFlows: q.traced,
          api,
          peakRssMiB,
          wallSeconds,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
