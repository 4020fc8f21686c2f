// Picks the engine backend: native (napi-rs addon), then wasm (the same core compiled to
// WebAssembly), then js (pure TypeScript). NETSPECTRA_BACKEND forces one by name.
import { availableParallelism } from 'node:os';
import { loadJs } from './js/index.js';
import { loadNative } from './native.js';
import type { Backend, BackendName, LiveCapture, LiveCaptureOptions, TrafficOptions, TrafficSource } from './types.js';
import { loadWasm } from './wasm.js';

export type {
  Analyzer, AnalyzerOptions, FlowOptions, GeoDatabases, ApplyResult, Backend, BackendName, BatchEngine, CaptureStats, LiveCapture, PacketBatcher,
  SealedBatch, TakenFlows, TaskOptions, TrafficOptions, TrafficSource,
} from './types.js';
export {
  closedWindowBuffer, CORE_TABLES, readClosedWindow, readRows, withMoreRows, withoutSnapshot, type ClosedWindow, type CoreRowBlock, type CoreRows, type CoreTable,
  type QuarantinedRow,
} from './closed-window.js';

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

/** `preferred` when it `has` what is needed, else the first compiled backend that loads and
 * has it (the js backend carries neither the generator, the transport nor storage rows). */
function withFeature<B extends Backend>(preferred: Backend | undefined, has: (b: Backend) => b is B, what: string): B {
  if (preferred && has(preferred)) return preferred;
  for (const name of ['native', 'wasm'] as const) {
    try {
      const b = load(name);
      if (has(b)) return b;
    } catch (e) {
      loadFailures[name] = (e as Error).message;
    }
  }
  throw new Error(`${what} the native or wasm backend: ${JSON.stringify(loadFailures)}`);
}

type Generator = Backend & Required<Pick<Backend, 'createTrafficSource'>>;
type Transport = Backend & Required<Pick<Backend, 'createPacketBatcher' | 'createBatchEngine'>>;
type RowMaker = Backend & Required<Pick<Backend, 'storageRows' | 'tablesJson'>>;

export function createTrafficSource(options: TrafficOptions, preferred?: Backend): TrafficSource {
  const has = (b: Backend): b is Generator => Boolean(b.createTrafficSource);
  return withFeature(preferred, has, 'the traffic generator needs').createTrafficSource(options);
}

/** The threads the core engine runs on, for a configured `threads` (0: two when the machine
 * has two cores or more); undefined where the backend runs one thread (wasm, js). */
export function coreThreads(configured: number, backend: Backend): number | undefined {
  if (backend.name !== 'native') return undefined;
  return configured > 0 ? configured : availableParallelism() >= 2 ? 2 : 1;
}

/** The backend of the live transport (probe batching, batch engine): the one `loadBackend`
 * picks when it carries it, else the first compiled backend that loads. */
export function transportBackend(preferred: Backend = loadBackend()): Transport {
  const has = (b: Backend): b is Transport => Boolean(b.createPacketBatcher && b.createBatchEngine);
  return withFeature(preferred, has, 'probe and engine need');
}

const rowMaker = (b: Backend): b is RowMaker => Boolean(b.storageRows && b.tablesJson);

/** Storage rows of a window snapshot (see `Backend.storageRows`). */
export function storageRows(snapshot: Uint8Array, source: string, run: string, preferred: Backend = loadBackend()): Uint8Array {
  return withFeature(preferred, rowMaker, 'storing windows needs').storageRows(snapshot, source, run);
}

/** The core's stored tables and columns (see `Backend.tablesJson`). */
export function tablesJson(preferred: Backend = loadBackend()): string {
  return withFeature(preferred, rowMaker, 'storing windows needs').tablesJson();
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
