// The API server under concurrent clients, over the storage bench's store: `netspectra serve`'s
// app with the default limits and a token, and 1, 10 and 50 clients (each with its own
// keep-alive connection) asking one route in a loop for a few seconds. Per route and level:
// requests/s, p50 and p99 latency, and the refusals (429: the query pool's queue was full).
// Last, /healthz's latency while 50 clients keep the slowest route busy.
import { Agent, request } from 'node:http';
import { createApiApp } from '../ts/api/http.js';
import { queryLimits, serverLimits } from '../ts/api/settings.js';
import { listen } from '../ts/api/server.js';
import { loadConfig } from '../ts/config/index.js';
import type { Store } from '../ts/storage/index.js';

const TOKEN = 'bench-api-token';

export interface LoadResult {
  route: string;
  clients: number;
  requests: number;
  refused: number;
  /** Answers other than 200 and 429 (a query past its time limit: 504). */
  failed: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ApiLoad {
  seconds: number;
  limits: { maxQueries: number; queryTimeoutS: number };
  results: LoadResult[];
  /** /healthz while 50 clients ask the slowest route. */
  healthzUnderLoad: { p50Ms: number; p99Ms: number; requests: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] : NaN;
}

function get(agent: Agent, base: URL, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: base.hostname, port: base.port, path, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `clients` loops asking `path` until `ms` have passed; latencies of answered requests. */
async function drive(base: URL, path: string, clients: number, ms: number): Promise<{ times: number[]; refused: number; failed: number; elapsedMs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const times: number[] = [];
  let refused = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const status = await get(agent, base, path);
        if (status === 429) refused++;
        else if (status !== 200) failed++;
        else times.push(performance.now() - t);
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  agent.destroy();
  return { times, refused, failed, elapsedMs };
}

/** Routes asked, by name: paths over the stored range. */
export function benchRoutes(range: { startNs?: bigint; endNs?: bigint }, flow: { srcIp: string; dstIp: string; srcPort: number; dstPort: number; protocol: number }): Record<string, string> {
  const ms = (ns: bigint | undefined) => (ns === undefined ? '' : String(ns / 1_000_000n));
  const r = `start=${ms(range.startNs)}&end=${ms(range.endNs)}`;
  return {
    '/healthz': '/healthz',
    '/api/v1/tasks': '/api/v1/tasks',
    '/api/v1/heavy-hitters (Count-Min, by bytes, limit 100)': `/api/v1/heavy-hitters?task=heavy_flows&by=bytes&limit=100&${r}`,
    '/api/v1/spreaders (SuperSpread, limit 100)': `/api/v1/spreaders?task=scanners&limit=100&${r}`,
    '/api/v1/trace (one flow, both directions)': `/api/v1/trace?task=heavy_flows_exact&src_ip=${flow.srcIp}&dst_ip=${flow.dstIp}&src_port=${flow.srcPort}&dst_port=${flow.dstPort}&protocol=${flow.protocol}&both=1&${r}`,
    '/api/v1/flows (5-tuple task by SrcIP, limit 100)': `/api/v1/flows?task=heavy_flows_exact&group_by=SrcIP&limit=100&${r}`,
  };
}

export async function apiLoad(store: Store, routes: Record<string, string>, seconds: number, log: (line: string) => void): Promise<ApiLoad> {
  const cfg = loadConfig({ env: {}, overrides: { 'api.tokens': TOKEN } });
  const app = createApiApp({ store, maxLimit: cfg.api.maxLimit, live: null, tokens: [TOKEN], log, maxBodyBytes: cfg.api.maxBodyBytes, queryLimits: queryLimits(cfg) });
  const server = await listen(app, '127.0.0.1', 0, { limits: serverLimits(cfg) });
  const base = new URL(server.url);
  const results: LoadResult[] = [];
  try {
    for (const [route, path] of Object.entries(routes)) {
      for (const clients of [1, 10, 50]) {
        const { times, refused, failed, elapsedMs } = await drive(base, path, clients, seconds * 1000);
        const sorted = times.sort((a, b) => a - b);
        const r = { route, clients, requests: times.length, refused, failed, perSecond: (times.length * 1000) / elapsedMs, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
        log(`api bench: ${route}, ${clients} clients: ${r.perSecond.toFixed(1)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${refused} refused, ${failed} failed`);
        results.push(r);
      }
    }
    // /healthz beside 50 clients on the slowest route.
    const slowest = Object.values(routes).at(-1)!;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const busy = drive(base, slowest, 50, seconds * 1000);
    const probe: number[] = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const t = performance.now();
      await get(agent, base, '/healthz');
      probe.push(performance.now() - t);
      await new Promise((res) => setTimeout(res, 20));
    }
    await busy;
    agent.destroy();
    probe.sort((a, b) => a - b);
    const healthzUnderLoad = { p50Ms: percentile(probe, 0.5), p99Ms: percentile(probe, 0.99), requests: probe.length };
    log(`api bench: /healthz under load: p50 ${healthzUnderLoad.p50Ms.toFixed(1)} ms, p99 ${healthzUnderLoad.p99Ms.toFixed(1)} ms`);
    return { seconds, limits: { maxQueries: cfg.api.maxQueries, queryTimeoutS: cfg.api.queryTimeout }, results, healthzUnderLoad };
  } finally {
    await server.close();
  }
}
