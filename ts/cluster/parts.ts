// Closed windows of the cluster. The engine holding a partition publishes its part of each
// window (the core's closed-window buffer: counters, report, storage rows; not the snapshot) to
// <windowSubject>.<partition> in the windows stream, with a message id per partition, window
// and chunk: a part published again after a failover (the same packets give the same bytes) is
// stored once. Readers (the alerter, the stores) follow the stream from a saved sequence and
// merge a window's parts.
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { readClosedWindow, withMoreRows, withoutSnapshot, type ClosedWindow } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { follow, type Follower } from './follow.js';
import { ensureStreamConfig } from '../transport/nats.js';

const NS_PER_S = 1e9;
/** Room left in a message for its headers. */
const HEADER_ROOM = 4096;

/** A partition's part of a closed window, as read back from the stream. */
export interface Part {
  partition: number;
  /** The engine that published it. */
  engine: string;
  window: ClosedWindow;
  /** Stream sequence of its first and last chunk. */
  firstSeq: number;
  seq: number;
}

/** Creates (or updates) the windows stream. Its duplicate window covers a failover: the lease
 * TTL and the replay of an open window, many times over. */
export async function ensureWindowStream(nc: NatsConnection, cfg: NetspectraConfig): Promise<void> {
  const maxAge = cfg.nats.maxAge;
  await ensureStreamConfig(nc, {
    name: cfg.cluster.windowStream,
    subjects: [`${cfg.cluster.windowSubject}.>`],
    max_age: Math.round(maxAge * NS_PER_S),
    duplicate_window: Math.round(Math.min(maxAge, Math.max(600, 60 * cfg.cluster.leaseTtl)) * NS_PER_S),
  });
}

/**
 * Publishes a partition's part number `index` (counted in its checkpoint, so the same whichever
 * engine publishes it), in chunks under the server's message size; resolves once the stream
 * holds every chunk (or had them already: then `duplicate`).
 */
export async function publishPart(
  js: JetStreamClient, cfg: NetspectraConfig, maxPayload: number, engine: string, partition: number, index: number, w: ClosedWindow,
  flowRows: Uint8Array | null = null,
): Promise<{ duplicate: boolean }> {
  // Readers need the counters, the report and the rows; the sketch state stays home. Flow
  // records finished by the window's close come with its rows (table `flows`).
  const raw = flowRows ? withMoreRows(withoutSnapshot(w.raw), flowRows) : withoutSnapshot(w.raw);
  const size = Math.max(1024, maxPayload - HEADER_ROOM);
  const chunks = Math.max(1, Math.ceil(raw.byteLength / size));
  let duplicate = true;
  for (let i = 0; i < chunks; i++) {
    const h = headers();
    h.set('Netspectra-Partition', String(partition));
    h.set('Netspectra-Engine', engine);
    h.set('Netspectra-Part', String(index));
    h.set('Netspectra-Chunk', `${i}/${chunks}`);
    const ack = await js.publish(`${cfg.cluster.windowSubject}.${partition}`, raw.subarray(i * size, Math.min(raw.byteLength, (i + 1) * size)), {
      msgID: `${partition}:${index}:${i}`,
      headers: h,
      timeout: 10_000,
    });
    duplicate &&= ack.duplicate;
  }
  return { duplicate };
}

/** Follows the windows stream from `fromSeq` (1: the beginning) and hands each whole part to
 * `onPart`, in stream order, one at a time. A message that is not a readable part is logged and
 * skipped. */
export function readParts(js: JetStreamClient, cfg: NetspectraConfig, fromSeq: number, onPart: (p: Part) => Promise<void>, log: (line: string) => void): Follower {
  const open = new Map<string, { firstSeq: number; chunks: Uint8Array[]; got: number }>();
  let bad = 0;
  return follow(js, cfg.cluster.windowStream, `${cfg.cluster.windowSubject}.>`, fromSeq, async (m) => {
    const partition = Number(m.headers?.get('Netspectra-Partition'));
    const [index, count] = (m.headers?.get('Netspectra-Chunk') ?? '').split('/').map(Number);
    const engine = m.headers?.get('Netspectra-Engine') ?? '';
    if (!Number.isInteger(partition) || !(count > 0) || !(index >= 0 && index < count)) {
      if (bad++ === 0) log(`cluster: message ${m.seq} on ${m.subject} is not a window part (headers missing); further ones are only counted`);
      return;
    }
    // By part, not by engine: after a failover mid-part, the chunks the stream already held come
    // from the engine that died, the rest from its successor.
    const key = `${partition}:${m.headers?.get('Netspectra-Part') ?? ''}`;
    let part = open.get(key);
    if (index === 0 || !part) part = { firstSeq: m.seq, chunks: [], got: 0 };
    part.chunks[index] = m.data;
    part.got++;
    if (part.got < count) {
      open.set(key, part);
      return;
    }
    open.delete(key);
    let window: ClosedWindow;
    try {
      window = readClosedWindow(count === 1 ? part.chunks[0] : Buffer.concat(part.chunks));
    } catch (e) {
      if (bad++ === 0) log(`cluster: the part ending at message ${m.seq} cannot be read: ${(e as Error).message}; further ones are only counted`);
      return;
    }
    await onPart({ partition, engine, window, firstSeq: part.firstSeq, seq: m.seq });
  }, log, `cluster: ${cfg.cluster.windowStream}`);
}

/** A window of the cluster: the parts of every partition that had traffic in it. */
export interface MergedWindow {
  startMs: number;
  endMs: number;
  parts: Part[];
  /** Partitions whose part had not come when the window was evaluated. */
  missing: number[];
  /** The stream sequence of its first part. */
  firstSeq: number;
}

/**
 * Gathers parts into windows, handed out oldest first once whole: every partition sent its
 * part, or sent a part of a later window (so it had nothing in this one: a partition's parts
 * come in window order), or `waitMs` passed since the first part came.
 */
export class WindowMerger {
  private readonly pending = new Map<number, { endMs: number; parts: Map<number, Part[]>; firstAt: number; firstSeq: number }>();
  /** Per partition, the start of the latest window it sent a part of. */
  private readonly latest = new Map<number, number>();
  /** Parts of windows already handed out (counted, not merged). */
  lateParts = 0;

  constructor(
    private readonly partitions: number,
    private readonly waitMs: number,
    /** Windows that end at or before this were handed out already (a resumed alerter). */
    public handedOutThrough = 0,
  ) {}

  add(p: Part, now = Date.now()): void {
    const { startMs, endMs } = p.window;
    if (startMs < this.handedOutThrough) {
      this.lateParts++;
      return;
    }
    this.latest.set(p.partition, Math.max(this.latest.get(p.partition) ?? -Infinity, startMs));
    let w = this.pending.get(startMs);
    if (!w) this.pending.set(startMs, (w = { endMs, parts: new Map(), firstAt: now, firstSeq: p.firstSeq }));
    w.endMs = Math.max(w.endMs, endMs);
    // A second part of one partition's window: packets that came after an idle close.
    const list = w.parts.get(p.partition);
    if (list) list.push(p);
    else w.parts.set(p.partition, [p]);
  }

  /** The stream sequence a resumed reader must start from to see every part still pending;
   * `next` when none is. */
  resumeSeq(next: number): number {
    let seq = next;
    for (const w of this.pending.values()) seq = Math.min(seq, w.firstSeq);
    return seq;
  }

  /** Windows whole by now, oldest first. */
  ready(now = Date.now()): MergedWindow[] {
    const out: MergedWindow[] = [];
    for (const startMs of [...this.pending.keys()].sort((a, b) => a - b)) {
      const w = this.pending.get(startMs)!;
      const missing: number[] = [];
      for (let p = 0; p < this.partitions; p++) {
        if (!w.parts.has(p) && !((this.latest.get(p) ?? -Infinity) > startMs)) missing.push(p);
      }
      if (missing.length && now - w.firstAt < this.waitMs) break;
      this.pending.delete(startMs);
      this.handedOutThrough = Math.max(this.handedOutThrough, w.endMs);
      out.push({ startMs, endMs: w.endMs, parts: [...w.parts.values()].flat().sort((a, b) => a.partition - b.partition), missing, firstSeq: w.firstSeq });
    }
    return out;
  }
}
