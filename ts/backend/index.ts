// Picks the engine backend. NETSPECTRA_BACKEND forces one by name.
import { loadNative } from './native.js';
import type { Backend } from './types.js';

export type { Analyzer, AnalyzerOptions, Backend, TaskOptions, TrafficOptions, TrafficSource } from './types.js';

const loaders: Record<string, () => Backend> = { native: loadNative };

let cached: Backend | undefined;

export function loadBackend(forced = process.env.NETSPECTRA_BACKEND): Backend {
  if (forced) {
    const load = loaders[forced];
    if (!load) {
      throw new Error(`NETSPECTRA_BACKEND="${forced}" is not a backend of this build (available: ${Object.keys(loaders).join(', ')})`);
    }
    return load();
  }
  cached ??= loadNative();
  return cached;
}
