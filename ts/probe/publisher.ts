// Where a probe's batches go: core NATS, JetStream, or an engine in the same process. NATS
// publishers keep a bounded queue while the server is unreachable and drop the oldest batches
// beyond it, counting their packets (the probe's own drops, reported in every batch).
import { jetstream } from '@nats-io/jetstream';
import type { SealedBatch } from '../backend/index.js';
import type { NatsConfig } from '../config/index.js';
import { partitionSubject, type Connection, type Log } from '../transport/nats.js';
import type { EngineHost } from '../engine/run-engine.js';

export interface Publisher {
  publish(batch: SealedBatch): void;
  /** Packets discarded because the queue was full. */
  readonly droppedPackets: number;
  readonly queuedBytes: number;
  /** Resolves once the queue and anything in flight are down to `bytes`. */
  drain(bytes?: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bounded FIFO of batches; `push` drops the oldest to stay within `limit` bytes. */
class BatchQueue {
  private items: SealedBatch[] = [];
  private head = 0;
  bytes = 0;
  dropped = 0;
  private warned = false;

  constructor(private readonly limit: number, private readonly log: Log) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(b: SealedBatch): void {
    this.items.push(b);
    this.bytes += b.message.byteLength;
    while (this.bytes > this.limit && this.length > 0) {
      const old = this.shift()!;
      this.dropped += old.packets;
      if (!this.warned) {
        this.warned = true;
        this.log(`probe: publish queue full (${this.limit} bytes): dropping the oldest batches, counted as the probe's own drops`);
      }
    }
  }

  shift(): SealedBatch | undefined {
    if (this.head >= this.items.length) return undefined;
    const b = this.items[this.head++];
    this.bytes -= b.message.byteLength;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return b;
  }

  unshift(b: SealedBatch): void {
    this.items.splice(this.head, 0, b);
    this.bytes += b.message.byteLength;
  }

  /** Takes the first of the next `within` batches that `ok` accepts (a bounded look-ahead). */
  takeFirst(ok: (b: SealedBatch) => boolean, within: number): SealedBatch | undefined {
    const end = Math.min(this.items.length, this.head + within);
    for (let i = this.head; i < end; i++) {
      if (!ok(this.items[i])) continue;
      if (i === this.head) return this.shift();
      const [b] = this.items.splice(i, 1);
      this.bytes -= b.message.byteLength;
      return b;
    }
    return undefined;
  }
}

/** Core NATS: at-most-once. Batches wait in the queue while disconnected. */
export class NatsPublisher implements Publisher {
  private readonly queue: BatchQueue;
  private sinceFlush = 0;

  constructor(private readonly conn: Connection, private readonly cfg: NatsConfig, log: Log) {
    this.queue = new BatchQueue(cfg.reconnectBuffer, log);
    conn.onReconnect(() => this.pump());
  }

  get droppedPackets(): number {
    return this.queue.dropped;
  }

  get queuedBytes(): number {
    return this.queue.bytes + this.sinceFlush;
  }

  publish(b: SealedBatch): void {
    this.queue.push(b);
    this.pump();
  }

  private pump(): void {
    while (this.conn.connected() && this.queue.length) {
      const b = this.queue.shift()!;
      this.conn.nc.publish(partitionSubject(this.cfg.subject, b.partition), b.message);
      this.sinceFlush += b.message.byteLength;
    }
  }

  async drain(bytes = 0): Promise<void> {
    if (this.queuedBytes <= bytes) return;
    while (!this.conn.connected() && this.queue.bytes > bytes) await sleep(20);
    this.pump();
    // A round trip: everything published before it has reached the server.
    await this.conn.nc.flush().catch(() => {});
    this.sinceFlush = 0;
  }

  async close(): Promise<void> {
    await this.drain();
  }
}

/** JetStream: at-least-once with de-duplication by probe id and sequence (Nats-Msg-Id), so a
 * batch re-sent after a lost acknowledgement is stored once. One batch per partition is in
 * flight at a time: pipelined batches of a partition could be stored out of order when the
 * connection drops between them (the earlier lost, the later sent after the reconnect) or the
 * stream refuses one and takes the next, and an engine would count the earlier one as late.
 * Partitions are sent in parallel. */
export class JetStreamPublisher implements Publisher {
  private readonly queue: BatchQueue;
  private readonly js;
  /** Partitions with a batch in flight. */
  private readonly busy = new Set<number>();
  private inFlightBytes = 0;
  /** How far past the head `pump` looks for a batch of a partition that is not busy. */
  private static readonly LOOK_AHEAD = 256;

  constructor(private readonly conn: Connection, private readonly cfg: NatsConfig, private readonly probeId: string, private readonly log: Log) {
    this.queue = new BatchQueue(cfg.reconnectBuffer, log);
    this.js = jetstream(conn.nc);
    conn.onReconnect(() => this.pump());
  }

  get droppedPackets(): number {
    return this.queue.dropped;
  }

  get queuedBytes(): number {
    return this.queue.bytes + this.inFlightBytes;
  }

  publish(b: SealedBatch): void {
    this.queue.push(b);
    this.pump();
  }

  private pump(): void {
    while (this.queue.length && this.conn.connected()) {
      const b = this.queue.takeFirst((x) => !this.busy.has(x.partition), JetStreamPublisher.LOOK_AHEAD);
      if (!b) return;
      this.busy.add(b.partition);
      this.inFlightBytes += b.message.byteLength;
      this.js
        .publish(partitionSubject(this.cfg.subject, b.partition), b.message, { msgID: `${this.probeId}:${b.sequence}`, timeout: 5_000 })
        .then(
          () => this.settled(b),
          (e: Error) => {
            // Not stored (or not confirmed): send it again, first in line (nothing later of its
            // partition was sent); the stream drops it if it was in fact stored.
            // Its partition waits a moment (the stream may be starting).
            this.queue.unshift(b);
            this.inFlightBytes -= b.message.byteLength;
            if (!/timeout|disconnect|closed|503|no responders/i.test(e.message)) this.log(`probe: JetStream publish failed: ${e.message}`);
            setTimeout(() => this.settled(b, 0), 250).unref();
          },
        );
    }
  }

  private settled(b: SealedBatch, bytes = b.message.byteLength): void {
    this.busy.delete(b.partition);
    this.inFlightBytes -= bytes;
    this.pump();
  }

  async drain(bytes = 0): Promise<void> {
    while (this.queuedBytes > bytes) {
      this.pump();
      await sleep(2);
    }
  }

  async close(): Promise<void> {
    await this.drain();
  }
}

/** Embedded mode: straight into an engine in this process. */
export class EnginePublisher implements Publisher {
  readonly droppedPackets = 0;

  constructor(private readonly host: EngineHost) {}

  get queuedBytes(): number {
    return this.host.engine.queuedBytes;
  }

  publish(b: SealedBatch): void {
    void this.host.submit(b.message, 'in-process');
  }

  async drain(bytes = 0): Promise<void> {
    while (this.host.engine.queuedBytes > bytes) await sleep(1);
  }

  async close(): Promise<void> {
    await this.drain();
  }
}
