// Raw packets to rotating pcap files, written by a stream off the capture path: the probe hands
// over whole polls of frames and never waits for the disk. When the disk falls behind by more
// than `maxBuffered`, frames are dropped from the files (never from the analysis) and counted.
// A file is handed to `onClosed` once it is whole (the probe indexes it for `extract`); the
// oldest files go with their indexes.
import { createWriteStream, readdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { INDEX_SUFFIX } from '../extract/index.js';

const FRAME_HEADER = 16;

export class PcapRotator {
  private out: WriteStream | null = null;
  private path = '';
  /** What `onClosed` is doing with closed files (awaited by close). */
  private closing: Promise<void> = Promise.resolve();
  private size = 0;
  private index = 0;
  droppedFrames = 0;
  files = 0;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly fileSize: number,
    private readonly keep: number,
    private readonly linkType: number,
    private readonly snaplen: number,
    private readonly maxBuffered = 64 * 1024 * 1024,
    private readonly onClosed: (file: string) => Promise<void> = async () => {},
  ) {}

  /** Frames in the probe's framed form (u64 ts_ns, u32 wire_len, u32 cap_len, bytes). */
  write(frames: Uint8Array): void {
    const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
    if (this.out && this.out.writableLength > this.maxBuffered) {
      for (let at = 0; at < frames.length; at += FRAME_HEADER + view.getUint32(at + 12, true)) this.droppedFrames++;
      return;
    }
    // pcap record headers (nanosecond resolution) in place of the frame headers.
    const out = Buffer.allocUnsafe(frames.length);
    for (let at = 0; at < frames.length;) {
      const ts = view.getBigUint64(at, true);
      const cap = view.getUint32(at + 12, true);
      out.writeUInt32LE(Number(ts / 1_000_000_000n), at);
      out.writeUInt32LE(Number(ts % 1_000_000_000n), at + 4);
      out.writeUInt32LE(cap, at + 8);
      out.writeUInt32LE(view.getUint32(at + 8, true), at + 12);
      out.set(frames.subarray(at + FRAME_HEADER, at + FRAME_HEADER + cap), at + FRAME_HEADER);
      at += FRAME_HEADER + cap;
    }
    if (!this.out || this.size + out.length > this.fileSize) this.rotate();
    this.out!.write(out);
    this.size += out.length;
  }

  private end(): Promise<void> {
    const [out, path] = [this.out, this.path];
    if (!out) return Promise.resolve();
    const done = new Promise<void>((resolve) => out.end(resolve)).then(() => this.onClosed(path));
    this.closing = this.closing.then(() => done);
    return this.closing;
  }

  private rotate(): void {
    void this.end();
    const name = `${this.prefix}-${new Date().toISOString().replace(/[:.]/g, '')}-${String(this.index++).padStart(6, '0')}.pcap`;
    this.path = join(this.dir, name);
    this.out = createWriteStream(this.path);
    this.out.on('error', () => this.droppedFrames++);
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b23c4d, 0); // nanosecond pcap
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(this.snaplen, 16);
    header.writeUInt32LE(this.linkType, 20);
    this.out.write(header);
    this.size = header.length;
    this.files++;
    // The new file may not exist yet (the stream opens it asynchronously): keep `keep - 1` others.
    const older = readdirSync(this.dir).filter((f) => f.startsWith(`${this.prefix}-`) && f.endsWith('.pcap') && f !== name).sort();
    for (const old of older.slice(0, Math.max(0, older.length - (this.keep - 1)))) {
      rmSync(join(this.dir, old), { force: true });
      rmSync(join(this.dir, `${old}${INDEX_SUFFIX}`), { force: true });
    }
  }

  /** Ends the file being written; resolves once `onClosed` is done with every file. */
  async close(): Promise<void> {
    await this.end();
    this.out = null;
  }
}
