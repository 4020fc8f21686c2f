// What every request passes before a route reads a byte of its body, on HTTP/1.1 and HTTP/2
// alike: the Host and Origin allow-lists (a web page reached through DNS rebinding, or another
// site's page, gets nothing), the bearer token, and the declared body size. A refusal is
// written in the client's protocol: gRPC and gRPC-web as a status in headers, Connect and
// HTTP/JSON as an HTTP status with a JSON body.
import { createHash, timingSafeEqual } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';

export interface GuardOptions {
  /** Bearer tokens; empty: none required. */
  tokens: string[];
  /** Host names (without port) requests may name; '*' in the list: any. */
  allowedHosts: string[];
  /** Origins (scheme://host[:port]) whose pages may call; a page of the server's own origin always may. */
  allowedOrigins: string[];
  /** Largest request body; paths listed in `bodyLimits` have their own. */
  maxBodyBytes: number;
  bodyLimits?: Record<string, number>;
  /** Paths answered without a token (the console's page and assets, /healthz). */
  publicPaths: Set<string>;
}

export interface Refusal {
  status: 400 | 401 | 403 | 413;
  /** The Connect code of the same refusal (also gRPC's, by number). */
  code: 'invalid_argument' | 'unauthenticated' | 'permission_denied' | 'resource_exhausted';
  message: string;
}

const GRPC_STATUS = { invalid_argument: 3, permission_denied: 7, resource_exhausted: 8, unauthenticated: 16 } as const;

/** A token's digest: every comparison takes the same time whatever the token's length. */
const digest = (s: string) => createHash('sha256').update(s).digest();

/** Accepts a request carrying one of the tokens; with no tokens configured, every request.
 * The header is read the same way over HTTP/1.1 and HTTP/2: surrounding white space trimmed,
 * "Bearer" in any case, one token. */
export function tokenCheck(tokens: string[]): (header: string | null | undefined) => boolean {
  const wanted = tokens.map(digest);
  return (header) => {
    if (wanted.length === 0) return true;
    const m = /^Bearer +(\S+)$/i.exec((header ?? '').trim());
    if (!m) return false;
    const got = digest(m[1]);
    let ok = false;
    // Every token compared, so the time does not tell which one matched.
    for (const w of wanted) ok = timingSafeEqual(w, got) || ok;
    return ok;
  };
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

/** The host names a server bound to `bindHost` answers by default: loopback names, the bound
 * address, and on a wildcard bind this machine's name and addresses. */
export function defaultAllowedHosts(bindHost: string): string[] {
  const names = new Set(LOOPBACK_NAMES);
  if (!WILDCARDS.has(bindHost)) names.add(bindHost.replace(/^\[|\]$/g, '').toLowerCase());
  else {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address.toLowerCase());
  }
  return [...names];
}

/** Whether `host` (an address or name) is a loopback address or name. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The host name of a Host header or :authority (no port, no brackets, lower case). */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']') < 0 ? undefined : a.indexOf(']'));
  const colon = a.lastIndexOf(':');
  return colon < 0 ? a : a.slice(0, colon);
}

type RequestHead = { method?: string; url?: string; headers: IncomingHttpHeaders };

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export class RequestGuard {
  private readonly allowed: (header: string | null | undefined) => boolean;
  private readonly anyHost: boolean;
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;

  constructor(readonly opts: GuardOptions) {
    this.allowed = tokenCheck(opts.tokens);
    this.anyHost = opts.allowedHosts.includes('*');
    this.hosts = new Set(opts.allowedHosts.map((h) => h.replace(/^\[|\]$/g, '').toLowerCase()));
    this.origins = new Set(opts.allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  }

  /** Host and Origin only: for WebSocket upgrades, whose token travels in the subprotocol. */
  checkOrigin(req: RequestHead): Refusal | null {
    const authority = one(req.headers[':authority']) ?? one(req.headers.host);
    if (!authority) return { status: 400, code: 'invalid_argument', message: 'the request names no Host' };
    if (!this.anyHost && !this.hosts.has(hostName(authority))) {
      return { status: 403, code: 'permission_denied', message: `host "${hostName(authority)}" is not one this server answers (api.allowedHosts)` };
    }
    const origin = one(req.headers.origin);
    if (origin !== undefined) {
      const o = origin.trim().toLowerCase();
      let same = false;
      try {
        same = new URL(o).host === authority.trim().toLowerCase();
      } catch {
        // "null" and other opaque origins are never the server's own.
      }
      if (!same && !this.origins.has(o)) return { status: 403, code: 'permission_denied', message: `origin "${origin}" may not call this server (api.allowedOrigins)` };
    }
    return null;
  }

  /** Everything a request needs before its body is read; null: admitted. */
  check(req: RequestHead): Refusal | null {
    const refused = this.checkOrigin(req);
    if (refused) return refused;
    const path = (req.url ?? '/').split('?')[0];
    if (!this.opts.publicPaths.has(path) && !this.allowed(one(req.headers.authorization))) {
      return { status: 401, code: 'unauthenticated', message: 'a valid bearer token is required' };
    }
    const length = one(req.headers['content-length']);
    const limit = this.bodyLimit(path);
    if (length !== undefined && Number(length) > limit) {
      return { status: 413, code: 'resource_exhausted', message: `the body is ${length} bytes; at most ${limit} are accepted (api.maxBodyBytes)` };
    }
    return null;
  }

  bodyLimit(path: string): number {
    return this.opts.bodyLimits?.[path] ?? this.opts.maxBodyBytes;
  }
}

/** The headers and body of a refusal, in the protocol the request's content type names. */
export function refusalResponse(contentType: string | undefined, r: Refusal): { status: number; headers: Record<string, string>; body: string | Buffer } {
  const ct = (contentType ?? '').toLowerCase().split(';')[0].trim();
  if (ct.startsWith('application/grpc')) {
    // gRPC and gRPC-web: HTTP 200 with the status in headers and no message.
    return { status: 200, headers: { 'content-type': ct, 'grpc-status': String(GRPC_STATUS[r.code]), 'grpc-message': encodeURIComponent(r.message) }, body: '' };
  }
  if (ct.startsWith('application/connect+')) {
    // A Connect stream: HTTP 200 and one end-of-stream envelope (flag 2) holding the error.
    const json = Buffer.from(JSON.stringify({ error: { code: r.code, message: r.message } }));
    const head = Buffer.alloc(5);
    head.writeUInt8(2, 0);
    head.writeUInt32BE(json.length, 1);
    return { status: 200, headers: { 'content-type': ct }, body: Buffer.concat([head, json]) };
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (r.status === 401) headers['www-authenticate'] = 'Bearer';
  // `error` for the HTTP/JSON routes; `code` and `message` as Connect clients read an error.
  return { status: r.status, headers, body: JSON.stringify({ error: r.message, code: r.code, message: r.message }) };
}
