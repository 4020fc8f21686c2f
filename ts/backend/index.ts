// Picks the engine backend: native (napi-rs addon), then wasm (the same core compiled to
// WebAssembly), then js (pure TypeScript). NETSPECTRA_BACKEND forces one by name.
import { loadJs } from './js/index.js';
import { loadNative } from './native.js';
import type { Backend, BackendName, LiveCapture, LiveCaptureOptions, TrafficOptions, TrafficSource } from './types.js';
import { loadWasm } from './wasm.js';

export type {
  Analyzer, AnalyzerOptions, ApplyResult, Backend, BackendName, BatchEngine, CaptureStats, ClosedWindow, LiveCapture, PacketBatcher,
  SealedBatch, TaskOptions, TrafficOptions, TrafficSource,
} from './types.js';

const loaders: Record<BackendName, () => Backend> = { native: loadNative, wasm: loadWasm, js: loadJs };
const ORDER: BackendName[] = ['native', 'wasm', 'js'];

const cache = new Map<BackendName, Backend>();
/** Why each backend that could not load failed, for `--verbose` style diagnostics. */
export const loadFailures: Partial<Record<BackendName, string>> = {};

function load(name: BackendName): Backend {
  let b = cache.get(name);
  if (!b) {
    b = loaders[name]();
    cache.set(name, b);
  }
  return b;
}

function isBackendName(s: string): s is BackendName {
  return (ORDER as string[]).includes(s);
}

/** The forced backend, or the first of native, wasm, js that loads. */
export function loadBackend(forced = process.env.NETSPECTRA_BACKEND): Backend {
  if (forced) {
    if (!isBackendName(forced)) {
      throw new Error(`NETSPECTRA_BACKEND="${forced}" is not a backend (choose ${ORDER.join(', ')})`);
    }
    return load(forced);
  }
  for (const name of ORDER) {
    try {
      return load(name);
    } catch (e) {
      loadFailures[name] = (e as Error).message;
    }
  }
  throw new Error(`no backend could be loaded: ${JSON.stringify(loadFailures)}`);
}

/** The traffic generator of the first compiled backend that loads (the js backend has none). */
export function createTrafficSource(options: TrafficOptions, preferred?: Backend): TrafficSource {
  if (preferred?.createTrafficSource) return preferred.createTrafficSource(options);
  for (const name of ['native', 'wasm'] as const) {
    try {
      const b = load(name);
      if (b.createTrafficSource) return b.createTrafficSource(options);
    } catch (e) {
      loadFailures[name] = (e as Error).message;
    }
  }
  throw new Error(`the traffic generator needs the native or wasm backend: ${JSON.stringify(loadFailures)}`);
}

type Transport = Backend & Required<Pick<Backend, 'createPacketBatcher' | 'createBatchEngine'>>;

/** The backend of the live transport (probe batching, batch engine): the one `loadBackend`
 * picks when it carries it, else the first compiled backend that loads (js has none). */
export function transportBackend(preferred: Backend = loadBackend()): Transport {
  const has = (b: Backend): b is Transport => Boolean(b.createPacketBatcher && b.createBatchEngine);
  if (has(preferred)) return preferred;
  for (const name of ['native', 'wasm'] as const) {
    try {
      const b = load(name);
      if (has(b)) return b;
    } catch (e) {
      loadFailures[name] = (e as Error).message;
    }
  }
  throw new Error(`probe and engine need the native or wasm backend: ${JSON.stringify(loadFailures)}`);
}

/** Storage rows of window snapshots: from the backend `loadBackend` picks when it has them,
 * else from the first compiled backend that loads (js has none). */
export function storageRows(snapshot: Uint8Array, source: string, preferred: Backend = loadBackend()): Uint8Array {
  if (preferred.storageRows) return preferred.storageRows(snapshot, source);
  for (const name of ['native', 'wasm'] as const) {
    try {
      const b = load(name);
      if (b.storageRows) return b.storageRows(snapshot, source);
    } catch (e) {
      loadFailures[name] = (e as Error).message;
    }
  }
  throw new Error(`storing windows needs the native or wasm backend: ${JSON.stringify(loadFailures)}`);
}

/** Live capture needs the native addon (libpcap is native code). */
export function openLiveCapture(options: LiveCaptureOptions): LiveCapture {
  let native: Backend;
  try {
    native = load('native');
  } catch (e) {
    throw new Error(`live capture needs the native backend: ${(e as Error).message}`);
  }
  return native.openLiveCapture!(options);
}
