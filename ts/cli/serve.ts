// `netspectra serve`: the query API over the store; with NATS configured, also an engine in
// this process whose windows are stored and whose open window answers live queries.
import { createApiApp } from '../api/http.js';
import { LiveWindow } from '../api/live.js';
import { listen } from '../api/server.js';
import type { NetspectraConfig } from '../config/index.js';
import { runEngine, type RunningEngine } from '../engine/run-engine.js';
import { defaultSource, openStore, openWindowStorage } from '../storage/index.js';
import { migrate } from '../storage/schema.js';
import type { Log } from '../transport/nats.js';

export function apiTokens(cfg: NetspectraConfig): string[] {
  return cfg.api.tokens.split(',').map((t) => t.trim()).filter(Boolean);
}

export async function serveCommand(cfg: NetspectraConfig, log: Log, stopped: Promise<void>): Promise<number> {
  if (cfg.storage.kind !== 'embedded' && cfg.storage.kind !== 'clickhouse') {
    throw new Error(`serve queries a ClickHouse store: storage.kind is "${cfg.storage.kind}" (use embedded or clickhouse)`);
  }
  const store = await openStore(cfg.storage);
  // A store written by an older version gets the tables this one queries (alert history).
  await migrate(store.client, store.database, cfg.storage.retention).catch((e: Error) => log(`serve: the store's schema could not be brought up to date: ${e.message}`));
  let engine: RunningEngine | null = null;
  let live: LiveWindow | null = null;
  if (cfg.nats.url) {
    const source = defaultSource(cfg.storage);
    const storage = openWindowStorage(cfg.storage, { source, log, store });
    engine = await runEngine(cfg, log, storage);
    const host = engine.host;
    live = new LiveWindow(store, async () => (await host.engine.peek())?.snapshot ?? null, source);
  }
  const tokens = apiTokens(cfg);
  const app = createApiApp({ store, maxLimit: cfg.api.maxLimit, live, tokens, log });
  const server = await listen(app, cfg.api.host, cfg.api.port);
  log(`serve: API on ${server.url} (Connect, gRPC, gRPC-web, HTTP/JSON under /api/v1, Grafana under /grafana) over ${store.where}` +
    `${tokens.length ? `, ${tokens.length} bearer token(s) required` : ', no token required'}${live ? ', live window of the engine' : ''}`);
  const failure = await Promise.race([stopped.then(() => null), engine ? engine.host.failed : new Promise<never>(() => {})]);
  log('serve: stopping');
  await server.close();
  if (engine) await engine.stop();
  await store.close();
  return failure ? 1 : 0;
}
