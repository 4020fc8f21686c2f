// Where `analyze` stores its rows: the configured store; or, when a running `serve` holds the
// embedded store, that server (its API takes the rows); else an error that says who holds it.
import type { NetspectraConfig } from '../config/index.js';
import {
  embeddedWhere, HandoffSink, openWindowStorage, readServeLease, spillBlock, spillDir, storeIdentity, StoreHeldError, type Store,
  type WindowStorage,
} from '../storage/index.js';
import type { Log } from '../storage/writer.js';
import { apiTokens } from '../api/settings.js';

export interface AnalysisStorageOptions {
  source: string;
  run: string;
  log: Log;
  /** A store this process holds already (analyze --serve). */
  store?: Store;
}

export async function openAnalysisStorage(cfg: NetspectraConfig, opts: AnalysisStorageOptions): Promise<WindowStorage | null> {
  try {
    return openWindowStorage(cfg.storage, opts);
  } catch (e) {
    if (!(e instanceof StoreHeldError)) throw e;
    const lease = readServeLease(cfg.storage);
    if (!lease) throw e;
    const spill = spillDir(cfg.storage);
    const identity = storeIdentity({ where: embeddedWhere(cfg.storage), database: cfg.storage.database });
    const sink = new HandoffSink(lease, apiTokens(cfg)[0] ?? null, (block) => spillBlock(spill, identity, block));
    await sink.check();
    opts.log(`analyze: the embedded store is held by netspectra serve (pid ${lease.pid}); handing the rows to it at ${lease.url}`);
    return openWindowStorage(cfg.storage, { ...opts, sink });
  }
}
