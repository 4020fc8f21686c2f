// analyze, demo and generate: captures analysed on this machine, the report printed, the rows
// stored. Modules a run does not need (the store, the alert rules) are not loaded.
import { closeSync, createWriteStream, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend, loadFailures, type Backend } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { writeSyntheticCapture } from '../generate/write-capture.js';
import { formatText } from '../report/format-text.js';
import type { StorageReport } from '../report/types.js';
import { bytes, grouped } from '../report/units.js';
import { newRunId } from '../storage/local-rows.js';
import type { Store, WindowStorage } from '../storage/index.js';
import type { AlertEvent } from '../shared/index.js';
import { EXIT } from './exit-codes.js';
import { config, interrupted, log, positiveInt, UsageError, type Values } from './common.js';

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
  if (cfg.storage.kind !== 'none') {
    try {
      storage = await (await import('./analysis-storage.js')).openAnalysisStorage(cfg, { source, run, log, store });
    } catch (e) {
      // The report still matters without the store; the exit status says it is not stored.
      storeError = (e as Error).message;
    }
  }
  // Rules run over the analysis's windows; notifiers only hear of them with --notify. Without
  // a store, rules or a flow export, nothing takes the windows but the report.
  const sinkNeeded = storage || cfg.alerts.rules.length > 0 || (cfg.flows.enabled && cfg.flows.httpUrl);
  const sink = sinkNeeded ? (await import('../sink/index.js')).WindowSink.create(cfg, { log, storage, source, notify: Boolean(values.notify) }) : null;
  const alerts: AlertEvent[] = [];
  sink?.onAlert((e) => alerts.push(e));
  const { report, outcomes } = await analyzeFiles(files, { backend, config: cfg, progress: !values.json, sink, source, run });
  for (const o of outcomes) {
    if (o.error) process.stderr.write(`netspectra: ${o.file}: ${o.error}${o.unreadable ? '' : ' (packets before this point were analysed)'}\n`);
  }
  await sink?.close();
  if (sink?.alerting) report.alerts = alerts;
  const windows = sink?.stats().windows ?? report.windows.length;
  // Where each file is, for the API's packets route (`GET /api/v1/pcap?source=...`).
  const details = { files: outcomes.map((o) => ({ ...o, path: o.file === '-' ? null : resolve(o.file) })), backend: backend.name, problems: report.problems };
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

export async function analyze(files: string[], values: Values): Promise<number> {
  const cfg = config(values);
  if (values['print-config']) {
    // As the configuration file is written (YAML), or JSON with --json.
    const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    process.stdout.write(values.json ? JSON.stringify(cfg, null, 2) + '\n' : yaml.stringify(cfg));
    return 0;
  }
  if (files.length === 0) throw new UsageError('analyze needs at least one capture file (- for standard input)');
  const problems = files.map((f) => captureProblem(f, loadBackend())).filter((p): p is string => p !== null);
  if (problems.length) {
    // Before anything is printed: no report of files that could not be read.
    for (const p of problems) process.stderr.write(`netspectra: ${p}\n`);
    return EXIT.failed;
  }
  if (cfg.analyze.bpf) checkFilter(cfg.analyze.bpf);
  const stdin = files.includes('-') ? await spoolStdin() : null;
  try {
    return await analyzeReadable(stdin ? files.map((f) => (f === '-' ? stdin.file : f)) : files, cfg, values, analysisSource(cfg, files.map((f) => (f === '-' ? 'stdin' : f))));
  } finally {
    stdin?.remove();
  }
}

/** A filter the backend cannot compile (or cannot apply at all) is a usage error, before any
 * input is read. */
function checkFilter(bpf: string): void {
  try {
    loadBackend().createAnalyzer({ bpf });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Bytes of a file's start the capture reader is shown to judge it. */
const HEAD_BYTES = 4096;

/** Why a named input cannot be analysed (missing, a folder, unreadable, empty, not a capture),
 * or null. The capture reader of the core judges the file's first bytes (its words, its formats);
 * standard input and other streams are checked as they are read. */
function captureProblem(file: string, backend: Backend): string | null {
  if (file === '-') return null;
  const cannotOpen = (e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    return `${file}: cannot open: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`;
  };
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    return cannotOpen(e);
  }
  if (st.isDirectory()) return `${file}: is a directory, not a capture file`;
  if (!st.isFile()) return null;
  let head: Buffer;
  try {
    const fd = openSync(file, 'r');
    try {
      head = Buffer.alloc(Math.min(HEAD_BYTES, st.size));
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return cannotOpen(e);
  }
  const reader = backend.createAnalyzer();
  reader.beginFile(file);
  const refused = reader.feed(head) ?? (head.length === st.size ? reader.endFile() : null);
  // A damaged record later in a file is the analysis's to report (packets before it count).
  return refused && /offset 0\b/.test(refused) ? `${file}: ${refused}` : null;
}

/** Standard input copied to a temporary file as it arrives (the reader needs a file). */
async function spoolStdin(): Promise<{ file: string; remove: () => void }> {
  if (process.stdin.isTTY) throw new UsageError('- reads a capture from standard input, which is a terminal here: pipe one in (tcpdump -w - | netspectra analyze -)');
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-stdin-'));
  const file = join(dir, 'stdin.pcap');
  await pipeline(process.stdin, createWriteStream(file));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function analyzeReadable(files: string[], cfg: NetspectraConfig, values: Values, source: string): Promise<number> {
  if (!values.serve) return await analyzeAndStore(engine(), files, cfg, values, source);
  // The store stays open after the analysis: the API and the console show what was stored.
  const { openServedStore, startApiServer } = await import('./serve.js');
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

export function generate(file: string | undefined, values: Values): number {
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

export async function demo(values: Values): Promise<number> {
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
