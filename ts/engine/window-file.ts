// Closed windows as JSON Lines, appended: the engine's own record of what it wrote.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { ClosedWindow } from '../backend/index.js';

export class WindowFile {
  private readonly fd: number;

  constructor(readonly path: string, private readonly engineId: string) {
    this.fd = openSync(path, 'a+');
    this.dropTornLine();
  }

  /** A crash mid-write leaves a last line without its newline; appending after it would spoil
   * the next line too, so it is cut off. */
  private dropTornLine(): void {
    const size = fstatSync(this.fd).size;
    if (size === 0) return;
    const tail = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(this.fd, tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return;
    const lastNewline = tail.lastIndexOf(0x0a);
    ftruncateSync(this.fd, lastNewline < 0 ? Math.max(0, size - tail.length) : size - tail.length + lastNewline + 1);
  }

  write(w: Pick<ClosedWindow, 'startMs' | 'endMs' | 'json'>): void {
    const line = JSON.stringify({ engine: this.engineId, startMs: w.startMs, endMs: w.endMs, window: JSON.parse(w.json) }) + '\n';
    writeSync(this.fd, line);
  }

  close(): void {
    closeSync(this.fd);
  }
}
