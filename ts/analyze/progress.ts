// A progress bar on stderr, drawn only when stderr is a terminal.

export interface Progress {
  update(done: number): void;
  finish(): void;
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total < 8 * 1024 * 1024) return { update() {}, finish() {} };
  const start = Date.now();
  let last = 0;
  const draw = (done: number) => {
    const width = 30;
    const frac = Math.min(1, done / total);
    const filled = Math.round(frac * width);
    const secs = (Date.now() - start) / 1000;
    const rate = secs > 0 ? done / secs / 1e6 : 0;
    stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${rate.toFixed(0)} MB/s `);
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw(done);
      }
    },
    finish() {
      draw(total);
      stream.write('\n');
    },
  };
}
