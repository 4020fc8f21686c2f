// The engine API every backend implements. Bytes go in as whole chunks; results come back as
// JSON text or compact buffers, never one object per packet.

export interface ExactTaskOptions {
  name: string;
  /** Key fields, e.g. "SrcIP,DstPort". */
  key: string;
}

export interface AnalyzerOptions {
  /** Hash seed, decimal (a u64 does not fit a JS number). */
  seed?: string;
  exactTasks?: ExactTaskOptions[];
}

export interface Analyzer {
  beginFile(name: string): void;
  /** Parses a chunk; returns the error text once the file cannot be read further. */
  feed(chunk: Uint8Array): string | null;
  /** Ends the file; returns the error text if it was cut short. */
  endFile(): string | null;
  packets(): number;
  reportJson(topN: number): string;
  /** Fixed-width conversation rows (see ts/analyze/conversations.ts for the layout). */
  exportConversations(ipPairs: boolean): Uint8Array;
}

export interface TrafficOptions {
  seed?: number;
  packets?: number;
  hosts?: number;
  durationSeconds?: number;
  startMs?: number;
}

export interface TrafficSource {
  /** The next part of a pcap file (its header first); empty when done. */
  nextChunk(maxPackets: number): Uint8Array;
}

export interface Backend {
  name: 'native';
  createAnalyzer(options?: AnalyzerOptions): Analyzer;
  createTrafficSource(options?: TrafficOptions): TrafficSource;
}
