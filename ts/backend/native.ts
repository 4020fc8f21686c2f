import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Analyzer, AnalyzerOptions, Backend, TrafficOptions, TrafficSource } from './types.js';

interface NativeBinding {
  Analyzer: new (options?: AnalyzerOptions) => Analyzer;
  TrafficSource: new (options?: TrafficOptions) => TrafficSource;
}

export function platformTriple(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return `${base}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

/** The package root: two levels above dist/ts/backend. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Loads the napi addon built by `npm run build:native`; throws with the path it tried. */
export function loadNative(): Backend {
  const file = join(packageRoot(), 'native', `netspectra.${platformTriple()}.node`);
  if (!existsSync(file)) {
    throw new Error(`native addon not found at ${file} (build it with \`npm run build:native\`)`);
  }
  const binding = createRequire(import.meta.url)(file) as NativeBinding;
  return {
    name: 'native',
    createAnalyzer: (options) => new binding.Analyzer(options),
    createTrafficSource: (options) => new binding.TrafficSource(options),
  };
}
