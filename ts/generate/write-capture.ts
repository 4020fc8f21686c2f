// Writes a synthetic capture made by the engine's deterministic traffic generator.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createTrafficSource, type Backend, type TrafficOptions } from '../backend/index.js';

/** Packets generated per call into the engine. */
const PACKETS_PER_CHUNK = 65_536;

/** Writes with `backend`'s generator, or with the first compiled backend's when it has none. */
export function writeSyntheticCapture(backend: Backend | undefined, file: string, options: TrafficOptions): number {
  mkdirSync(dirname(file), { recursive: true });
  const source = createTrafficSource(options, backend);
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (;;) {
      const chunk = source.nextChunk(PACKETS_PER_CHUNK);
      if (chunk.length === 0) break;
      writeSync(fd, chunk);
      written += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
