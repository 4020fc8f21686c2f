// The API server's settings from the configuration: bearer tokens (`api.tokens`, comma
// separated; the server checks them, clients send the first), connection and request limits,
// and the rule that a port others can reach needs tokens.
import type { NetspectraConfig } from '../config/index.js';
import { isLoopback } from './guard.js';
import type { QueryLimits } from './query-pool.js';
import type { ServerLimits } from './server.js';

const list = (v: string) => v.split(',').map((t) => t.trim()).filter(Boolean);

export function apiTokens(cfg: NetspectraConfig): string[] {
  return list(cfg.api.tokens);
}

export function serverLimits(cfg: NetspectraConfig): ServerLimits {
  const a = cfg.api;
  if (Boolean(a.tlsCert) !== Boolean(a.tlsKey)) throw new Error('api.tlsCert and api.tlsKey go together: set both or neither');
  return {
    allowedHosts: list(a.allowedHosts),
    allowedOrigins: list(a.allowedOrigins),
    headersTimeoutMs: a.headersTimeout * 1000,
    requestTimeoutMs: a.requestTimeout * 1000,
    idleTimeoutMs: a.idleTimeout * 1000,
    maxConnections: a.maxConnections,
    tls: a.tlsCert ? { cert: a.tlsCert, key: a.tlsKey } : null,
  };
}

export function queryLimits(cfg: NetspectraConfig): QueryLimits {
  return { concurrency: cfg.api.maxQueries, timeoutS: cfg.api.queryTimeout, memoryBytes: cfg.api.queryMemory };
}

/** Refuses to serve data with no token on an address others can reach, unless told to. */
export function checkExposure(cfg: NetspectraConfig, host: string, tokens: string[], who: string): void {
  if (tokens.length || isLoopback(host) || cfg.api.insecure) return;
  throw new Error(`${who}: listening on ${host} with no tokens would give the data to anyone who reaches the port: ` +
    'set NETSPECTRA_API_TOKENS (api.tokens), listen on loopback, or pass --insecure (api.insecure) to do it anyway');
}
