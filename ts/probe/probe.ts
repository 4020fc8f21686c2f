// `netspectra probe`: frames from a live interface (or a capture file, replayed as fast as the
// transport takes it) decoded in Rust a poll at a time, cut into PacketBatch messages at
// `batchPackets` or `flushInterval`, and handed to a publisher.
import { closeSync, openSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CaptureStats, LiveCapture, PacketBatcher } from '../backend/index.js';
import { loadBackend, openLiveCapture, transportBackend } from '../backend/index.js';
import { indexFile } from '../extract/index.js';
import { flowOptions } from '../flows/options.js';
import type { NetspectraConfig } from '../config/index.js';
import { grouped } from '../report/units.js';
import type { ProbeCounts } from '../ops/metrics.js';
import type { Log } from '../transport/nats.js';
import { PcapRotator } from './pcap-rotator.js';
import type { Publisher } from './publisher.js';

/** Bytes drained from the kernel ring per poll. */
const POLL_BYTES = 4 * 1024 * 1024;

export function probeId(cfg: NetspectraConfig): string {
  return cfg.probe.id || hostname();
}

export class Probe {
  private readonly batcher: PacketBatcher;
  private capture: LiveCapture | null = null;
  private persist: PcapRotator | null = null;
  private stopped = false;
  private captured = 0;
  private batches = 0;
  private readonly flushTimer: NodeJS.Timeout;
  private statsTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private stoppedSignal: () => void = () => {};
  readonly id: string;

  constructor(private readonly cfg: NetspectraConfig, private readonly publisher: Publisher, private readonly log: Log, private readonly interfaceName: string) {
    this.id = probeId(cfg);
    this.batcher = transportBackend().createPacketBatcher({
      probeId: this.id,
      interface: interfaceName,
      partitions: cfg.probe.partitions,
      batchPackets: cfg.probe.batchPackets,
      seed: cfg.seed,
      flows: flowOptions(cfg.flows),
    });
    this.flushTimer = setInterval(() => this.send(true), cfg.probe.flushInterval * 1000);
  }

  /** The counters at stop, once the capture is closed. */
  private finalStats: CaptureStats | null = null;

  stats(): CaptureStats {
    if (this.finalStats) return this.finalStats;
    const s = this.capture?.stats();
    return {
      captured: this.captured,
      kernelDropped: s?.dropped ?? 0,
      interfaceDropped: s?.interfaceDropped ?? 0,
      probeDropped: this.publisher.droppedPackets,
    };
  }

  private send(all: boolean): void {
    if (all && this.batcher.pending() === 0) return;
    for (const b of this.batcher.take(all, this.stats(), Date.now())) {
      this.publisher.publish(b);
      this.batches++;
    }
  }

  /** The counts /metrics shows. */
  counts(): ProbeCounts {
    return { id: this.id, interface: this.interfaceName, stats: this.stats(), batches: this.batches, pcapDropped: this.persist ? this.persist.droppedFrames : null };
  }

  statsLine(): string {
    const s = this.stats();
    return `probe ${this.id}: captured ${grouped(s.captured)}, sent ${grouped(this.batches)} batches; drops: kernel ${grouped(s.kernelDropped)}, interface ${grouped(s.interfaceDropped)}, probe ${grouped(s.probeDropped)}` +
      (this.persist ? `, pcap files ${grouped(this.persist.droppedFrames)}` : '');
  }

  /** Captures until `stop`. */
  live(): Promise<void> {
    const p = this.cfg.probe;
    const capture = openLiveCapture({ interface: p.interface, filter: p.bpf, snaplen: p.snaplen, promiscuous: p.promiscuous, bufferBytes: p.bufferSize });
    this.capture = capture;
    const linkType = capture.linkType();
    if (p.persist.dir) {
      // Each file is indexed once whole, off the capture path (`extract` reads only what a
      // selection needs); a file left unindexed (a crash) is read whole, or `extract --reindex`.
      const backend = loadBackend();
      const index = async (file: string) => {
        if (backend.createPcapIndexer) await indexFile(backend, file).catch((e: Error) => this.log(`probe: ${file} not indexed: ${e.message}`));
      };
      this.persist = new PcapRotator(p.persist.dir, `probe-${this.id}`, p.persist.fileSize, p.persist.files, linkType, p.snaplen, undefined, index);
    }
    this.log(`probe ${this.id}: capturing on ${p.interface} (link type ${linkType}, filter "${p.bpf}", snaplen ${p.snaplen}${p.promiscuous ? ', promiscuous' : ''})`);
    this.statsTimer = setInterval(() => this.log(this.statsLine()), 10_000);
    const poll = () => {
      this.pollTimer = null;
      if (this.stopped) return;
      let frames: Uint8Array;
      try {
        frames = capture.poll(POLL_BYTES);
      } catch (e) {
        this.log(`probe: ${(e as Error).message}`);
        void this.stop();
        return;
      }
      if (frames.length) {
        this.captured += this.batcher.addFrames(frames, linkType, 0);
        this.persist?.write(frames);
        this.send(false);
        setImmediate(poll);
      } else {
        this.pollTimer = setTimeout(poll, 1);
      }
    };
    poll();
    return new Promise((resolve) => (this.stoppedSignal = resolve));
  }

  /** Sends capture files as if captured now (times kept from the file); paced by the publisher. */
  async replayFiles(files: string[], chunkSize: number): Promise<number> {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (const file of files) {
      const fd = openSync(file, 'r');
      try {
        this.batcher.beginCapture();
        for (;;) {
          const n = readSync(fd, buf, 0, chunkSize, null);
          if (n === 0) break;
          const err = this.batcher.addCapture(buf.subarray(0, n));
          this.captured = this.batcher.packets();
          this.send(false);
          if (err) throw new Error(`${file}: ${err}`);
          if (this.publisher.queuedBytes > 16 * 1024 * 1024) await this.publisher.drain(4 * 1024 * 1024);
        }
        const err = this.batcher.endCapture();
        if (err) throw new Error(`${file}: ${err}`);
      } finally {
        closeSync(fd);
      }
    }
    this.send(true);
    await this.publisher.drain();
    return this.batcher.packets();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.capture) {
      // What is still in the ring belongs to this run.
      for (let frames = this.capture.poll(POLL_BYTES); frames.length; frames = this.capture.poll(POLL_BYTES)) {
        this.captured += this.batcher.addFrames(frames, this.capture.linkType(), 0);
        this.persist?.write(frames);
      }
    }
    clearInterval(this.flushTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.send(true);
    await this.publisher.close();
    await this.persist?.close();
    this.log(this.statsLine());
    this.finalStats = this.stats();
    this.capture?.close();
    this.stoppedSignal();
  }
}
