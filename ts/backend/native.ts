import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Analyzer, AnalyzerOptions, Backend, BatchEngine, ExtractOptions, LiveCapture, LiveCaptureOptions, PacketBatcher, PacketBatcherOptions,
  IndexCandidates, PacketExtractor, PcapIndexer, TrafficOptions, TrafficSource,
} from './types.js';

interface NativeBinding {
  Analyzer: new (options?: AnalyzerOptions) => Analyzer;
  TrafficSource: new (options?: TrafficOptions) => TrafficSource;
  PacketBatcher: new (options: PacketBatcherOptions) => PacketBatcher;
  BatchEngine: new (options?: AnalyzerOptions) => BatchEngine;
  LiveCapture: new (options: LiveCaptureOptions) => LiveCapture;
  PacketExtractor: new (options: ExtractOptions) => PacketExtractor;
  PcapIndexer: new () => PcapIndexer;
  indexCandidates(index: Uint8Array, options: ExtractOptions): IndexCandidates;
  storageRows(snapshot: Uint8Array, source: string, run: string): Uint8Array;
  tablesJson(): string;
}

/** napi-rs platform names this process could load, best first (libc is only asked when both
 * Linux builds are present: process.report is slow). */
function platformCandidates(dir: string): string[] {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return [base];
  const both = [`${base}-gnu`, `${base}-musl`].filter((t) => existsSync(join(dir, `netspectra.${t}.node`)));
  if (both.length < 2) return both.length ? both : [`${base}-gnu`];
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? both : both.reverse();
}

/** The package root: two levels above dist/ts/backend. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Loads the napi addon: the one built in this checkout (`npm run build:native`), else the
 * platform package an install brought (`netspectra-<triple>`); throws saying what it tried. */
export function loadNative(): Backend {
  const dir = join(packageRoot(), 'native');
  const triple = platformCandidates(dir)[0];
  const file = join(dir, `netspectra.${triple}.node`);
  const require = createRequire(import.meta.url);
  let binding: NativeBinding;
  if (existsSync(file)) {
    binding = require(file) as NativeBinding;
  } else {
    try {
      binding = require(`netspectra-${triple}`) as NativeBinding;
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not installed' : (e as Error).message;
      throw new Error(`native addon not found: neither ${file} (build it with \`npm run build:native\`) nor the package netspectra-${triple} (${why})`);
    }
  }
  return {
    name: 'native',
    createAnalyzer: (options) => new binding.Analyzer(options),
    createTrafficSource: (options) => new binding.TrafficSource(options),
    createPacketBatcher: (options) => new binding.PacketBatcher(options),
    createBatchEngine: (options) => new binding.BatchEngine(options),
    openLiveCapture: (options) => new binding.LiveCapture(options),
    createPacketExtractor: (options) => new binding.PacketExtractor(options),
    createPcapIndexer: () => new binding.PcapIndexer(),
    indexCandidates: (index, options) => binding.indexCandidates(index, options),
    storageRows: (snapshot, source, run) => binding.storageRows(snapshot, source, run),
    tablesJson: () => binding.tablesJson(),
  };
}
