// `netspectra serve`: the query API over the store; with NATS configured, also an engine in
// this process whose windows are stored and whose open window answers live queries; with
// JetStream, a member of the engines' cluster that stores the cluster's windows.
import { createApiApp } from '../api/http.js';
import { LiveWindow } from '../api/live.js';
import { listen } from '../api/server.js';
import { mountConsole } from '../console/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { runEngine, type EngineHost, type RunningEngine } from '../engine/run-engine.js';
import { claimServeLease, createStoreWriter, defaultSource, openStore, openWindowStorage, type Store, type WindowStorage } from '../storage/index.js';
import { mountIngest } from '../api/ingest.js';
import { apiTokens, checkExposure, queryLimits, serverLimits } from '../api/settings.js';
import { migrate } from '../storage/schema.js';
import type { Log } from '../transport/nats.js';
import { runClusterMember, type RunningMember } from '../cluster/run.js';

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  store: Store;
  /** An engine in this process: live queries and a live console. */
  host?: EngineHost | null;
  /** Where that engine's windows go (writer queue and spill on the console). */
  storage?: WindowStorage | null;
  /** The source the engine writes as, or the one the console shows (analyze --serve). */
  source?: string;
}

/** The query API and, with console.enabled, the console, on api.host:api.port. `who` names the
 * command in the log. */
export async function startApiServer(cfg: NetspectraConfig, log: Log, who: string, opts: ApiServerOptions): Promise<ApiServer> {
  const { store, host = null, storage = null } = opts;
  const live = host ? new LiveWindow(store, () => host.engine.peek(), opts.source ?? defaultSource(cfg.storage)) : null;
  const tokens = apiTokens(cfg);
  checkExposure(cfg, cfg.api.host, tokens, who);
  const limits = serverLimits(cfg);
  const app = createApiApp({ store, maxLimit: cfg.api.maxLimit, live, tokens, log, maxBodyBytes: cfg.api.maxBodyBytes, queryLimits: queryLimits(cfg),
    pcap: { captures: cfg.probe.persist.dir ? [cfg.probe.persist.dir] : [], maxBytes: cfg.api.maxPcapBytes } });
  // Rows of processes that cannot open the store themselves, through the writer of this one.
  const ingest = storage?.sink ?? createStoreWriter(cfg.storage, store, log);
  mountIngest(app, ingest);
  const written = storage ?? { where: store.where, sink: ingest };
  const web = cfg.console.enabled ? mountConsole(app, { cfg, tokens, log, host, store, storage: written, source: host ? undefined : opts.source }) : null;
  const server = await listen(app, cfg.api.host, cfg.api.port, { upgrade: web?.upgrade, limits });
  const release = cfg.storage.kind === 'embedded' ? claimServeLease(cfg.storage, server.url) : () => {};
  log(`${who}: API on ${server.url} (Connect, gRPC, gRPC-web, HTTP/JSON under /api/v1, Grafana under /grafana) over ${store.where}` +
    `${tokens.length ? `, ${tokens.length} bearer token(s) required` : ', no token required'}${live ? ', live window of the engine' : ''}`);
  if (web) log(`${who}: console on ${server.url}${web.path} (${live ? 'live' : 'stored windows'}; /ws, /metrics)`);
  return {
    url: server.url,
    async close() {
      release();
      await web?.close();
      await server.close();
      if (!storage) await ingest.close();
    },
  };
}

/** A store for commands that also serve (probe --engine --serve, analyze --serve); it must be a
 * ClickHouse store. */
export async function openServedStore(cfg: NetspectraConfig, log: Log, who: string): Promise<Store> {
  if (cfg.storage.kind !== 'embedded' && cfg.storage.kind !== 'clickhouse') {
    throw new Error(`${who} queries a ClickHouse store: storage.kind is "${cfg.storage.kind}" (use embedded or clickhouse)`);
  }
  const store = await openStore(cfg.storage);
  // A store written by an older version gets the tables this one queries (alerts, flows).
  await migrate(store.client, store.database, cfg.storage.retention).catch((e: Error) => log(`${who}: the store's schema could not be brought up to date: ${e.message}`));
  return store;
}

export async function serveCommand(cfg: NetspectraConfig, log: Log, stopped: Promise<void>): Promise<number> {
  const store = await openServedStore(cfg, log, 'serve');
  let engine: RunningEngine | null = null;
  let storage: WindowStorage | null = null;
  const source = defaultSource(cfg.storage);
  let cluster: RunningMember | null = null;
  if (cfg.nats.url && cfg.nats.jetstream) {
    // The engines' windows, every partition's part, written here as the cluster's name.
    storage = openWindowStorage(cfg.storage, { source: cfg.cluster.name, log, store });
    cluster = await runClusterMember(cfg, log, storage, false);
  } else if (cfg.nats.url) {
    storage = openWindowStorage(cfg.storage, { source, log, store });
    engine = await runEngine(cfg, log, storage);
  }
  // Without an engine the console shows every source the store holds (it picks one), not this
  // host's name, which only an engine writes under.
  const server = await startApiServer(cfg, log, 'serve', { store, host: engine?.host, storage, source: engine ? source : cluster ? cfg.cluster.name : undefined });
  const failure = await Promise.race([stopped.then(() => null), engine ? engine.host.failed : cluster ? cluster.failed : new Promise<never>(() => {})]);
  log('serve: stopping');
  await server.close();
  if (engine) await engine.stop();
  if (cluster) await cluster.stop();
  await store.close();
  return failure ? 1 : 0;
}
