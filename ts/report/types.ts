// The analysis report as produced by the engine (Rust builds the JSON; every backend emits the
// same text), plus what the CLI adds around it.
import type { AlertEvent } from '../shared/index.js';
import type { FlowSummary } from '../flows/types.js';

export interface FileReport {
  name: string;
  format: 'pcap' | 'pcapng' | 'unknown';
  byteOrder?: string;
  resolution?: string;
  linkTypes: number[];
  packets: number;
  bytesRead: number;
  skippedBlocks: number;
  /** Packets whose time is before 1970 or past 2554: counted without a time. */
  timesOutOfRange: number;
  error: string | null;
}

export interface ConversationRow {
  proto: string;
  a: string;
  portA: number;
  b: string;
  portB: number;
  packetsAtoB: number;
  bytesAtoB: number;
  packetsBtoA: number;
  bytesBtoA: number;
  firstTime: string | null;
  lastTime: string | null;
  tcpFlags: string;
  tunnel: string;
}

export interface ProblemRow {
  kind: 'truncated' | 'malformed' | 'unsupported';
  layer: string;
  reason: string;
  value: number;
  text: string;
  packets: number;
}

/** A key's fields, as present in the task's key. */
export interface KeyColumns {
  key: string;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  proto?: number;
  protoName?: string;
  /** IANA service names of the ports, when they have one (the core's table). */
  srcService?: string;
  dstService?: string;
  /** The other key fields, when the key holds them (crates/core/src/engine/snapshot.rs). */
  srcPrefix?: string;
  dstPrefix?: string;
  srcAs?: number;
  dstAs?: number;
  srcCountry?: string;
  dstCountry?: string;
  app?: string;
  serverName?: string;
  icmpType?: number;
  icmpCode?: number;
  tcpFlags?: number;
  tcpFlagsText?: string;
  dscp?: number;
  dscpName?: string;
  vlan?: number;
  direction?: string;
  probe?: string;
  interface?: string;
}

export interface ExactTaskReport {
  name: string;
  type: 'exact';
  key: string;
  distinct: string | null;
  keys: number;
  bytesPerKey: number;
  top: Array<KeyColumns & { packets: number; bytes: number; distinct?: number }>;
  topByDistinct?: Array<KeyColumns & { packets: number; bytes: number; distinct: number }>;
}

export interface HeavyHitterRow extends KeyColumns {
  packets: number;
  bytes: number;
  exactPackets?: number;
  exactBytes?: number;
}

export interface CountMinTaskReport {
  name: string;
  type: 'countmin';
  key: string;
  depth: number;
  width: number;
  conservative: boolean;
  counterBytes: number;
  memoryBytes: number;
  streamPackets: number;
  streamBytes: number;
  errorBoundPackets: number;
  errorBoundBytes: number;
  exactTask: string | null;
  heavyHittersByPackets: HeavyHitterRow[];
  heavyHittersByBytes: HeavyHitterRow[];
}

export interface SuperSpreadTaskReport {
  name: string;
  type: 'superspread';
  key: string;
  element: string;
  depth: number;
  width: number;
  registers: number;
  registerBits: number;
  threshold: number;
  registerBytes: number;
  memoryBytes: number;
  exactTask: string | null;
  spreaders: Array<KeyColumns & { spread: number; exactSpread?: number }>;
}

export type TaskReport = ExactTaskReport | CountMinTaskReport | SuperSpreadTaskReport;

export interface WindowReport {
  start: string;
  end: string;
  packets: number;
  bytes: number;
  latePackets: number;
  /** TCP packets with SYN and without ACK: connection attempts. */
  tcpSyn: number;
  tasks: TaskReport[];
}

export interface EngineReport {
  files: FileReport[];
  totals: {
    packets: number;
    bytes: number;
    capturedBytes: number;
    packetsWithoutTimestamp: number;
    fragments: number;
    firstTime: string | null;
    lastTime: string | null;
    durationNs: number;
    pps: number;
    bps: number;
  };
  protocols: Array<{ name: string; family: number; proto: number; ethertype: number; packets: number; bytes: number }>;
  topTalkers: Array<{ addr: string; txPackets: number; txBytes: number; rxPackets: number; rxBytes: number }>;
  topConversations: ConversationRow[];
  tunnels: Array<{ kind: string; packets: number; bytes: number }>;
  windows: WindowReport[];
  problems: { truncated: number; malformed: number; unsupported: number; details: ProblemRow[] };
  tables: { conversations: number; ipPairs: number; hosts: number; /** Text: exact beyond 2^53. */ seed: string; fragmentTableResets: number };
}

export interface AnalysisReport extends EngineReport {
  backend: string;
  elapsedMs: number;
  /** Window length in seconds (0: the whole input is one window). */
  windowSeconds: number;
  /** Exact tasks added only to print true values beside sketch estimates. */
  besideTasks: string[];
  /** Notifications the alert rules raised over the analysis's windows (when rules are set). */
  alerts?: AlertEvent[];
  /** The flow records (flows.enabled, compiled backends). */
  flows?: FlowSummary;
  /** What became of the rows, when they were stored. */
  storage?: StorageReport;
}

export interface StorageReport {
  /** The store (or folder) and the name and run the rows carry. */
  where: string;
  source: string;
  run: string;
  windows: number;
  rowsWritten: number;
  /** Rows kept out of their tables, per reason (the store's quarantine table or file). */
  rowsQuarantined: number;
  quarantineReasons: Record<string, number>;
  /** Rows waiting in the spill for the store: the run is not visible until they are written. */
  spillRows: number;
  rowsLost: number;
  /** Why nothing was stored, when nothing was. */
  error: string | null;
}
