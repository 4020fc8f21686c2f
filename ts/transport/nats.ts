// NATS for probes and engines: the connection (reconnecting forever, with its state tracked)
// and the JetStream stream of packet batches the no-loss mode uses.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConfig } from '../config/index.js';

export type Log = (line: string) => void;

/** Subject of one partition, and the wildcard that covers them all. */
export const partitionSubject = (prefix: string, partition: number) => `${prefix}.${partition}`;
export const allPartitions = (prefix: string) => `${prefix}.>`;

export interface Connection {
  nc: NatsConnection;
  /** False between a disconnect and the next reconnect. */
  connected: () => boolean;
  /** Called on every reconnect. */
  onReconnect: (fn: () => void) => void;
}

export async function connectNats(cfg: NatsConfig, name: string, log: Log): Promise<Connection> {
  const servers = cfg.url.split(',').map((s) => s.trim()).filter(Boolean);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5_000, maxPingOut: 3 });
  } catch (e) {
    throw new Error(`cannot connect to NATS at ${cfg.url}: ${(e as Error).message}`);
  }
  let up = true;
  const reconnected: (() => void)[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        up = false;
        log(`nats: disconnected from ${s.server}`);
      } else if (s.type === 'reconnect') {
        up = true;
        log(`nats: reconnected to ${s.server}`);
        for (const fn of reconnected) fn();
      }
    }
  })();
  return { nc, connected: () => up && !nc.isClosed(), onReconnect: (fn) => reconnected.push(fn) };
}

const NS_PER_S = 1e9;

/** Creates (or updates) the stream over every partition subject. */
export async function ensureStream(nc: NatsConnection, cfg: NatsConfig): Promise<void> {
  await ensureStreamConfig(nc, {
    name: cfg.stream,
    subjects: [allPartitions(cfg.subject)],
    max_age: Math.round(cfg.maxAge * NS_PER_S),
    duplicate_window: Math.round(cfg.duplicateWindow * NS_PER_S),
  });
}

/** Creates a stream, or brings an existing one to this configuration. */
export async function ensureStreamConfig(nc: NatsConnection, config: { name: string; subjects: string[]; max_age: number; duplicate_window: number }): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw e;
    await jsm.streams.add(config);
  }
}
