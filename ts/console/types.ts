// What the console reads from an in-process engine (EngineHost), and the frames it pushes.
// Declared here by shape so the console depends on what it reads, not on the engine's class.
import type { AlertEvent } from '../shared/index.js';
import type { ActiveAlert } from '../alert/evaluator.js';
import type { ClosedWindow } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import type { SecondCounters } from '../engine/run-engine.js';
import type { FlowPage, FlowQuery } from '../flows/types.js';

export type { SecondCounters } from '../engine/run-engine.js';
export type { FlowQuery } from '../flows/types.js';

export const PROTOCOL_GROUPS = ['TCP', 'UDP', 'ICMP', 'Other'] as const satisfies readonly (keyof SecondCounters['protocols'])[];
export type ProtocolGroup = (typeof PROTOCOL_GROUPS)[number];

export interface Counts {
  packets: number;
  bytes: number;
}

/** The open window as the engine peeks it; `json` is rendered like a closed window's. */
export interface PeekedWindow {
  startMs: number;
  endMs: number;
  json: string;
}

/** The engine host of `serve --nats`, `probe --engine` and `analyze --serve` (EngineHost). */
export interface LiveEngine {
  readonly cfg: NetspectraConfig;
  readonly windows: number;
  readonly alerting: { evaluator: { readonly rules: readonly unknown[]; active(): ActiveAlert[] }; subscribe(listener: (e: AlertEvent) => void): () => void } | null;
  readonly windowLatency: { count: number; sumMs: number; lastMs: number };
  /** Where finished flow records go (per-sink counters); null without sinks. */
  readonly flowExport: { stats(): { sink: string; sent: number; gaveUp: number; dropped: number; queued: number }[] } | null;
  onWindow: (w: ClosedWindow) => void;
  readonly engine: {
    readonly queuedBytes: number;
    peek(): Promise<PeekedWindow | null>;
    stats(): Promise<Record<string, unknown>>;
  };
  /** Per-second counters from `fromMs` (inclusive) to `toMs` (exclusive), oldest first. */
  seconds(fromMs?: number, toMs?: number): Promise<SecondCounters[]>;
  /** A page of the live conversation table; rejects naming the bad parameter. */
  flows(query: FlowQuery): Promise<FlowPage>;
}

export const CHANNELS = ['rates', 'protocols', 'top_talkers', 'heavy_hitters', 'spreaders', 'alerts'] as const;
export type Channel = (typeof CHANNELS)[number];

/** A window's span and totals, as the page labels its tables. */
export interface WindowInfo {
  startMs: number;
  endMs: number;
  packets: number;
  bytes: number;
  /** Still counting (peeked), or the last closed one. */
  open: boolean;
}

/** One row of a top list: the key's fields, and what was counted. */
export interface TopRow {
  key: string;
  fields: Record<string, string | number>;
  packets?: number;
  bytes?: number;
  spread?: number;
}

export interface TopList {
  task: string;
  type: 'exact' | 'countmin' | 'superspread';
  /** Key fields, e.g. "SrcIP" or "SrcIP,DstIP,SrcPort,DstPort,Protocol". */
  key: string;
  /** superspread: what is counted per key, and the reporting threshold. */
  element?: string;
  threshold?: number;
  /** countmin: the estimate's bound over the truth (packets, bytes). */
  errorBound?: Counts;
  /** countmin: which ranking the rows come from. */
  by?: 'packets' | 'bytes';
  rows: TopRow[];
}

export interface TopFrame {
  window: WindowInfo | null;
  lists: TopList[];
}

export interface RatesFrame {
  /** Seconds new or changed since the last frame (the latest is still filling). */
  seconds: SecondCounters[];
  window: WindowInfo | null;
}

export interface ProtocolsFrame {
  window: WindowInfo | null;
  protocols: Record<ProtocolGroup, Counts>;
}

export interface AlertsFrame {
  /** Rules configured (0: alerting is off). */
  rules: number;
  active: ActiveAlert[];
  /** Latest notifications, newest first. */
  recent: AlertEvent[];
}
