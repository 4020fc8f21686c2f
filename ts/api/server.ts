// One port for every client: a connection opening with the HTTP/2 preface (gRPC, Connect over
// h2c) goes to an HTTP/2 server, any other to an HTTP/1.1 server (curl, browsers, Grafana,
// Connect and gRPC-web over HTTP/1.1). Both serve the same hono app; WebSocket upgrades (the
// console's /ws) arrive on the HTTP/1.1 server and go to the handler given. With a certificate
// the port speaks TLS, the same two protocols inside.
//
// Every request passes the guard (guard.ts) from its headers before a route reads its body, and
// every connection has limits: a time to send its first bytes and headers, an idle time, a time
// to send a whole request, and a count of connections open at once.
import { readFileSync } from 'node:fs';
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { defaultAllowedHosts, refusalResponse, RequestGuard, type Refusal } from './guard.js';
import type { ApiApp } from './http.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Answers an HTTP/1.1 upgrade request: accepts it, or writes an HTTP error and ends the socket. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** What a connection and a request may take (api.* in the configuration). */
export interface ServerLimits {
  /** Host names requests may name besides the defaults (guard.ts); '*': any. */
  allowedHosts: string[];
  allowedOrigins: string[];
  /** From the first byte to the end of a request's headers (and to the protocol's first bytes). */
  headersTimeoutMs: number;
  /** A connection with no bytes either way for this long is closed. */
  idleTimeoutMs: number;
  /** From the first byte to the end of a request's body. */
  requestTimeoutMs: number;
  maxConnections: number;
  /** PEM certificate and key files: the port speaks TLS. */
  tls: { cert: string; key: string } | null;
}

export const DEFAULT_LIMITS: ServerLimits = {
  allowedHosts: [],
  allowedOrigins: [],
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  requestTimeoutMs: 60_000,
  maxConnections: 1024,
  tls: null,
};

export interface ListenOptions {
  upgrade?: UpgradeHandler;
  limits?: Partial<ServerLimits>;
}

export interface RunningServer {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

function relay(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      socket.write(chunk, done);
    },
    final(done) {
      socket.end();
      done();
    },
  });
  stream.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  return stream;
}

function noUpgrade(_req: IncomingMessage, socket: Duplex): void {
  const body = JSON.stringify({ error: 'this server takes no protocol upgrade here' });
  socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
}

function refuse(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, r: Refusal, h2: boolean, limit: number): void {
  const { status, headers, body } = refusalResponse(req.headers['content-type'], r);
  const send = () => {
    if (res.headersSent) return;
    res.writeHead(status, headers);
    res.end(body);
  };
  if (h2) {
    // The stream is answered and reset; the session goes on. A gRPC refusal (no body) is one
    // HEADERS frame that ends the stream, gRPC's trailers-only response: grpc-go clients
    // (grpcurl, grpc_health_probe) read a status only there or in trailers.
    const stream = (res as Http2ServerResponse).stream;
    if (body.length === 0 && !stream.headersSent && !stream.destroyed) stream.respond({ ':status': status, ...headers }, { endStream: true });
    else send();
    return;
  }
  // HTTP/1.1: a small body is let through unread (dropped as it arrives), so the client hears
  // the answer rather than a closed socket mid-write; past `limit` bytes, or a larger declared
  // length, the answer goes at once and the connection closes.
  headers.connection = 'close';
  const h1 = req as IncomingMessage;
  const declared = Number(h1.headers['content-length'] ?? NaN);
  if (declared > limit) {
    send();
    h1.socket.destroySoon();
    return;
  }
  let seen = 0;
  h1.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) {
      send();
      h1.socket.destroySoon();
    }
  });
  h1.once('end', send);
  h1.resume();
}

/** Ends an upgrade request the guard refused (the socket is still raw HTTP/1.1). */
function refuseUpgrade(socket: Duplex, r: Refusal): void {
  const body = JSON.stringify({ error: r.message });
  socket.end(`HTTP/1.1 ${r.status} ${r.status === 403 ? 'Forbidden' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export async function listen(api: ApiApp, host: string, port: number, opts: ListenOptions = {}): Promise<RunningServer> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const guard = new RequestGuard({
    tokens: api.tokens,
    allowedHosts: [...defaultAllowedHosts(host), ...limits.allowedHosts],
    allowedOrigins: limits.allowedOrigins,
    maxBodyBytes: api.maxBodyBytes,
    bodyLimits: api.bodyLimits,
    publicPaths: api.publicPaths,
  });
  const listener = getRequestListener(api.app.fetch);
  const http1 = createHttp1Server(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: Math.min(5000, limits.idleTimeoutMs),
      // Header and request times are checked this often (Node's default: every 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
    },
    (req, res) => {
      const refused = guard.check(req);
      if (refused) refuse(req, res, refused, false, guard.bodyLimit((req.url ?? '/').split('?')[0]));
      else listener(req, res);
    },
  );
  http1.timeout = limits.idleTimeoutMs;
  // The HTTP/1.1 server never listens itself (connections come from the router below); its
  // header and request times are checked from its 'listening' event on.
  http1.emit('listening');
  const upgrade = opts.upgrade ?? noUpgrade;
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = guard.checkOrigin(req);
    if (refused) refuseUpgrade(socket, refused);
    else upgrade(req, socket, head);
  });
  // Over HTTP/2 the Connect handler answers its service itself: behind hono's listener on a
  // relayed stream, gRPC responses lose their trailers.
  const http2 = createHttp2Server((req, res) => {
    const refused = guard.check(req);
    if (refused) refuse(req, res, refused, true, 0);
    else if (api.servicePaths.some((p) => req.url.startsWith(p))) api.connect(req, res);
    else listener(req as never, res as never);
  });
  const sockets = new Set<Socket>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Silent sockets are closed: first within the header time, later within the idle time.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    // Waits for enough bytes to tell the protocols apart, then hands the socket over.
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      if (isH2) {
        // An HTTP/2 session reads a net socket's handle directly and would miss the bytes read
        // here: it gets a stream that yields them first, then what the socket receives. Its
        // idle time is the socket's (bytes either way reset it).
        socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
        http2.emit('connection', relay(socket, seen));
      } else {
        // The HTTP/1.1 server keeps its own header, request and idle times.
        socket.setTimeout(0);
        socket.unshift(seen);
        http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  };
  let server: Server;
  if (limits.tls) {
    const tls = createTlsServer({ cert: readFileSync(limits.tls.cert), key: readFileSync(limits.tls.key), ALPNProtocols: ['h2', 'http/1.1'] }, accept);
    tls.on('tlsClientError', (_e, socket) => socket.destroy());
    server = tls;
  } else server = createNetServer(accept);
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `${limits.tls ? 'https' : 'http'}://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        http1.close();
        http2.close();
      }),
  };
}
