// The engine API every backend implements. Bytes go in as whole chunks; results come back as
// JSON text or compact buffers, never one object per packet.

/** One task as the engine takes it: field lists as "SrcIP,DstPort" text. */
export interface TaskOptions {
  name: string;
  type: 'exact' | 'countmin' | 'superspread';
  key: string;
  distinct?: string;
  element?: string;
  depth?: number;
  width?: number;
  conservative?: boolean;
  heavyHitters?: number;
  registers?: number;
  registerBits?: number;
  decayBase?: number;
  threshold?: number;
}

export interface AnalyzerOptions {
  /** Hash seed, decimal (a u64 does not fit a JS number). */
  seed?: string;
  /** Window length in seconds; 0 makes the whole input one window. */
  windowSeconds?: number;
  /** Rows per top-N list in window reports. */
  top?: number;
  /** Keep compact window snapshots until takeSnapshots(). */
  keepSnapshots?: boolean;
  tasks?: TaskOptions[];
}

export interface Analyzer {
  beginFile(name: string): void;
  /** Parses a chunk; returns the error text once the file cannot be read further. */
  feed(chunk: Uint8Array): string | null;
  /** Ends the file; returns the error text if it was cut short. */
  endFile(): string | null;
  /** Ends the open window: its tasks are snapshotted into the report. */
  closeWindow(): void;
  /** Compact snapshots of windows closed since the last call (with keepSnapshots). */
  takeSnapshots(): Uint8Array[];
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

export type BackendName = 'native' | 'wasm' | 'js';

export interface Backend {
  name: BackendName;
  createAnalyzer(options?: AnalyzerOptions): Analyzer;
  /** The synthetic traffic generator; only the compiled backends carry it. */
  createTrafficSource?(options?: TrafficOptions): TrafficSource;
}
