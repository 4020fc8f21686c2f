// Offline analysis: reads capture files in large chunks and hands them to the engine. Packets
// never cross into JavaScript; only the finished report does.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Analyzer, Backend } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import type { AnalysisReport, EngineReport } from '../report/types.js';
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

export function createAnalyzer(backend: Backend, config: NetspectraConfig): Analyzer {
  return backend.createAnalyzer({
    seed: config.seed,
    exactTasks: config.tasks.filter((t) => t.type === 'exact').map((t) => ({ name: t.name, key: t.key.join(',') })),
  });
}

/** Feeds one file to the analyzer; returns the outcome (never throws for file problems). */
export function feedFile(analyzer: Analyzer, file: string, chunkSize: number, showProgress = false): FileOutcome {
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
      done += n;
      progress.update(done);
      if (error) break;
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

export function analyzeFiles(files: string[], opts: AnalyzeOptions): AnalyzeResult {
  const started = performance.now();
  const analyzer = createAnalyzer(opts.backend, opts.config);
  const outcomes = files.map((f) => feedFile(analyzer, f, opts.config.analyze.chunkSize, opts.progress));
  const engine = JSON.parse(analyzer.reportJson(opts.config.analyze.top)) as EngineReport;
  const report: AnalysisReport = { ...engine, backend: opts.backend.name, elapsedMs: Math.round(performance.now() - started) };
  return { report, outcomes, analyzer };
}
