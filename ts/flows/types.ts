// Flow records as the core emits them (crates/core/src/flow/record.rs, FlowRecord::write_json).

/** One finished flow, or one active-timeout slice of a long one. Endpoint A (src) is the
 * source of the flow's first packet. Times are epoch seconds with nanoseconds as text
 * ("1400000000.123456789"), null when no packet carried a time. */
export interface FlowRecordJson {
  /** Community ID v1 ("1:base64"), null when the flow cannot be hashed (ports not read). */
  communityId: string | null;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  proto: number;
  protoName: string;
  /** IANA service name of B's port, else of A's ("https"); empty when neither has one. */
  service: string;
  firstTime: string | null;
  lastTime: string | null;
  packetsAtoB: number;
  bytesAtoB: number;
  packetsBtoA: number;
  bytesBtoA: number;
  /** Flags seen, e.g. "SYN,ACK,FIN" (empty for non-TCP). */
  tcpFlagsAtoB: string;
  tcpFlagsBtoA: string;
  state: 'new' | 'synSent' | 'established' | 'closing' | 'closed' | 'reset' | 'active';
  /** Why the record ended; "open" for a flow still in the cache (live flow table). */
  reason: 'fin' | 'rst' | 'idleTimeout' | 'activeTimeout' | 'eviction' | 'endOfInput' | 'open';
  /** The probe (host name) or, offline, the analysing host. */
  probe: string;
  /** Capture interface name (live), or the capture file name (offline). */
  interface: string;
  vlan: number;
  /** By the configured local networks: A local and B not: outbound; the reverse: inbound. */
  direction: 'inbound' | 'outbound' | 'local' | 'external';
  /** What the flow's first payloads told (analyze; empty when unknown): "DNS", "TLS", "HTTP", "QUIC". */
  app: '' | 'DNS' | 'TLS' | 'HTTP' | 'QUIC';
  /** The server name the client asked for: TLS SNI, HTTP Host, or the DNS query name. */
  serverName: string;
  /** The first ALPN protocol of the TLS ClientHello ("h2"). */
  alpn: string;
  /** Country (ISO 3166 alpha-2) and autonomous system of each endpoint, from the configured MMDB
   * files (flows.countryDatabase, flows.asnDatabase); empty and 0 when unknown. */
  srcCountry: string;
  dstCountry: string;
  srcAs: number;
  dstAs: number;
  srcAsName: string;
  dstAsName: string;
}

/** What `analyze` reports of its flow records (the core's summary): counts by end reason and
 * direction, and the largest records by bytes (ties: the one finished first). */
export interface FlowSummary {
  records: number;
  packets: number;
  bytes: number;
  byReason: Record<string, number>;
  byDirection: Record<string, number>;
  top: FlowRecordJson[];
  /** Server names (SNI, HTTP Host, DNS query) with the most bytes over their flows. */
  serverNames: { name: string; app: FlowRecordJson['app']; records: number; bytes: number }[];
  /** With country / AS databases: the countries and autonomous systems of either endpoint with
   * the most bytes over their flows (a flow counts once where both ends share one). */
  countries: { country: string; records: number; bytes: number }[];
  autonomousSystems: { asn: number; name: string; records: number; bytes: number }[];
  /** Reading the payloads: addresses the DNS answers named, and payloads that did not parse
   * (by protocol, and by reason) or were cut by the snap length or a fragment. */
  names: FlowNamesCounters;
}

export interface FlowNamesCounters {
  passiveDns: number;
  dns: number;
  tls: number;
  http: number;
  quic: number;
  cut: number;
  notGathered: number;
  reasons: { protocol: string; reason: string; count: number }[];
}

/** Orders of a page of flows, live (the core's FlowQuery) or stored (listFlowRecords). */
export const FLOW_SORTS = ['bytes', 'packets', 'first', 'last', 'duration'] as const;
export type FlowSort = (typeof FLOW_SORTS)[number];
export const FLOW_DIRECTIONS = ['inbound', 'outbound', 'local', 'external'] as const;

/** A page request over the live flow table (EngineHost.flows). */
export interface FlowQuery {
  limit?: number;
  offset?: number;
  sort?: FlowSort;
  dir?: 'asc' | 'desc';
  proto?: number;
  /** An address or a CIDR network; either endpoint. */
  ip?: string;
  port?: number;
}

/** A page of the live flow table. */
export interface FlowPage {
  /** Flows in the cache. */
  active: number;
  /** Flows that pass the filter. */
  matched: number;
  flows: FlowRecordJson[];
}
