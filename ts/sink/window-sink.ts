// The closed-window path: a closed window (its counters, JSON, snapshot and storage rows, as the
// core hands it out) goes to the store, the alert rules and the window file; finished flows go
// to the store and the flow export. Built once with its dependencies; nothing here builds them.
import { readRows, storageRows, type ClosedWindow, type CoreRows, type TakenFlows } from '../backend/index.js';
import { Alerting } from '../alert/alerting.js';
import type { AlertEvent } from '../shared/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { createFlowExport, type FlowExport } from '../flows/export.js';
import type { FlowRecordJson } from '../flows/types.js';
import { grouped } from '../report/units.js';
import type { WindowStorage } from '../storage/index.js';

/** The closed windows of an engine written to a file (JSON Lines; engine/window-file.ts). */
export interface WindowWriter {
  write(w: ClosedWindow): void;
}

export interface WindowSinkDeps {
  storage: WindowStorage | null;
  alerting: Alerting | null;
  file: WindowWriter | null;
  /** Finished flows to the store, NATS and HTTP; without it flows go to `storage` alone. */
  flowExport: FlowExport | null;
  log: (line: string) => void;
}

export interface WindowSinkStats {
  windows: number;
  /** Windows whose rows could not be made or stored (logged once). */
  failed: number;
  flowRecords: number;
}

export interface WindowSinkOptions {
  log: (line: string) => void;
  storage: WindowStorage | null;
  /** Who the alerts are raised by (the storage's source, or the engine's id). */
  source: string;
  /** Send notifications to the notifiers (an offline analysis only reports them). */
  notify: boolean;
  /** Publishes on NATS (alerts and flow records); null without a connection. */
  publish?: ((subject: string, bytes: Uint8Array) => void) | null;
  /** Closed windows to a JSON Lines file (the engine's `engine.output`). */
  file?: (WindowWriter & { close(): void }) | null;
}

export class WindowSink {
  private readonly counters: WindowSinkStats = { windows: 0, failed: 0, flowRecords: 0 };

  constructor(private readonly deps: WindowSinkDeps) {}

  /** The sink a configuration describes: its alert rules, its flow export, the file. */
  static create(cfg: NetspectraConfig, o: WindowSinkOptions): WindowSink {
    const { storage, log } = o;
    const alerting = Alerting.create(cfg, { source: o.source, log, record: storage ? (e) => storage.addAlert(e) : undefined, notify: o.notify });
    const publish = o.publish ?? null;
    if (alerting && publish) alerting.publish = (e) => publish(cfg.alerts.subject, Buffer.from(JSON.stringify(e)));
    const flowExport = createFlowExport(cfg.flows, { log, storage, publish, source: o.source });
    return new WindowSink({ storage, alerting, file: o.file ?? null, flowExport, log });
  }

  get alerting(): Alerting | null {
    return this.deps.alerting;
  }

  get flowExport(): FlowExport | null {
    return this.deps.flowExport;
  }

  /** Every notification the rules raise, once enriched and recorded. */
  onAlert(listener: (e: AlertEvent) => void): void {
    this.deps.alerting?.subscribe(listener);
  }

  /** Finishes what is in flight (alert evaluation and notifications, the flow export, the file)
   * and logs what was done; the storage is the caller's to close. */
  async close(): Promise<void> {
    const { alerting, flowExport, file, log } = this.deps;
    if (flowExport) {
      const sinks = await flowExport.close();
      const quiet = sinks.every((s) => s.sink === 'store' && !s.gaveUp && !s.dropped);
      const text = sinks.map((s) => `${s.sink} ${grouped(s.sent)} sent${s.gaveUp ? `, ${grouped(s.gaveUp)} given up` : ''}${s.dropped ? `, ${grouped(s.dropped)} dropped` : ''}`);
      if (!quiet) log(`flows: ${text.join('; ')}`);
    }
    if (alerting) {
      await alerting.close();
      const a = alerting.stats();
      const sent = a.notifiers.map((n) => `${n.name} ${n.sent} sent${n.gaveUp ? `, ${n.gaveUp} given up` : ''}${n.dropped ? `, ${n.dropped} dropped` : ''}`).join('; ');
      log(`alerts: ${grouped(a.windows)} windows evaluated, ${grouped(a.events)} notifications${a.enrichmentFailures ? ` (${a.enrichmentFailures} without enrichment)` : ''}${sent ? `: ${sent}` : ''}`);
    }
    (file as { close?: () => void } | null)?.close?.();
  }

  /** Whether closed windows and flow records should come with storage rows (a store or alert
   * rules read them); else the core does not make them. */
  get wantsRows(): boolean {
    return Boolean(this.deps.storage || this.deps.alerting);
  }

  /** Whether closed windows should come with their snapshot (a window file writes it). */
  get wantsSnapshots(): boolean {
    return Boolean(this.deps.file);
  }

  /** Whether finished flows should come with their JSON (a sink other than the store wants it). */
  get wantsFlowJson(): boolean {
    return this.deps.flowExport?.wantsJson ?? false;
  }

  /** Hands a closed window to every destination, in order: file, store, alert rules. */
  window(w: ClosedWindow): void {
    const { storage, alerting, file } = this.deps;
    this.counters.windows++;
    file?.write(w);
    let rows: CoreRows | null = w.rows;
    try {
      // A backend without rows of its own (the TypeScript port): the compiled core makes them.
      rows ??= storage || alerting ? readRows(storageRows(w.snapshot, storage?.source ?? '', storage?.run ?? '')) : null;
      if (rows) storage?.addRows(rows);
    } catch (e) {
      if (this.counters.failed++ === 0) this.deps.log(`window not stored: ${(e as Error).message}; further failures are only counted`);
    }
    if (alerting && rows) alerting.addWindow(w, rows);
  }

  /** Finished flow records: their rows to the store (through the export when there is one),
   * their JSON to the export's other sinks. */
  flows(taken: TakenFlows | null): void {
    if (!taken) return;
    const rows = taken.rows ? readRows(taken.rows) : null;
    const records = taken.json ? (JSON.parse(taken.json) as FlowRecordJson[]) : null;
    const n = rows?.blocks.reduce((s, b) => s + b.rows, 0) ?? records?.length ?? 0;
    this.counters.flowRecords += n + (rows?.quarantined.length ?? 0);
    if (this.deps.flowExport) this.deps.flowExport.add(rows, records);
    else if (rows) this.deps.storage?.addRows(rows);
  }

  stats(): WindowSinkStats {
    return { ...this.counters };
  }
}
