// The pure TypeScript backend: the core's analysis ported module by module, for platforms where
// neither the napi addon nor wasm loads, with byte-identical reports, exports, snapshots and
// error texts. It has no traffic generator.
//
// Codemap (each file names its Rust original):
//   capture/  push parser for pcap and pcapng (reader, pcap, pcapng, capture-error, frame)
//   decode/   link -> IP -> transport and tunnels into a reused Decoded (never throws)
//   table/    conversations (own open-addressing index), hosts, fragment ports
//   engine/   tasks in tumbling windows (exact, Count-Min, SuperSpread)
//   analysis  per-packet accounting and the report; analyzer maps options as the binding does
import type { Backend } from '../types.js';
import { JsAnalyzer } from './analyzer.js';

export function loadJs(): Backend {
  return { name: 'js', createAnalyzer: (options) => new JsAnalyzer(options) };
}
