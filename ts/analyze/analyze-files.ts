// Offline analysis: reads capture files in large chunks and hands them to the engine. Packets
// never cross into JavaScript: closed windows and finished flows come out in the core's binary
// formats and go to the sink, the report as JSON at the end.
import { applyGeo, tasksNeedGeo } from '../geo/index.js';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Analyzer, Backend, TaskOptions } from '../backend/index.js';
import type { NetspectraConfig, TaskConfig } from '../config/index.js';
import { coreThreads, readClosedWindow } from '../backend/index.js';
import { flowOptions } from '../flows/options.js';
import type { FlowSummary } from '../flows/types.js';
import type { AnalysisReport, EngineReport } from '../report/types.js';
import type { WindowSink } from '../sink/index.js';
import { createProgress } from './progress.js';

export interface FileOutcome {
  file: string;
  /** A problem that stopped reading: the file could not be opened, or the capture is damaged. */
  error?: string;
  /** True when nothing at all could be read from the file. */
  unreadable: boolean;
}

export interface AnalyzeResult {
  report: AnalysisReport;
  outcomes: FileOutcome[];
  analyzer: Analyzer;
}

export interface AnalyzeOptions {
  backend: Backend;
  config: NetspectraConfig;
  /** Show a progress bar on stderr (only drawn when stderr is a terminal). */
  progress?: boolean;
  /** Where closed windows and finished flows go (store, alerts); none: only the report. */
  sink?: WindowSink | null;
  /** The storage rows' source and run (with a sink). */
  source?: string;
  run?: string;
}

function systemMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a capture file';
    default:
      return err.message;
  }
}

export function taskOptions(t: TaskConfig): TaskOptions {
  const key = t.key.join(',');
  switch (t.type) {
    case 'exact':
      return { name: t.name, type: 'exact', key, distinct: t.distinct.join(',') };
    case 'countmin':
      return { name: t.name, type: 'countmin', key, depth: t.depth, width: t.width, conservative: t.conservative, heavyHitters: t.heavyHitters };
    case 'superspread':
      return {
        name: t.name, type: 'superspread', key, element: t.element.join(','), depth: t.depth, width: t.width,
        registers: t.registers, registerBits: t.registerBits, decayBase: t.decayBase, threshold: t.threshold,
      };
  }
}

/** For every sketch without an exact task on the same key (and, for a spread, counting the same
 * distinct fields), an exact task, so the report can print the true value beside each estimate. */
export function exactBesideTasks(tasks: TaskConfig[]): TaskOptions[] {
  const fields = (list: string[]) => [...list].sort().join(',');
  const exact = tasks.filter((t) => t.type === 'exact').map((t) => ({ key: fields(t.key), distinct: fields(t.distinct) }));
  const names = new Set(tasks.map((t) => t.name));
  const extra: TaskOptions[] = [];
  for (const t of tasks) {
    if (t.type === 'exact') continue;
    const key = fields(t.key);
    const distinct = t.type === 'superspread' ? fields(t.element) : undefined;
    if (exact.some((e) => e.key === key && (distinct === undefined || e.distinct === distinct))) continue;
    let name = `${t.name}_exact`;
    while (names.has(name)) name += '_';
    names.add(name);
    exact.push({ key, distinct: distinct ?? '' });
    extra.push({ name, type: 'exact', key: t.key.join(','), distinct: t.type === 'superspread' ? t.element.join(',') : '' });
  }
  return extra;
}

/** An analyzer of the configuration; with `rows`, closed windows are kept and they and flow
 * records come with storage rows written as that source and run. */
export function createAnalyzer(
  backend: Backend, config: NetspectraConfig, keepWindows = false, rows?: { source: string; run: string }, snapshots = true,
): { analyzer: Analyzer; besideTasks: string[] } {
  const beside = config.analyze.exactBeside ? exactBesideTasks(config.tasks) : [];
  const tasks = [...config.tasks.map(taskOptions), ...beside];
  // Flow records come from the compiled core; the js backend analyses without them.
  const flows = backend.name === 'js' ? undefined : flowOptions(config.flows, hostname());
  const analyzer = backend.createAnalyzer({
    seed: config.seed, windowSeconds: config.analyze.window, top: config.analyze.top, keepWindows, tasks, flows, source: rows?.source, run: rows?.run,
    threads: coreThreads(config.analyze.threads, backend),
    bpf: config.analyze.bpf || undefined,
    // A backend without rows of its own has them made from the snapshot.
    snapshots: snapshots || !rows || backend.name === 'js',
  });
  if (flows || (backend.name !== 'js' && tasksNeedGeo(config.tasks))) applyGeo(analyzer, config.flows, (line) => process.stderr.write(`${line}\n`));
  return { analyzer, besideTasks: beside.map((t) => t.name) };
}

/** Feeds one file to the analyzer; returns the outcome (never throws for file problems).
 * Between chunks it lets other work run (the store's inserts) and calls `afterChunk`. */
export async function feedFile(analyzer: Analyzer, file: string, chunkSize: number, showProgress = false, afterChunk?: () => void): Promise<FileOutcome> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    return { file, error: `cannot open: ${systemMessage(e)}`, unreadable: true };
  }
  const before = analyzer.packets();
  let error: string | null = null;
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { file, error: 'is a directory, not a capture file', unreadable: true };
    analyzer.beginFile(file);
    const progress = createProgress(file, stat.size, showProgress ? process.stderr : ({ isTTY: false } as NodeJS.WriteStream));
    const buf = Buffer.allocUnsafe(chunkSize);
    let done = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        error = `read failed at offset ${done}: ${systemMessage(e)}`;
        break;
      }
      if (n === 0) break;
      error = analyzer.feed(n === buf.length ? buf : buf.subarray(0, n));
      afterChunk?.();
      done += n;
      progress.update(done);
      if (error) break;
      // The store's inserts (on their own threads) are started and finished between chunks.
      await new Promise<void>((r) => setImmediate(r));
    }
    progress.finish();
    const end = analyzer.endFile();
    error ??= end;
  } finally {
    closeSync(fd);
  }
  const read = analyzer.packets() - before;
  return { file, error: error ?? undefined, unreadable: error !== null && read === 0 };
}

export async function analyzeFiles(files: string[], opts: AnalyzeOptions): Promise<AnalyzeResult> {
  const started = performance.now();
  const sink = opts.sink ?? null;
  const rows = sink?.wantsRows && opts.source !== undefined ? { source: opts.source, run: opts.run ?? '' } : undefined;
  const { analyzer, besideTasks } = createAnalyzer(opts.backend, opts.config, Boolean(sink), rows, sink?.wantsSnapshots ?? false);
  // The js analyzer has no flow records.
  const flows = opts.config.flows.enabled && Boolean(analyzer.takeFlowRows);
  const afterChunk = () => {
    // Taken even without a sink: the core drops what nobody stores, so nothing piles up.
    const windows = analyzer.takeWindows();
    const flowRows = flows ? analyzer.takeFlowRows!(false) : null;
    if (!sink) return;
    for (const w of windows) sink.window(readClosedWindow(w));
    if (flowRows) sink.flows({ rows: flowRows, json: null });
  };
  const outcomes: FileOutcome[] = [];
  for (const f of files) outcomes.push(await feedFile(analyzer, f, opts.config.analyze.chunkSize, opts.progress, afterChunk));
  analyzer.closeWindow();
  afterChunk();
  // The flows still open end with the input.
  const lastRows = flows ? analyzer.takeFlowRows!(true) : null;
  if (sink && lastRows) sink.flows({ rows: lastRows, json: null });
  const engine = JSON.parse(analyzer.reportJson(opts.config.analyze.top)) as EngineReport;
  const summary = flows ? analyzer.flowSummaryJson!() : null;
  const report: AnalysisReport = {
    ...engine,
    backend: opts.backend.name,
    elapsedMs: Math.round(performance.now() - started),
    windowSeconds: opts.config.analyze.window,
    besideTasks,
    ...(summary ? { flows: JSON.parse(summary) as FlowSummary } : {}),
  };
  return { report, outcomes, analyzer };
}
