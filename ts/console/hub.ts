// The console's WebSocket hub. Once a tick (a second) it reads the engine once: the open
// window (peek), the per-second counters since the last tick, the active alerts; it renders
// one frame per channel and sends the same text to every client subscribed to it. Sending
// never waits for a client: one whose unsent bytes exceed `maxBuffered` is skipped, and one
// that stays behind for `dropAfterMs` is dropped, so a slow browser costs the engine nothing.
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { AlertEvent } from '../shared/index.js';
import type { ClosedWindow } from '../backend/index.js';
import { tokenCheck } from '../api/guard.js';
import { protocolTotals, topLists, windowInfo, type WindowJson } from './frames.js';
import { CHANNELS, type AlertsFrame, type Channel, type LiveEngine, type ProtocolsFrame, type RatesFrame, type SecondCounters, type TopFrame, type WindowInfo } from './types.js';

export const WS_PATH = '/ws';
/** The subprotocol the page asks for beside `bearer.<token>`. */
export const WS_PROTOCOL = 'netspectra';
/** Seconds of counters the hub keeps for a new client's chart. */
const CHART_SECONDS = 600;
const RECENT_ALERTS = 20;

export interface HubOptions {
  host: LiveEngine | null;
  tokens: string[];
  top: number;
  maxClients: number;
  /** Unsent bytes above which a client's frames are skipped. */
  maxBuffered: number;
  log: (line: string) => void;
  intervalMs?: number;
  /** A client skipped for this long is dropped. */
  dropAfterMs?: number;
}

export interface HubStats {
  clients: number;
  connections: number;
  refused: number;
  framesSent: number;
  framesSkipped: number;
  dropped: number;
  ticks: number;
  /** Ticks that could not read the engine. */
  tickErrors: number;
}

interface Client {
  id: number;
  ws: WebSocket;
  channels: Set<Channel>;
  /** When it first had more than maxBuffered unsent; null while it keeps up. */
  behindSince: number | null;
}

/** The token of an upgrade request: the Authorization header, `?token=`, or the
 * `bearer.<token>` subprotocol (browsers cannot set headers on a WebSocket). */
export function upgradeToken(req: IncomingMessage, url: URL): string | undefined {
  if (req.headers.authorization) return req.headers.authorization;
  const q = url.searchParams.get('token');
  if (q) return `Bearer ${q}`;
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const bearer = offered.find((p) => p.startsWith('bearer.'));
  return bearer ? `Bearer ${bearer.slice('bearer.'.length)}` : undefined;
}

function refuse(socket: Duplex, status: number, error: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error });
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status]}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

export class ConsoleHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly allowed: (header: string | null | undefined) => boolean;
  private readonly intervalMs: number;
  private readonly dropAfterMs: number;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private nextId = 1;
  private seq = 0;
  /** Counters of the chart's seconds, by second start. */
  private readonly seconds = new Map<number, SecondCounters>();
  private latestT: number | null = null;
  private lastClosed: { info: WindowInfo; json: WindowJson } | null = null;
  /** The frame last sent on each channel, for clients that subscribe between ticks. */
  private readonly last = new Map<Channel, unknown>();
  private readonly recent: AlertEvent[] = [];
  private readonly unsubscribe: () => void = () => {};
  private readonly counters = { connections: 0, refused: 0, framesSent: 0, framesSkipped: 0, dropped: 0, ticks: 0, tickErrors: 0 };

  constructor(private readonly opts: HubOptions) {
    this.allowed = tokenCheck(opts.tokens);
    this.intervalMs = opts.intervalMs ?? 1000;
    this.dropAfterMs = opts.dropAfterMs ?? 10_000;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      // Clients only send subscriptions.
      maxPayload: 4096,
      // A browser that offers subprotocols needs one chosen: ours, else the one it sent.
      handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : ([...offered][0] ?? false)),
    });
    const host = opts.host;
    if (host) {
      const before = host.onWindow;
      const hook = (w: ClosedWindow) => {
        before(w);
        this.windowClosed(w);
      };
      host.onWindow = hook;
      const unsubscribe = host.alerting?.subscribe((e) => {
        this.recent.unshift(e);
        this.recent.length = Math.min(this.recent.length, RECENT_ALERTS);
      });
      this.unsubscribe = () => {
        unsubscribe?.();
        if (host.onWindow === hook) host.onWindow = before;
      };
    }
  }

  get mode(): 'live' | 'store' {
    return this.opts.host ? 'live' : 'store';
  }

  start(): void {
    if (this.timer || !this.opts.host) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stats(): HubStats {
    return { clients: this.clients.size, ...this.counters };
  }

  /** The http server's 'upgrade' event: answers it (a WebSocket, or an HTTP error) in all cases. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://console');
    if (url.pathname !== WS_PATH) return refuse(socket, 404, `no WebSocket at ${url.pathname}; the console's is ${WS_PATH}`);
    if (!this.allowed(upgradeToken(req, url))) {
      this.counters.refused++;
      return refuse(socket, 401, 'a valid bearer token is required (Authorization header, ?token= or the bearer.<token> subprotocol)', { 'WWW-Authenticate': 'Bearer' });
    }
    if (this.clients.size >= this.opts.maxClients) {
      this.counters.refused++;
      return refuse(socket, 503, `the console has ${this.clients.size} clients, its limit (console.maxClients)`);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const c: Client = { id: this.nextId++, ws, channels: new Set(), behindSince: null };
    this.clients.add(c);
    this.counters.connections++;
    ws.on('message', (data, isBinary) => this.message(c, data, isBinary));
    ws.on('close', () => this.clients.delete(c));
    // A reset connection ends in 'close'; nothing else to do.
    ws.on('error', () => {});
    this.sendJson(c, { type: 'hello', mode: this.mode, channels: CHANNELS, intervalMs: this.intervalMs, top: this.opts.top });
  }

  private message(c: Client, data: RawData, isBinary: boolean): void {
    let wanted: unknown;
    try {
      if (isBinary) throw new Error('binary');
      wanted = (JSON.parse(data.toString()) as { subscribe?: unknown }).subscribe;
    } catch {
      return this.sendJson(c, { type: 'error', error: 'expected a JSON text message {"subscribe":[channels...]}' });
    }
    if (!Array.isArray(wanted)) return this.sendJson(c, { type: 'error', error: '"subscribe" must be an array of channel names' });
    const unknown = wanted.filter((ch) => !CHANNELS.includes(ch as Channel));
    if (unknown.length) {
      return this.sendJson(c, { type: 'error', error: `unknown channel(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')}; channels: ${CHANNELS.join(', ')}` });
    }
    const added = (wanted as Channel[]).filter((ch) => !c.channels.has(ch));
    c.channels = new Set(wanted as Channel[]);
    this.sendJson(c, { type: 'subscribed', channels: [...c.channels] });
    // What the page would otherwise wait a tick for; the chart gets the seconds kept so far.
    for (const ch of added) {
      if (ch === 'rates' && this.seconds.size) {
        const rates = this.last.get('rates') as RatesFrame | undefined;
        this.sendJson(c, this.frame('rates', { seconds: [...this.seconds.values()], window: rates?.window ?? null } satisfies RatesFrame, true));
      } else if (ch !== 'rates' && this.last.has(ch)) {
        this.sendJson(c, this.frame(ch, this.last.get(ch), true));
      }
    }
  }

  private frame(channel: Channel, data: unknown, history = false): object {
    return { type: 'frame', channel, seq: this.seq, t: Date.now(), ...(history ? { history: true } : {}), data };
  }

  private sendJson(c: Client, value: object): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(value));
  }

  private windowClosed(w: ClosedWindow): void {
    const json = JSON.parse(w.json) as WindowJson;
    this.lastClosed = { info: windowInfo(json, w.startMs, w.endMs, false), json };
  }

  /** Reads the engine once and pushes the frames. Never overlaps itself. */
  async tick(): Promise<void> {
    const host = this.opts.host;
    if (!host || this.ticking) return;
    this.ticking = true;
    try {
      await this.read(host);
      this.counters.ticks++;
    } catch (e) {
      if (this.counters.tickErrors++ === 0) this.opts.log(`console: the engine could not be read: ${(e as Error).message}; further failures are only counted`);
    } finally {
      this.ticking = false;
    }
  }

  private async read(host: LiveEngine): Promise<void> {
    const peeked = await host.engine.peek();
    let shown: { info: WindowInfo; json: WindowJson } | null = this.lastClosed;
    // A peek answered before a window closed describes that window: it is in the closed totals.
    if (peeked && peeked.startMs >= (this.lastClosed?.info.endMs ?? -Infinity)) {
      const json = JSON.parse(peeked.json) as WindowJson;
      shown = { info: windowInfo(json, peeked.startMs, peeked.endMs, true), json };
    }
    // The shown window's seconds (for its protocols) and every second since the last tick.
    const from = Math.min(shown?.info.startMs ?? Infinity, this.latestT ?? Infinity);
    const seconds = await host.seconds(Number.isFinite(from) ? from : undefined);
    const fresh = seconds.filter((s) => this.latestT === null || s.t >= this.latestT);
    for (const s of fresh) {
      this.seconds.set(s.t, s);
      if (this.latestT === null || s.t > this.latestT) this.latestT = s.t;
    }
    for (const t of this.seconds.keys()) {
      if (t <= this.latestT! - CHART_SECONDS * 1000) this.seconds.delete(t);
    }
    this.seq++;
    const lists = shown ? topLists(shown.json, this.opts.top) : { talkers: [], heavyHitters: [], spreaders: [] };
    const window = shown?.info ?? null;
    const alerting = host.alerting;
    const data: Record<Channel, unknown> = {
      rates: { seconds: fresh, window } satisfies RatesFrame,
      protocols: { window, protocols: protocolTotals(seconds, window?.startMs ?? Infinity, window?.endMs ?? -Infinity) } satisfies ProtocolsFrame,
      top_talkers: { window, lists: lists.talkers } satisfies TopFrame,
      heavy_hitters: { window, lists: lists.heavyHitters } satisfies TopFrame,
      spreaders: { window, lists: lists.spreaders } satisfies TopFrame,
      alerts: { rules: alerting?.evaluator.rules.length ?? 0, active: alerting?.evaluator.active() ?? [], recent: this.recent } satisfies AlertsFrame,
    };
    const text = new Map<Channel, string>();
    for (const ch of CHANNELS) {
      this.last.set(ch, data[ch]);
      text.set(ch, JSON.stringify(this.frame(ch, data[ch])));
    }
    this.push(text);
  }

  private push(text: Map<Channel, string>): void {
    const now = Date.now();
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN || c.channels.size === 0) continue;
      if (c.ws.bufferedAmount > this.opts.maxBuffered) {
        c.behindSince ??= now;
        this.counters.framesSkipped += c.channels.size;
        if (now - c.behindSince >= this.dropAfterMs) this.drop(c, now - c.behindSince);
        continue;
      }
      c.behindSince = null;
      for (const ch of c.channels) {
        c.ws.send(text.get(ch)!);
        this.counters.framesSent++;
      }
    }
  }

  private drop(c: Client, behindMs: number): void {
    this.counters.dropped++;
    this.clients.delete(c);
    this.opts.log(`console: dropped WebSocket client ${c.id}: ${c.ws.bufferedAmount} bytes unsent for ${(behindMs / 1000).toFixed(1)} s`);
    // The close frame would queue behind what it never read: end the connection now.
    c.ws.close(1013, `too slow: frames not read for ${Math.round(this.dropAfterMs / 1000)} s`);
    c.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe();
    const closing = [...this.clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close(1001, 'the server is stopping');
          // A client that does not answer the close is cut off.
          setTimeout(() => c.ws.terminate(), 1000).unref();
        }),
    );
    await Promise.all(closing);
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
