// One port for every client: a connection opening with the HTTP/2 preface (gRPC, Connect over
// h2c) goes to an HTTP/2 server, any other to an HTTP/1.1 server (curl, browsers, Grafana,
// Connect and gRPC-web over HTTP/1.1). Both serve the same hono app; WebSocket upgrades (the
// console's /ws) arrive on the HTTP/1.1 server and go to the handler given.
import { createServer as createHttp1Server, type IncomingMessage } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import type { ApiApp } from './http.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Answers an HTTP/1.1 upgrade request: accepts it, or writes an HTTP error and ends the socket. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ListenOptions {
  upgrade?: UpgradeHandler;
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

export async function listen(api: ApiApp, host: string, port: number, opts: ListenOptions = {}): Promise<RunningServer> {
  const listener = getRequestListener(api.app.fetch);
  const http1 = createHttp1Server(listener);
  http1.on('upgrade', opts.upgrade ?? noUpgrade);
  // Over HTTP/2 the Connect handler answers its service itself: behind hono's listener on a
  // relayed stream, gRPC responses lose their trailers.
  const http2 = createHttp2Server((req, res) => {
    if (req.url.startsWith(api.servicePath)) api.connect(req, res);
    else listener(req as never, res as never);
  });
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
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
        // here: it gets a stream that yields them first, then what the socket receives.
        http2.emit('connection', relay(socket, seen));
      } else {
        socket.unshift(seen);
        http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        http1.close();
        http2.close();
      }),
  };
}
