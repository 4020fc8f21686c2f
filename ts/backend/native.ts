import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Analyzer, AnalyzerOptions, Backend, TrafficOptions, TrafficSource } from './types.js';

interface NativeBinding {
  Analyzer: new (options?: AnalyzerOptions) => Analyzer;
  TrafficSource: new (options?: TrafficOptions) => TrafficSource;
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

/** Loads the napi addon built by `npm run build:native`; throws with the path it tried. */
export function loadNative(): Backend {
  const dir = join(packageRoot(), 'native');
  const file = join(dir, `netspectra.${platformCandidates(dir)[0]}.node`);
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
