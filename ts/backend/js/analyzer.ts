// The Analyzer of the pure TypeScript backend: options mapped to the analysis exactly as the core
// maps them (crates/core/src/options.rs), errors and results byte for byte alike.
import { analyzerOptions, refuseBpf, expectBool, expectBytes, expectString, expectU32 } from '../arguments.js';
import type { Analyzer, AnalyzerOptions } from '../types.js';
import { Analysis, DEFAULT_SEED } from './analysis.js';
import { Engine, taskSpecs } from './engine/index.js';
import { rustF64Text } from './rust-text.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The core's validation errors reach callers as InvalidArg errors, as from the bindings. */
function invalid(message: string): Error {
  return Object.assign(new Error(message), { code: 'InvalidArg' });
}

/** Rust's `u64::from_str`: an optional '+', then decimal digits, no overflow. */
export function parseSeed(seed: string): bigint {
  if (/^\+?[0-9]+$/.test(seed)) {
    const v = BigInt(seed.replace('+', ''));
    if (v <= U64_MAX) return v;
  }
  throw invalid(`seed "${seed}" is not an unsigned 64-bit integer`);
}

/** The window in ns: `(w * 1e9).round() as u64` after the range check. */
export function windowNs(w: number): bigint {
  if (!(w >= 0 && w <= 86_400)) throw invalid(`window of ${rustF64Text(w)} s is outside 0..86400`);
  // Non-negative here, so rounding half up is Rust's half away from zero.
  return BigInt(Math.round(w * 1e9));
}

/** Task errors come back from the binding as InvalidArg errors. */
function invalidArg<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && !('code' in e)) Object.assign(e, { code: 'InvalidArg' });
    throw e;
  }
}

export class JsAnalyzer implements Analyzer {
  private readonly analysis: Analysis;

  constructor(options?: AnalyzerOptions) {
    const o = analyzerOptions(options);
    refuseBpf(o, 'js');
    let seed = DEFAULT_SEED;
    let window = 0n;
    let topN = 10;
    let keepWindows = false;
    if (o) {
      // The flow cache lives in the compiled core only; callers check `takeFlows` first.
      if (o.flows) throw invalid('AnalyzerOptions.flows: flow records need the native or wasm backend');
      if (o.seed !== undefined) seed = parseSeed(o.seed);
      if (o.windowSeconds !== undefined) window = windowNs(o.windowSeconds);
      if (o.top !== undefined) topN = o.top;
      keepWindows = o.keepWindows ?? false;
    }
    const engine = invalidArg(() => new Engine({ windowNs: window, tasks: taskSpecs(o?.tasks, seed) }, seed));
    this.analysis = new Analysis({ seed, topN, keepWindows, fragmentCapacity: 65_536 }, engine);
  }

  beginFile(name: string): void {
    this.analysis.beginFile(expectString(name, 'beginFile: name'));
  }

  feed(chunk: Uint8Array): string | null {
    return this.analysis.feed(expectBytes(chunk, 'feed: chunk'))?.message ?? null;
  }

  endFile(): string | null {
    return this.analysis.endFile()?.message ?? null;
  }

  closeWindow(): void {
    this.analysis.closeWindow();
  }

  takeWindows(): Uint8Array[] {
    return this.analysis.takeWindows();
  }

  packets(): number {
    return this.analysis.packets();
  }

  reportJson(topN: number): string {
    return this.analysis.reportJson(expectU32(topN, 'reportJson: topN'));
  }

  exportConversations(ipPairs: boolean): Uint8Array {
    return this.analysis.exportConversations(expectBool(ipPairs, 'exportConversations: ipPairs'));
  }
}
