// Closed windows as JSON Lines, appended (and, when acknowledgements depend on it, synced), so a
// restarted engine knows where the written windows end.
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import type { ClosedWindow } from '../backend/index.js';

export class WindowFile {
  private readonly fd: number;

  /** `durable`: each window is on disk before `write` returns (JetStream acks wait for it). */
  constructor(readonly path: string, private readonly engineId: string, private readonly durable: boolean) {
    this.fd = openSync(path, 'a+');
    this.dropTornLine();
  }

  /** A crash mid-write leaves a last line without its newline; appending after it would spoil
   * the next line too. That window was never acknowledged, so it is simply cut off. */
  private dropTornLine(): void {
    const size = fstatSync(this.fd).size;
    if (size === 0) return;
    const tail = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(this.fd, tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return;
    const lastNewline = tail.lastIndexOf(0x0a);
    ftruncateSync(this.fd, lastNewline < 0 ? Math.max(0, size - tail.length) : size - tail.length + lastNewline + 1);
  }

  /** End (ms) of the last window in the file, 0 when there is none. A torn last line (a crash
   * mid-write) is ignored: that window was not acknowledged, so it is delivered again. */
  static lastEnd(path: string): number {
    if (!existsSync(path)) return 0;
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        return (JSON.parse(lines[i]) as { endMs: number }).endMs;
      } catch {
        continue;
      }
    }
    return 0;
  }

  write(w: Pick<ClosedWindow, 'startMs' | 'endMs' | 'json'>): void {
    const line = JSON.stringify({ engine: this.engineId, startMs: w.startMs, endMs: w.endMs, window: JSON.parse(w.json) }) + '\n';
    writeSync(this.fd, line);
    if (this.durable) fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
