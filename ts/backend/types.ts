// The engine API every backend implements. Bytes go in as whole chunks; results come back as
// JSON text or compact buffers in the core's formats (read by closed-window.ts), never one
// object per packet.

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
  /** Keep closed windows until takeWindows(). */
  keepWindows?: boolean;
  /** Kept windows carry their snapshot (NSWS); default true. Off when only their JSON and rows
   * are read (the compiled backends). */
  snapshots?: boolean;
  tasks?: TaskOptions[];
  /** Flow records beside the tasks (the compiled backends). */
  flows?: FlowOptions;
  /** Batch engine: per-second counters kept for this many seconds. */
  seconds?: number;
  /** Closed windows and flow records also as storage rows written as this source and run
   * (the compiled backends). */
  source?: string;
  run?: string;
  /** 2: the core runs its sketches and makes windows and flow records on a second thread (the
   * same results); 1 (the default): one thread. The wasm backend runs one thread. */
  threads?: number;
  /** Offline analysis: only frames this pcap-filter expression matches are counted, as
   * `tcpdump -r FILE EXPR` reads them (the native backend, through libpcap). */
  bpf?: string;
}

/** The flow cache (crates/core/src/flow); times in seconds. */
export interface FlowOptions {
  idleTcp?: number;
  idleUdp?: number;
  idleIcmp?: number;
  idleOther?: number;
  activeTimeout?: number;
  closedLinger?: number;
  maxFlows?: number;
  /** Comma separated CIDRs. */
  localNetworks?: string;
  /** Probe name of records made from capture files. */
  probe?: string;
  /** Read flows' first payloads for their application and server name (default true). */
  names?: boolean;
}

export interface Analyzer {
  beginFile(name: string): void;
  /** Parses a chunk; returns the error text once the file cannot be read further. */
  feed(chunk: Uint8Array): string | null;
  /** Ends the file; returns the error text if it was cut short. */
  endFile(): string | null;
  /** Ends the open window: its tasks are snapshotted into the report. */
  closeWindow(): void;
  /** Windows closed since the last call (with keepWindows), each in the core's closed window
   * format (readClosedWindow). */
  takeWindows(): Uint8Array[];
  packets(): number;
  reportJson(topN: number): string;
  /** Fixed-width conversation rows (see ts/analyze/conversations.ts for the layout). */
  exportConversations(ipPairs: boolean): Uint8Array;
  /** Flow records finished since the last call (JSON array text, ts/flows/types.ts); `flush`
   * ends every open flow first. Null without the `flows` option. The compiled backends only. */
  takeFlows?(flush: boolean): string | null;
  /** Flow records finished since the last call as rows of the `flows` table (the core's rows
   * buffer, readStorageRows); null without the `flows` option or a `source`. */
  takeFlowRows?(flush: boolean): Uint8Array | null;
  /** What the report says of the flow records taken so far (JSON, FlowSummary). */
  flowSummaryJson?(): string | null;
  /** Country and AS databases flow records are written with from now on (native only). */
  setGeo?(databases: GeoDatabases): void;
  /** The flow cache's counters (JSON); null without the `flows` option. */
  flowStatsJson?(): string | null;
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

/** Probe side of the transport: frames or capture-file chunks in, PacketBatch messages out. */
export interface PacketBatcherOptions {
  probeId: string;
  interface: string;
  /** Streams the records are split into by address pair (both directions in the same one). */
  partitions: number;
  /** Packets per batch. */
  batchPackets: number;
  seed?: string;
  /** The engine's flow settings: with them (and `names` not false) the probe reads flows' first
   * payloads and sends their application and server name with the records. */
  flows?: FlowOptions;
}

/** Cumulative capture counters stamped on every batch. */
export interface CaptureStats {
  captured: number;
  kernelDropped: number;
  interfaceDropped: number;
  probeDropped: number;
}

export interface SealedBatch {
  partition: number;
  sequence: number;
  packets: number;
  /** The encoded PacketBatch (proto/netspectra/v1/packet.proto). */
  message: Uint8Array;
}

export interface PacketBatcher {
  /** Decodes framed packets (u64 ts_ns, u32 wire_len, u32 cap_len, bytes); throws on bad framing. */
  addFrames(frames: Uint8Array, linkType: number, interfaceIndex: number): number;
  beginCapture(): void;
  addCapture(chunk: Uint8Array): string | null;
  endCapture(): string | null;
  packets(): number;
  pending(): number;
  take(all: boolean, stats: CaptureStats, sentMs: number): SealedBatch[];
}

export interface ApplyResult {
  probeId: string;
  sequence: number;
  packets: number;
  duplicate: boolean;
  skipped: number;
  /** "garbage" | "truncated" | "version" | "invalid" when the message was refused. */
  errorKind?: string | null;
  error?: string | null;
}

/** Finished flow records: rows of the `flows` table (with a `source`), JSON (when asked). */
export interface TakenFlows {
  rows?: Uint8Array | null;
  json?: string | null;
}

/** MMDB files' bytes, each with the name errors give it. */
export interface GeoDatabases {
  asn?: Uint8Array;
  asnFile?: string;
  country?: Uint8Array;
  countryFile?: string;
}

/** Engine side of the transport: PacketBatch messages in, closed windows out. */
export interface BatchEngine {
  apply(message: Uint8Array): ApplyResult;
  /** Country and AS databases flow records are written with from now on (native only). */
  setGeo?(databases: GeoDatabases): void;
  skipBefore(ms: number): void;
  closeWindow(): void;
  /** Windows closed since the last call, each in the core's closed window format. */
  takeWindows(): Uint8Array[];
  openWindow(): { startMs: number; endMs: number } | null;
  /** A copy of the open window (closed window format), which keeps counting: live queries and
   * the console. */
  peekWindow(): Uint8Array | null;
  statsJson(): string;
  /** Flow records finished since the last call: rows (with a `source`) and, with `json`, JSON
   * array text; `flush` ends every open flow first. Null without the `flows` option. */
  takeFlows(flush: boolean, json: boolean): TakenFlows | null;
  /** No batch came for this long (ms, wall clock): flows idle by then end. */
  flowsIdle(ms: number): void;
  /** A page of the open flows (JSON, FlowPage) for a query string
   * (limit, offset, sort, dir, proto, ip, port); throws naming a bad parameter; null without flows. */
  queryFlows(query: string): string | null;
  /** Per-second counters of seconds beginning in [from, to) ms (JSON array); null without the
   * `seconds` option. */
  secondsJson(fromMs: number, toMs: number): string | null;
}

export interface LiveCaptureOptions {
  interface: string;
  filter?: string;
  snaplen?: number;
  promiscuous?: boolean;
  bufferBytes?: number;
}

/** A libpcap capture, polled: each poll returns every waiting frame, framed as addFrames takes. */
export interface LiveCapture {
  linkType(): number;
  poll(maxBytes: number): Uint8Array;
  stats(): { received: number; dropped: number; interfaceDropped: number };
  close(): void;
}

/** What `extract` cuts out (crates/core/src/extract.rs): a frame is kept when it answers every
 * part given. */
export interface ExtractOptions {
  /** A flow, either direction: both addresses, the protocol number, the ports (TCP, UDP, SCTP). */
  aIp?: string;
  aPort?: number;
  bIp?: string;
  bPort?: number;
  protocol?: number;
  communityId?: string;
  communityIdSeed?: number;
  /** Source or destination in one of these addresses or networks. */
  networks?: string[];
  /** [from, to) in nanoseconds since the epoch, as decimal text. */
  fromNs?: string;
  toNs?: string;
  /** A pcap-filter expression (libpcap). */
  bpf?: string;
  format?: 'pcapng' | 'pcap';
  /** Output size limit in bytes; 0: none. */
  maxBytes?: number;
}

export interface ExtractStats {
  framesRead: number;
  framesWritten: number;
  bytesWritten: number;
  /** Selected frames a pcap output could not hold (another link type than its first). */
  otherLinkType: number;
  limitReached: boolean;
}

export interface PacketExtractor {
  /** Reads a chunk of the current file; returns the output it made. Throws on a damaged file. */
  feed(chunk: Uint8Array): Uint8Array;
  /** Ends the current file; throws when it was cut short. */
  nextFile(): void;
  /** The rest of the output. */
  finish(): Uint8Array;
  stats(): ExtractStats;
}

/** Builds the index of a pcap file (crates/core/src/extract/index.rs). */
export interface PcapIndexer {
  /** Throws when the file is not a pcap or is damaged. */
  feed(chunk: Uint8Array): void;
  /** The index; throws when the file ended inside a record. */
  finish(): Uint8Array;
}

/** What an index says of its file for a selection. */
export interface IndexCandidates {
  kind: 'none' | 'all' | 'records';
  /** With "records": the record offsets, u32 little-endian, in file order. */
  offsets: Uint8Array;
  /** The size of the file the index was made from. */
  indexedSize: number;
}

export type BackendName = 'native' | 'wasm' | 'js';

export interface Backend {
  name: BackendName;
  createAnalyzer(options?: AnalyzerOptions): Analyzer;
  /** The synthetic traffic generator; only the compiled backends carry it. */
  createTrafficSource?(options?: TrafficOptions): TrafficSource;
  /** The live transport (probe batching, batch engine, capture); the native backend carries it. */
  createPacketBatcher?(options: PacketBatcherOptions): PacketBatcher;
  createBatchEngine?(options?: AnalyzerOptions): BatchEngine;
  openLiveCapture?(options: LiveCaptureOptions): LiveCapture;
  /** Packets back out of captures (`extract`); the native backend carries it. */
  createPacketExtractor?(options: ExtractOptions): PacketExtractor;
  /** Indexes of persisted pcap files; the native backend carries them. */
  createPcapIndexer?(): PcapIndexer;
  /** Throws when the index is damaged. */
  indexCandidates?(index: Uint8Array, options: ExtractOptions): IndexCandidates;
  /** Storage rows of a window snapshot (crates/core/src/rows: RowBinary per table, then the
   * rows kept out of their tables), read by ts/storage/rows.ts. Throws on a damaged snapshot.
   * The compiled backends carry it. */
  storageRows?(snapshot: Uint8Array, source: string, run: string): Uint8Array;
  /** The core's stored tables and their columns (JSON: table -> [[name, type], ...]). */
  tablesJson?(): string;
}
