// The analysis report as produced by the engine (Rust builds the JSON; every backend emits the
// same text), plus what the CLI adds around it.

export interface FileReport {
  name: string;
  format: 'pcap' | 'pcapng' | 'unknown';
  byteOrder?: string;
  resolution?: string;
  linkTypes: number[];
  packets: number;
  bytesRead: number;
  skippedBlocks: number;
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

export interface TaskReport {
  name: string;
  type: 'exact';
  key: string;
  keys: number;
  top: Array<{ srcIp?: string; dstIp?: string; srcPort?: number; dstPort?: number; proto?: number; protoName?: string; packets: number; bytes: number }>;
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
  tasks: TaskReport[];
  problems: { truncated: number; malformed: number; unsupported: number; details: ProblemRow[] };
  tables: { conversations: number; ipPairs: number; hosts: number; seed: number; fragmentTableResets: number };
}

export interface AnalysisReport extends EngineReport {
  backend: string;
  elapsedMs: number;
}
