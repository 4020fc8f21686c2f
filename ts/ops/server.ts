// The ops port of an engine or a probe (`engine.ops`, `probe.ops`: "host:port"): /metrics for
// Prometheus, /healthz and /readyz for probes and load balancers. Plain HTTP, no token, nothing
// but counters; it listens on loopback unless told otherwise.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CONTENT_TYPE } from './metrics.js';

export interface OpsSource {
  metrics(): Promise<string> | string;
  /** Null: alive and working; otherwise why not (a failed engine, a lost capture). */
  problem(): string | null;
  /** Null: ready for work (connected); otherwise what it waits for. */
  waiting?(): string | null;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

/** "host:port", "[v6]:port" or ":port" (loopback) as a listen address. */
export function opsAddress(text: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw new Error(`${key}: "${text}" is not host:port (e.g. 127.0.0.1:9470; port 0: any free port)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function startOpsServer(address: string, key: string, source: OpsSource): Promise<OpsServer> {
  const { host, port } = opsAddress(address, key);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'GET only\n');
    if (path === '/healthz') {
      const problem = source.problem();
      return problem ? answer(503, `${problem}\n`) : answer(200, 'ok\n');
    }
    if (path === '/readyz') {
      const problem = source.problem() ?? source.waiting?.() ?? null;
      return problem ? answer(503, `${problem}\n`) : answer(200, 'ok\n');
    }
    if (path === '/metrics') {
      Promise.resolve(source.metrics()).then(
        (text) => answer(200, text, METRICS_CONTENT_TYPE),
        (e: Error) => answer(500, `${e.message}\n`),
      );
      return;
    }
    answer(404, 'this port answers /metrics, /healthz and /readyz\n');
  });
  // Scrapers keep no idle connection open for long.
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`${key}: cannot listen on ${address}: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
