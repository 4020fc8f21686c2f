// The live web console beside the API, on the API's port and behind its tokens:
//   /console/      the page (index.html, app.js, style.css, Chart.js), no token needed
//   /ws            WebSocket: channels pushed once a second (hub.ts)
//   /api/flows, /api/counters, /api/stats, /api/timeline, /api/summary   (routes.ts)
//   /metrics       Prometheus text format (metrics.ts)
// With an engine in the process it is live; without one it shows what the store holds.
import { tokenCheck } from '../api/guard.js';
import type { ApiApp } from '../api/http.js';
import type { UpgradeHandler } from '../api/server.js';
import type { NetspectraConfig } from '../config/index.js';
import type { Store, WindowStorage } from '../storage/index.js';

/** The writer rows go through, and where. */
type StoredBy = Pick<WindowStorage, 'where' | 'sink'>;
import { ConsoleHub, type HubStats } from './hub.js';
import { METRICS_CONTENT_TYPE, metricsText } from '../ops/metrics.js';
import { mountPage, PAGE_PATH } from './page.js';
import { mountRoutes } from './routes.js';
import type { LiveEngine } from './types.js';

export { WS_PATH, WS_PROTOCOL } from './hub.js';
export { PAGE_PATH } from './page.js';
export type { Channel, LiveEngine, SecondCounters, FlowQuery } from './types.js';

export interface ConsoleOptions {
  cfg: NetspectraConfig;
  /** The API's bearer tokens (empty: none required). */
  tokens: string[];
  log: (line: string) => void;
  /** The in-process engine (serve --nats, probe --engine, analyze --serve); null: store only. */
  host: LiveEngine | null;
  store: Store | null;
  /** Where the engine's windows are written (writer queue and spill in /api/stats, /metrics). */
  storage?: StoredBy | null;
  /** Store mode: the source the page shows (analyze --serve: the analysis). */
  source?: string;
  /** Tests: a faster tick, a sooner drop. */
  intervalMs?: number;
  dropAfterMs?: number;
}

export interface MountedConsole {
  /** Pass to `listen(api, host, port, { upgrade })`: the /ws endpoint. */
  upgrade: UpgradeHandler;
  /** The page's path, for the startup log line. */
  path: string;
  clients(): number;
  stats(): HubStats;
  /** Reads the engine and pushes frames now (tests); the timer does it every second. */
  tick(): Promise<void>;
  /** Closes every WebSocket (1001) and stops the timer; call before the server closes. */
  close(): Promise<void>;
}

const DATA_PATHS = ['/api/flows', '/api/counters', '/api/stats', '/api/timeline', '/api/summary', '/metrics'];

/** Mounts the console's routes on the API app and starts its hub. */
export function mountConsole(api: ApiApp, opts: ConsoleOptions): MountedConsole {
  const { cfg, host, store } = opts;
  const storage = opts.storage ?? null;
  const hub = new ConsoleHub({
    host,
    tokens: opts.tokens,
    top: cfg.console.top,
    maxClients: cfg.console.maxClients,
    maxBuffered: cfg.console.maxBuffered,
    log: opts.log,
    intervalMs: opts.intervalMs,
    dropAfterMs: opts.dropAfterMs,
  });
  // The API app checks tokens already; checked here too, so the data stays behind them on any
  // app this is mounted on.
  const allowed = tokenCheck(opts.tokens);
  for (const path of DATA_PATHS) {
    api.app.use(path, async (c, next) => (allowed(c.req.header('authorization')) ? next() : c.json({ error: 'a valid bearer token is required' }, 401, { 'WWW-Authenticate': 'Bearer' })));
  }
  mountPage(api);
  mountRoutes(api.app, { cfg, host, store, storage, hub, source: opts.source });
  api.app.get('/metrics', async (c) => c.body(await metricsText({ host, store, storage, hub }), 200, { 'Content-Type': METRICS_CONTENT_TYPE }));
  hub.start();
  return {
    upgrade: (req, socket, head) => hub.upgrade(req, socket, head),
    path: PAGE_PATH,
    clients: () => hub.stats().clients,
    stats: () => hub.stats(),
    tick: () => hub.tick(),
    close: () => hub.close(),
  };
}
