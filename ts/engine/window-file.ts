// Closed windows as JSON Lines, appended (and, when acknowledgements depend on it, synced), so a
// restarted engine knows where the written windows end.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { ClosedWindow } from '../backend/index.js';

export class WindowFile {
  private readonly fd: number;

  /** `durable`: each window is on disk before `write` returns (JetStream acks wait for it). */
  constructor(readonly path: string, private readonly engineId: string, private readonly durable: boolean) {
    this.fd = openSync(path, 'a');
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

  write(w: ClosedWindow): void {
    const line = JSON.stringify({ engine: this.engineId, startMs: w.startMs, endMs: w.endMs, window: JSON.parse(w.json) }) + '\n';
    writeSync(this.fd, line);
    if (this.durable) fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
