#!/usr/bin/env node
// The netspectra command line.
import { parseArgs } from 'node:util';
import { basename, join } from 'node:path';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend, loadFailures, type Backend } from '../backend/index.js';
import { ConfigError, loadConfig, type NetspectraConfig } from '../config/index.js';
import { writeSyntheticCapture } from '../generate/write-capture.js';
import { formatText } from '../report/format-text.js';
import { EngineHost, engineId, engineSink, runEngine } from '../engine/run-engine.js';
import { Probe, probeId } from '../probe/probe.js';
import { EnginePublisher, JetStreamPublisher, NatsPublisher, type Publisher } from '../probe/publisher.js';
import { connectNats, ensureStream, type Connection } from '../transport/nats.js';
import { bytes, grouped } from '../report/units.js';
import { defaultSource, newRunId, openWindowStorage, type Store, type WindowStorage } from '../storage/index.js';
import type { StorageReport } from '../report/types.js';
import { EXIT } from './exit-codes.js';
import { openAnalysisStorage } from './analysis-storage.js';
import { WindowSink } from '../sink/index.js';
import type { AlertEvent } from '../alert/types.js';
import { QUERY_USAGE, queryCommand } from './query.js';
import { AI_USAGE, aiCommand, askCommand } from './ai.js';
import { openServedStore, serveCommand, startApiServer, type ApiServer } from './serve.js';

const USAGE = `usage: netspectra <command> [options]

commands:
  analyze <file...>   analyse pcap/pcapng files and print a report
      --json            print the report as JSON
      --top N           rows in each top-N section (config analyze.top)
      --window DURATION windows of this length (e.g. 10s) instead of one for the capture
      --config FILE     YAML configuration (see configs/netspectra.yaml)
      --print-config    print the effective configuration and exit
      --store KIND      where windows are stored: embedded (default), clickhouse, file, none
      --data DIR        data folder of the store (config storage.path)
      --threads N       threads of the core engine: 1 or 2 (config analyze.threads; default 2 on two cores)
      --notify          send alerts the rules raise to the notifiers (otherwise only reported and stored)
      --serve           then serve the API and the web console over what was stored (until Ctrl-C)
  generate <file>     write a synthetic capture made by NetSpectra's traffic generator
      --packets N       packets to write (default 200000)
      --seed N          generator seed (default 1)
  demo                generate a synthetic capture and analyse it
      --packets N       packets in the capture (default 200000)
      --json            print the report as JSON

  probe               capture live traffic, decode it in batches, publish PacketBatch messages
      --iface NAME      interface (config probe.interface)
      --read FILE...    send capture files instead of capturing (as fast as the transport takes)
      --bpf EXPR        BPF filter (default "ip or ip6")   --snaplen N  (default 160)
      --nats URL        NATS server(s) (config nats.url)   --jetstream  no-loss mode
      --partitions N    subjects by address pair            --persist DIR  rotating pcap files
      --engine          no NATS: run the engine in this process
      --output FILE     (with --engine) closed windows as JSON Lines
      --serve           (with --engine) serve the API and the live web console (api.host:api.port)
  engine              run the tasks over batches from NATS, in windows; stores them
      --nats URL  --jetstream  --threads N  --output FILE  --window DURATION  --store KIND

  serve               the query API over the store (Connect, gRPC, gRPC-web, HTTP/JSON, Grafana)
      --port N  --host ADDR  (default 127.0.0.1:7070)   --nats URL  also run an engine (live queries)
      the web console: http://127.0.0.1:7070/console/ (live with an engine, else the stored windows)
${QUERY_USAGE}
${AI_USAGE}

environment: NETSPECTRA_BACKEND forces a backend; NETSPECTRA_<KEY> overrides a config key
(for example NETSPECTRA_ANALYZE_TOP=20).`;

class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

type Values = Record<string, string | boolean | undefined>;

function config(values: Values, live = false, extra: Record<string, unknown> = {}): NetspectraConfig {
  const overrides: Record<string, unknown> = { ...extra };
  const str = (flag: string, key: string) => {
    if (typeof values[flag] === 'string') overrides[key] = values[flag];
  };
  const int = (flag: string, key: string) => {
    if (typeof values[flag] === 'string') overrides[key] = positiveInt(`--${flag}`, values[flag] as string, 1);
  };
  if (typeof values.top === 'string') overrides['analyze.top'] = positiveInt('--top', values.top, 10);
  str('window', live ? 'window' : 'analyze.window');
  str('nats', 'nats.url');
  if (values.jetstream) overrides['nats.jetstream'] = true;
  str('iface', 'probe.interface');
  str('bpf', 'probe.bpf');
  int('snaplen', 'probe.snaplen');
  int('partitions', 'probe.partitions');
  str('persist', 'probe.persist.dir');
  str('output', 'engine.output');
  int('threads', live ? 'engine.threads' : 'analyze.threads');
  str('store', 'storage.kind');
  str('data', 'storage.path');
  str('host', 'api.host');
  if (typeof values.port === 'string') overrides['api.port'] = Number(values.port);
  return loadConfig({ file: values.config as string | undefined, overrides });
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

async function probe(files: string[], values: Values): Promise<number> {
  const cfg = config(values, true);
  const replay = Boolean(values.read);
  if (!replay && !cfg.probe.interface) throw new UsageError('probe needs --iface (or probe.interface), or --read FILE');
  if (!values.engine && !cfg.nats.url) throw new UsageError('probe needs --nats URL (or nats.url), or --engine to run the engine in this process');
  if (values.serve && !values.engine) throw new UsageError('probe --serve needs --engine (the API and console of the engine in this process)');
  let host: EngineHost | null = null;
  let conn: Connection | null = null;
  let publisher: Publisher;
  let store: Store | null = null;
  let server: ApiServer | null = null;
  if (values.engine) {
    const source = defaultSource(cfg.storage);
    if (values.serve) store = await openServedStore(cfg, log, 'probe --serve');
    const storage = openWindowStorage(cfg.storage, { source, log, store: store ?? undefined });
    const id = engineId();
    host = new EngineHost(cfg, log, id, engineSink(cfg, log, id, storage), storage);
    publisher = new EnginePublisher(host);
    if (store) server = await startApiServer(cfg, log, 'probe', { store, host, storage, source });
  } else {
    conn = await connectNats(cfg.nats, `netspectra-probe ${probeId(cfg)}`, log);
    if (cfg.nats.jetstream) {
      await ensureStream(conn.nc, cfg.nats);
      publisher = new JetStreamPublisher(conn, cfg.nats, probeId(cfg), log);
    } else {
      publisher = new NatsPublisher(conn, cfg.nats, log);
    }
  }
  const p = new Probe(cfg, publisher, log, replay ? 'file' : cfg.probe.interface);
  if (replay) {
    const paths = [values.read as string, ...files];
    const packets = await p.replayFiles(paths, cfg.analyze.chunkSize);
    await p.stop();
    log(`probe ${p.id}: sent ${grouped(packets)} packets from ${paths.join(', ')}`);
  } else {
    const done = p.live();
    await Promise.race([done, interrupted()]);
    await p.stop();
  }
  if (server) {
    // A replay stays served until interrupted, so its windows can be looked at.
    if (replay) await interrupted();
    await server.close();
  }
  if (host) await host.stop();
  if (store) await store.close();
  if (conn) await conn.nc.drain().catch(() => {});
  return 0;
}

async function engineCommand(values: Values): Promise<number> {
  const cfg = config(values, true);
  const running = await runEngine(cfg, log, openWindowStorage(cfg.storage, { source: defaultSource(cfg.storage), log }));
  const failure = await Promise.race([interrupted().then(() => null), running.host.failed]);
  log(failure ? 'engine: stopping after the failure' : 'engine: stopping (closing the open window)');
  await running.stop();
  return failure ? 1 : 0;
}

/** The engine backend; says on stderr why a faster one was passed over. */
function engine(): Backend {
  const backend = loadBackend();
  for (const [name, why] of Object.entries(loadFailures)) {
    process.stderr.write(`netspectra: using the ${backend.name} backend; ${name} did not load: ${why}\n`);
  }
  return backend;
}

/** Analyses files, stores the windows as a new run of `source` (which replaces, for queries,
 * what an earlier run stored under that name once it is whole), prints the report; returns the
 * exit status. */
async function analyzeAndStore(backend: Backend, files: string[], cfg: NetspectraConfig, values: Values, source: string, store?: Store): Promise<number> {
  const started = Date.now();
  const run = newRunId(started);
  let storage: WindowStorage | null = null;
  let storeError: string | null = null;
  try {
    storage = await openAnalysisStorage(cfg, { source, run, log, store });
  } catch (e) {
    // The report still matters without the store; the exit status says it is not stored.
    storeError = (e as Error).message;
  }
  // Rules run over the analysis's windows; notifiers only hear of them with --notify.
  const sink = WindowSink.create(cfg, { log, storage, source, notify: Boolean(values.notify) });
  const alerts: AlertEvent[] = [];
  sink.onAlert((e) => alerts.push(e));
  const { report, outcomes } = await analyzeFiles(files, { backend, config: cfg, progress: !values.json, sink, source, run });
  for (const o of outcomes) {
    if (o.error) process.stderr.write(`netspectra: ${o.file}: ${o.error}${o.unreadable ? '' : ' (packets before this point were analysed)'}\n`);
  }
  await sink.close();
  if (sink.alerting) report.alerts = alerts;
  const windows = sink.stats().windows;
  const details = { files: outcomes, backend: backend.name, problems: report.problems };
  if (storage) report.storage = await closeAnalysisStorage(storage, windows, report.totals.packets, report.totals.bytes, started, details);
  else if (storeError) report.storage = { where: cfg.storage.kind, source, run, windows: 0, rowsWritten: 0, rowsQuarantined: 0, quarantineReasons: {}, spillRows: 0, rowsLost: 0, error: storeError };
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatText(report));
  if (outcomes.some((o) => o.unreadable)) return EXIT.failed;
  return storageExit(report.storage);
}

/** Completes the run (when something was read), closes the writer, and says on stderr what was
 * stored and what was not. */
async function closeAnalysisStorage(storage: WindowStorage, windows: number, packets: number, bytesIn: number, started: number, details: Record<string, unknown>): Promise<StorageReport> {
  if (windows > 0) {
    storage.addStats({ atMs: Date.now(), kind: 'analyze', packets, bytes: bytesIn, windows, details });
    storage.complete(started, { packets, bytes: bytesIn, windows });
  }
  // Nothing could be read: nothing is stored, and what earlier runs stored stays.
  const s = await storage.close();
  const r: StorageReport = {
    where: storage.where, source: storage.source, run: storage.run, windows, rowsWritten: s.rowsWritten, rowsQuarantined: s.rowsQuarantined,
    quarantineReasons: s.quarantineReasons, spillRows: s.spillRows, rowsLost: s.rowsLost, error: null,
  };
  if (windows > 0) {
    const waiting = s.spillRows ? `; ${grouped(s.spillRows)} rows WAIT IN THE SPILL (${s.lastError}): the run is not visible until they are written` : '';
    const quarantined = s.rowsQuarantined ? `; ${grouped(s.rowsQuarantined)} rows QUARANTINED (${Object.keys(s.quarantineReasons).join('; ')})` : '';
    const lost = s.rowsLost ? `; ${grouped(s.rowsLost)} rows LOST (${s.lastError})` : '';
    process.stderr.write(`stored ${grouped(windows)} window(s), ${grouped(s.rowsWritten)} rows as "${storage.source}" in ${storage.where}${quarantined}${waiting}${lost}\n`);
  }
  return r;
}

/** The exit status of a run by what became of its rows. */
function storageExit(s: StorageReport | undefined): number {
  if (!s) return EXIT.ok;
  if (s.error) {
    process.stderr.write(`netspectra: windows NOT stored: ${s.error}\n`);
    return EXIT.notStored;
  }
  if (s.spillRows || s.rowsLost) return EXIT.notStored;
  return s.rowsQuarantined ? EXIT.quarantined : EXIT.ok;
}

/** analyze:<file names> (or analyze:<storage.source>), so analysing the same files again
 * replaces their rows, and never an engine's. */
function analysisSource(cfg: NetspectraConfig, files: string[]): string {
  return `analyze:${cfg.storage.source || files.map((f) => basename(f)).join(',')}`;
}

async function analyze(files: string[], values: Values): Promise<number> {
  const cfg = config(values);
  if (values['print-config']) {
    process.stdout.write(JSON.stringify(cfg, null, 2) + '\n');
    return 0;
  }
  if (files.length === 0) throw new UsageError('analyze needs at least one capture file');
  const source = analysisSource(cfg, files);
  if (!values.serve) return await analyzeAndStore(engine(), files, cfg, values, source);
  // The store stays open after the analysis: the API and the console show what was stored.
  const store = await openServedStore(cfg, log, 'analyze --serve');
  try {
    const code = await analyzeAndStore(engine(), files, cfg, values, source, store);
    const server = await startApiServer(cfg, log, 'analyze', { store, source });
    await interrupted();
    await server.close();
    return code;
  } finally {
    await store.close();
  }
}

function generate(file: string | undefined, values: Values): number {
  if (!file) throw new UsageError('generate needs an output file');
  const packets = positiveInt('--packets', values.packets as string | undefined, 200_000);
  const n = writeSyntheticCapture(loadBackend(), file, { packets, seed: positiveInt('--seed', values.seed as string | undefined, 1) });
  process.stderr.write(`wrote ${file}: ${grouped(packets)} packets, ${bytes(n)}\n`);
  return 0;
}

/** Rules the demo runs when the configuration has none: the generator plants a scan, a burst of
 * connection attempts and an elephant flow, and the report shows the alerts they raise. */
const DEMO_RULES = [
  { name: 'scanner', task: 'scanners', metric: 'spread', threshold: 1000, severity: 'warning' },
  { name: 'syn_rate', metric: 'new_conversations', threshold: '50/s', severity: 'critical' },
  { name: 'elephant', task: 'heavy_flows', metric: 'bytes', groupBy: ['SrcIP', 'DstIP'], threshold: '5MB', severity: 'info' },
];

async function demo(values: Values): Promise<number> {
  const file = join('.netspectra', 'demo.pcap');
  const packets = positiveInt('--packets', values.packets as string | undefined, 200_000);
  let cfg = config(values);
  if (cfg.alerts.rules.length === 0) cfg = config(values, false, { 'alerts.rules': DEMO_RULES });
  const backend = engine();
  const size = writeSyntheticCapture(backend, file, { packets, seed: 1 });
  process.stderr.write(`generated ${file}: ${grouped(packets)} packets, ${bytes(size)} (synthetic traffic: TCP/UDP/ICMP over IPv4 and IPv6, a scan, a heavy flow)\n`);
  const code = await analyzeAndStore(backend, [file], cfg, values, `analyze:${cfg.storage.source || 'demo'}`);
  if (cfg.storage.kind === 'embedded') process.stderr.write('query it: netspectra serve, then netspectra query tasks (or curl http://127.0.0.1:7070/api/v1/tasks)\n');
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        top: { type: 'string' },
        window: { type: 'string' },
        config: { type: 'string' },
        'print-config': { type: 'boolean' },
        notify: { type: 'boolean' },
        packets: { type: 'string' },
        seed: { type: 'string' },
        iface: { type: 'string' },
        read: { type: 'string' },
        bpf: { type: 'string' },
        snaplen: { type: 'string' },
        nats: { type: 'string' },
        jetstream: { type: 'boolean' },
        partitions: { type: 'string' },
        persist: { type: 'string' },
        engine: { type: 'boolean' },
        output: { type: 'string' },
        threads: { type: 'string' },
        store: { type: 'string' },
        data: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        task: { type: 'string' },
        start: { type: 'string' },
        end: { type: 'string' },
        ip: { type: 'string' },
        'src-ip': { type: 'string' },
        rule: { type: 'string' },
        state: { type: 'string' },
        severity: { type: 'string' },
        'dst-ip': { type: 'string' },
        'src-port': { type: 'string' },
        'dst-port': { type: 'string' },
        protocol: { type: 'string' },
        'group-by': { type: 'string' },
        'order-by': { type: 'string' },
        asc: { type: 'boolean' },
        limit: { type: 'string' },
        'page-token': { type: 'string' },
        'community-id': { type: 'string' },
        serve: { type: 'boolean' },
        direction: { type: 'string' },
        source: { type: 'string' },
        live: { type: 'boolean' },
        by: { type: 'string' },
        both: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    }
    switch (command) {
      case 'analyze':
        return await analyze(positionals, values);
      case 'generate':
        return generate(positionals[0], values);
      case 'demo':
        return await demo(values);
      case 'serve':
        return await serveCommand(config(values, true), log, interrupted());
      case 'query':
        return await queryCommand(positionals[0], values, config({ config: values.config }));
      case 'ai':
        return await aiCommand(values, log, interrupted());
      case 'ask':
        return await askCommand(positionals, values, config({ config: values.config }));
      case 'probe':
        return await probe(positionals, values);
      case 'engine':
        return await engineCommand(values);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`netspectra: ${e.message}\n`);
      return 2;
    }
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`netspectra: ${(e as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`netspectra: ${(e as Error).message}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Long-running commands leave NATS sockets and timers behind once they are done.
if (['probe', 'engine', 'serve', 'analyze', 'demo'].includes(process.argv[2])) process.exit(code);
