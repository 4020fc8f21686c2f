// /metrics in the Prometheus text exposition format (version 0.0.4), for the API's port and for
// the ops port of an engine or a probe: the engine's packets, bytes, batches and windows, what
// capture and transport dropped, the window write latency, the flow cache and the flow export,
// the store writer's queue and spill, the console's WebSocket clients, and a probe's own counts.
import type { CaptureStats } from '../backend/index.js';
import type { Store, WindowStorage } from '../storage/index.js';

/** The writer rows go through, and where. */
type StoredBy = Pick<WindowStorage, 'where' | 'sink'>;
import { health } from '../storage/queries.js';
import type { ConsoleHub } from '../console/hub.js';
import type { LiveEngine } from '../console/types.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Metric families in exposition order: HELP, TYPE, then the samples. */
export class Exposition {
  private readonly lines: string[] = [];

  add(name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: [Labels, number][] | number): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const list = typeof samples === 'number' ? [[{}, samples] as [Labels, number]] : samples;
    for (const [labels, value] of list) this.lines.push(`${name}${labelText(labels)} ${Number.isFinite(value) ? value : 0}`);
  }

  /** A summary without quantiles: the sum and count of observations. */
  summary(name: string, help: string, sum: number, count: number): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`, `${name}_sum ${sum}`, `${name}_count ${count}`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export interface MetricsContext {
  host: LiveEngine | null;
  store: Store | null;
  storage: StoredBy | null;
  /** The console's WebSocket hub (the API's port); absent on an ops port. */
  hub?: ConsoleHub;
}

export async function metricsText(ctx: MetricsContext): Promise<string> {
  const m = new Exposition();
  const { host, hub } = ctx;
  if (host) {
    type Probe = { id: string; interface: string; captured: number; kernelDropped: number; interfaceDropped: number; probeDropped: number };
    type Flows = { active: number; finished: Record<string, number> };
    const s = (await host.engine.stats().catch(() => ({}))) as { batches?: number; packets?: number; bytes?: number; duplicateBatches?: number; rejected?: Record<string, number>; probes?: Probe[]; flows?: Flows };
    const probes = s.probes ?? [];
    m.add('netspectra_engine_packets_total', 'counter', 'Packets the engine applied.', s.packets ?? 0);
    m.add('netspectra_engine_bytes_total', 'counter', 'Bytes (on the wire) of the packets the engine applied.', s.bytes ?? 0);
    m.add('netspectra_engine_batches_total', 'counter', 'PacketBatch messages the engine applied.', s.batches ?? 0);
    m.add('netspectra_engine_duplicate_batches_total', 'counter', 'Batches skipped as already applied (same probe and sequence).', s.duplicateBatches ?? 0);
    m.add('netspectra_engine_rejected_messages_total', 'counter', 'Messages the engine could not read, by kind.', Object.entries(s.rejected ?? {}).map(([kind, n]) => [{ kind }, n]));
    m.add('netspectra_engine_windows_total', 'counter', 'Windows closed and written.', host.windows);
    m.add('netspectra_engine_queued_bytes', 'gauge', 'Bytes of batches submitted and not yet applied by every worker.', host.engine.queuedBytes);
    const lat = host.windowLatency;
    m.summary('netspectra_engine_window_latency_seconds', 'From closing a window to having it written.', lat.sumMs / 1000, lat.count);
    m.add('netspectra_engine_window_latency_last_seconds', 'gauge', 'Latency of the last window written.', lat.lastMs / 1000);
    m.add('netspectra_capture_packets_total', 'counter', 'Packets each probe captured.', probes.map((p) => [{ probe: p.id, interface: p.interface }, p.captured]));
    m.add(
      'netspectra_capture_dropped_packets_total',
      'counter',
      'Packets lost before the engine: by the kernel, the interface, or the probe\'s own queues.',
      probes.flatMap((p) => [
        [{ probe: p.id, interface: p.interface, where: 'kernel' }, p.kernelDropped],
        [{ probe: p.id, interface: p.interface, where: 'interface' }, p.interfaceDropped],
        [{ probe: p.id, interface: p.interface, where: 'probe' }, p.probeDropped],
      ] as [Labels, number][]),
    );
    if (s.flows) {
      m.add('netspectra_flows_active', 'gauge', 'Flows held in the flow cache.', s.flows.active);
      m.add('netspectra_flows_finished_total', 'counter', 'Flow records finished, by why they ended.', Object.entries(s.flows.finished).map(([reason, n]) => [{ reason }, n]));
    }
  }
  const sinks = host?.flowExport?.stats() ?? [];
  if (sinks.length) {
    m.add(
      'netspectra_flow_export_records_total',
      'counter',
      'Flow records per sink: sent, given up after retries, or dropped (full queue, or pending at stop).',
      sinks.flatMap((k) => [[{ sink: k.sink, outcome: 'sent' }, k.sent], [{ sink: k.sink, outcome: 'gave_up' }, k.gaveUp], [{ sink: k.sink, outcome: 'dropped' }, k.dropped]] as [Labels, number][]),
    );
    m.add('netspectra_flow_export_queued_records', 'gauge', 'Flow records waiting per sink.', sinks.map((k) => [{ sink: k.sink }, k.queued]));
  }
  if (ctx.storage) {
    const w = ctx.storage.sink.stats();
    m.add('netspectra_writer_rows_written_total', 'counter', 'Rows the store acknowledged.', w.rowsWritten);
    m.add('netspectra_writer_failed_inserts_total', 'counter', 'Inserts that failed (their rows went to the spill).', w.failedInserts);
    m.add('netspectra_writer_rows_lost_total', 'counter', 'Rows neither written nor spilled.', w.rowsLost);
    m.add('netspectra_writer_rows_quarantined_total', 'counter', 'Rows kept out of their tables (refused by the store, or holding values it cannot hold), by reason.', Object.entries(w.quarantineReasons).map(([reason, n]) => [{ reason: reason.slice(0, 200) }, n]));
    m.add('netspectra_writer_queue_rows', 'gauge', 'Rows waiting in memory for an insert.', w.pendingRows);
    m.add('netspectra_writer_spill_rows', 'gauge', 'Rows waiting in the spill folder.', w.spillRows);
    m.add('netspectra_writer_spill_bytes', 'gauge', 'Bytes in the spill folder.', w.spillBytes);
  }
  if (ctx.store) {
    const up = await health(ctx.store).then(() => 1, () => 0);
    m.add('netspectra_store_up', 'gauge', 'Whether the store answered a query.', up);
  }
  if (hub) {
    const h = hub.stats();
    m.add('netspectra_console_websocket_clients', 'gauge', 'WebSocket clients of the console.', h.clients);
    m.add('netspectra_console_frames_sent_total', 'counter', 'Frames sent to console clients.', h.framesSent);
    m.add('netspectra_console_frames_skipped_total', 'counter', 'Frames not sent to a client that was behind.', h.framesSkipped);
    m.add('netspectra_console_clients_dropped_total', 'counter', 'Clients dropped for staying behind.', h.dropped);
    m.add('netspectra_console_connections_refused_total', 'counter', 'WebSocket upgrades refused (token, client limit).', h.refused);
  }
  return m.text();
}

/** What a probe counts itself: packets captured, batches sent, and what was dropped where. */
export interface ProbeCounts {
  id: string;
  interface: string;
  stats: CaptureStats;
  batches: number;
  /** Frames the rotating pcap files could not take (persist); null without them. */
  pcapDropped: number | null;
}

/** A probe's /metrics. */
export function probeMetricsText(p: ProbeCounts): string {
  const m = new Exposition();
  const l = { probe: p.id, interface: p.interface };
  m.add('netspectra_probe_captured_packets_total', 'counter', 'Packets the probe captured (or read, with --read).', [[l, p.stats.captured]]);
  m.add('netspectra_probe_batches_total', 'counter', 'PacketBatch messages the probe published.', [[l, p.batches]]);
  m.add('netspectra_probe_dropped_packets_total', 'counter', 'Packets lost: by the kernel, the interface, or the probe\'s own queues.', [
    [{ ...l, where: 'kernel' }, p.stats.kernelDropped],
    [{ ...l, where: 'interface' }, p.stats.interfaceDropped],
    [{ ...l, where: 'probe' }, p.stats.probeDropped],
  ]);
  if (p.pcapDropped !== null) m.add('netspectra_probe_pcap_dropped_frames_total', 'counter', 'Frames the rotating pcap files could not take.', [[l, p.pcapDropped]]);
  return m.text();
}
