// `netspectra engine`: batches from NATS (a queue group, or a JetStream durable consumer) into
// the windowed engine; closed windows to the log and the window file.
import { hostname } from 'node:os';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import { transportBackend, type ApplyResult, type ClosedWindow } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { taskOptions } from '../analyze/analyze-files.js';
import { bytes, grouped } from '../report/units.js';
import { allPartitions, connectNats, ensureConsumer, ensureStream, type Connection, type Log } from '../transport/nats.js';
import type { WindowRows, WindowStorage } from '../storage/index.js';
import { Alerting } from '../alert/alerting.js';
import { createFlowExport, type FlowExport } from '../flows/export.js';
import { flowOptions } from '../flows/options.js';
import type { FlowPage, FlowQuery, FlowRecordJson } from '../flows/types.js';
import { WindowFile } from './window-file.js';
import { defaultWorkers, WindowedEngine } from './windowed-engine.js';

/** Per-second counters of the live stream (packet time). */
export interface SecondCounters {
  /** Start of the second, ms since the epoch. */
  t: number;
  packets: number;
  bytes: number;
  tcpSyn: number;
  protocols: Record<'TCP' | 'UDP' | 'ICMP' | 'Other', { packets: number; bytes: number }>;
}


/** The windowed engine of a configuration, with its windows logged and written. */
export class EngineHost {
  readonly engine: WindowedEngine;
  private readonly file: WindowFile | null;
  private readonly rejected = new Map<string, number>();
  private lastSubmit = Date.now();
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<unknown> | null = null;
  /** Called after each window is written. */
  onWindow: (w: ClosedWindow) => void = () => {};
  /** Called after an idle close completed (every earlier batch is in a written window). */
  onIdleClose: () => void = () => {};
  /** Settles when a worker dies: the engine cannot go on. */
  readonly failed: Promise<Error>;
  /** The alert rules over this engine's windows; null without rules. */
  readonly alerting: Alerting | null;
  /** Where finished flow records go; null when flow records are off. */
  readonly flowExport: FlowExport | null;
  private readonly flowTimer: NodeJS.Timeout | null = null;
  private flowsTaking: Promise<void> | null = null;
  windows = 0;
  /** From the batch (or idle close) that closed a window to the window written and handed to
   * the alert rules: queueing in the workers, merging, storage rows. */
  readonly windowLatency = { count: 0, sumMs: 0, lastMs: 0 };

  constructor(
    readonly cfg: NetspectraConfig,
    private readonly log: Log,
    readonly id = `${hostname()}-${process.pid}`,
    /** Where closed windows (and flow records) are stored, besides the window file. */
    private readonly storage: WindowStorage | null = null,
    /** Publishes on NATS (flow records); null without a connection. */
    publish: ((subject: string, bytes: Uint8Array) => void) | null = null,
  ) {
    const tasks = cfg.tasks.map(taskOptions);
    const workers = cfg.engine.workers > 0 ? cfg.engine.workers : defaultWorkers(tasks);
    this.engine = new WindowedEngine({
      seed: cfg.seed, windowSeconds: cfg.window, top: cfg.engine.top, tasks, workers,
      flows: flowOptions(cfg.flows), seconds: cfg.console.history,
    });
    this.file = cfg.engine.output ? new WindowFile(cfg.engine.output, this.id, cfg.nats.jetstream) : null;
    this.engine.onWindow = (w, requestedAt) => this.written(w, requestedAt);
    this.failed = new Promise((resolve) => (this.engine.onFailure = (e) => {
      this.log(`engine: ${e.message}`);
      resolve(e);
    }));
    this.timer = setInterval(() => this.closeIfIdle(), Math.min(250, cfg.engine.idleClose * 500));
    this.timer.unref();
    this.alerting = Alerting.create(cfg, {
      source: storage?.source ?? this.id,
      log,
      record: storage ? (e) => storage.addAlert(e) : undefined,
      drops: () => this.dropsSoFar(),
      notify: true,
    });
    this.flowExport = createFlowExport(cfg.flows, { log, storage, publish, source: storage?.source ?? this.id });
    if (cfg.flows.enabled) {
      this.flowTimer = setInterval(() => void this.exportFlows(false), 1000);
      this.flowTimer.unref();
    }
  }

  /** Hands finished flows to the sinks; while no batch comes, lets idle flows end. */
  private exportFlows(flush: boolean): Promise<void> {
    this.flowsTaking ??= (async () => {
      try {
        const idle = Date.now() - this.lastSubmit;
        if (idle >= 1000 && !flush) await this.engine.flowsIdle(idle);
        // Taken also without sinks: finished records would pile up in the core.
        const text = await this.engine.takeFlows(flush);
        const records = text && this.flowExport ? (JSON.parse(text) as FlowRecordJson[]) : [];
        if (records.length) this.flowExport!.add(records);
      } catch {
        // The engine failed or stopped: `failed` says so.
      } finally {
        this.flowsTaking = null;
      }
    })();
    return this.flowsTaking;
  }

  /** Per-second counters kept in memory (console.history), oldest first. */
  async seconds(fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): Promise<SecondCounters[]> {
    const text = await this.engine.seconds(fromMs, toMs);
    return text ? (JSON.parse(text) as SecondCounters[]) : [];
  }

  /** A page of the live flow table; rejects naming a bad parameter. */
  async flows(q: FlowQuery = {}): Promise<FlowPage> {
    // The core reads `name=value&...` as is (no percent-decoding): a CIDR keeps its "/".
    const params: string[] = [];
    for (const [k, v] of Object.entries(q)) {
      if (v === undefined || v === '') continue;
      const text = String(v);
      if (/[&=]/.test(text)) throw new Error(`${k}: "${text}" is not a valid value`);
      params.push(`${k}=${text}`);
    }
    const text = await this.engine.queryFlows(params.join('&'));
    if (text === null) throw new Error('flow records are off (flows.enabled: false)');
    return JSON.parse(text) as FlowPage;
  }

  /** Packets the probes report lost (kernel, interface, their own queues), in total. */
  private async dropsSoFar(): Promise<number> {
    const s = (await this.engine.stats()) as { probes?: { kernelDropped: number; interfaceDropped: number; probeDropped: number }[] };
    return (s.probes ?? []).reduce((n, p) => n + p.kernelDropped + p.interfaceDropped + p.probeDropped, 0);
  }

  /** In JetStream mode: skip packets of windows the file already holds. */
  async resume(): Promise<void> {
    if (!this.file) return;
    const end = WindowFile.lastEnd(this.file.path);
    if (end > 0) {
      await this.engine.skipBefore(end);
      this.log(`engine: resuming after the last written window, which ended ${new Date(end).toISOString()}`);
    }
  }

  /** Applies a message; never rejects: after a worker failure (logged, and `failed` settles)
   * nothing more is applied. */
  async submit(data: Uint8Array, subject: string): Promise<{ result?: ApplyResult; windows: ClosedWindow[] }> {
    this.lastSubmit = Date.now();
    try {
      const out = await this.engine.submit(data);
      if (out.result?.errorKind) this.rejectedMessage(out.result, data, subject);
      return out;
    } catch {
      return { windows: [] };
    }
  }

  private rejectedMessage(r: ApplyResult, data: Uint8Array, subject: string): void {
    const kind = r.errorKind!;
    const n = (this.rejected.get(kind) ?? 0) + 1;
    this.rejected.set(kind, n);
    if (n === 1) {
      const sample = Buffer.from(data.subarray(0, 32)).toString('hex');
      this.log(`engine: skipped a ${kind} message on ${subject} (${data.byteLength} bytes): ${r.error}; first bytes ${sample}; further ${kind} messages are only counted`);
    }
  }

  private written(w: ClosedWindow, requestedAt: number): void {
    this.file?.write(w);
    let rows: WindowRows | null = null;
    try {
      rows = this.storage?.addWindow(w.snapshot) ?? null;
    } catch (e) {
      this.log(`engine: window not stored: ${(e as Error).message}`);
    }
    this.alerting?.addWindow(w.snapshot, rows);
    this.windows++;
    const latency = Date.now() - requestedAt;
    this.windowLatency.count++;
    this.windowLatency.sumMs += latency;
    this.windowLatency.lastMs = latency;
    const j = JSON.parse(w.json) as { packets: number; bytes: number; latePackets: number };
    this.log(`engine: window ${new Date(w.startMs).toISOString()} .. ${new Date(w.endMs).toISOString()}: ${grouped(j.packets)} packets, ${bytes(j.bytes)}${j.latePackets ? `, ${grouped(j.latePackets)} late` : ''}`);
    this.onWindow(w);
  }

  private closeIfIdle(): void {
    const open = this.engine.openEnd;
    const now = Date.now();
    if (this.closing || open === null || now - this.lastSubmit < this.cfg.engine.idleClose * 1000 || now < open) return;
    this.closing = this.engine.close().then(
      () => {
        this.closing = null;
        this.onIdleClose();
      },
      () => {},
    );
  }

  /** Closes the open window and stops the workers. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.flowTimer) clearInterval(this.flowTimer);
    await this.closing;
    await this.engine.close().catch(() => {});
    if (this.flowTimer) {
      await this.flowsTaking;
      await this.exportFlows(true);
    }
    if (this.flowExport) {
      const sinks = await this.flowExport.close();
      const text = sinks.map((s) => `${s.sink} ${grouped(s.sent)} sent${s.gaveUp ? `, ${grouped(s.gaveUp)} given up` : ''}${s.dropped ? `, ${grouped(s.dropped)} dropped` : ''}`);
      this.log(`flows: ${text.join('; ')}`);
    }
    // Alerts read the engine's counters: evaluate the last windows before the workers stop.
    if (this.alerting) {
      await this.alerting.close();
      const a = this.alerting.stats();
      const sent = a.notifiers.map((n) => `${n.name} ${n.sent} sent${n.gaveUp ? `, ${n.gaveUp} given up` : ''}${n.dropped ? `, ${n.dropped} dropped` : ''}`).join('; ');
      this.log(`alerts: ${grouped(a.windows)} windows evaluated, ${grouped(a.events)} notifications${a.enrichmentFailures ? ` (${a.enrichmentFailures} without enrichment)` : ''}${sent ? `: ${sent}` : ''}`);
    }
    await this.engine.stop();
    this.file?.close();
    if (this.storage) {
      const s = await this.storage.close();
      this.log(`engine: stored ${grouped(s.rowsWritten)} rows in ${this.storage.where}${s.spillRows ? `; ${grouped(s.spillRows)} wait in the spill` : ''}${s.rowsLost ? `; ${grouped(s.rowsLost)} lost` : ''}`);
    }
  }

  async statsLine(): Promise<string> {
    const s = (await this.engine.stats()) as {
      batches: number; packets: number; duplicateBatches: number; skippedPackets: number; rejected: Record<string, number>;
      probes: { id: string; kernelDropped: number; interfaceDropped: number; probeDropped: number }[];
    };
    const rejected = Object.entries(s.rejected).map(([k, n]) => `${k} ${n}`).join(', ');
    const drops = s.probes.map((p) => `${p.id}: kernel ${p.kernelDropped}, interface ${p.interfaceDropped}, probe ${p.probeDropped}`).join('; ');
    return `engine: ${grouped(s.batches)} batches, ${grouped(s.packets)} packets, ${s.duplicateBatches} duplicate batches` +
      (s.skippedPackets ? `, ${grouped(s.skippedPackets)} packets already written` : '') +
      (rejected ? `, rejected: ${rejected}` : '') + (drops ? `; drops reported by probes (${drops})` : '');
  }
}

export interface RunningEngine {
  host: EngineHost;
  stop(): Promise<void>;
}

/** Subscribes to the probes' subjects and runs until stopped. */
export async function runEngine(cfg: NetspectraConfig, log: Log, storage: WindowStorage | null = null): Promise<RunningEngine> {
  if (!cfg.nats.url) throw new Error('the engine needs nats.url (or use `netspectra probe --engine` for one process)');
  const id = `${hostname()}-${process.pid}`;
  const conn = await connectNats(cfg.nats, `netspectra-engine ${id}`, log);
  const host = new EngineHost(cfg, log, id, storage, (subject, bytes) => conn.nc.publish(subject, bytes));
  if (host.alerting) host.alerting.publish = (e) => conn.nc.publish(cfg.alerts.subject, JSON.stringify(e));
  log(`engine ${host.id} (${transportBackend().name} backend): ${host.engine.workers || 'no'} worker thread(s), ${cfg.tasks.length} task(s), ${cfg.window} s windows, ${cfg.nats.jetstream ? `JetStream ${cfg.nats.stream}/${cfg.nats.durable}` : `queue group ${cfg.nats.queueGroup}`} on ${allPartitions(cfg.nats.subject)}`);
  const run = cfg.nats.jetstream ? await consumeJetStream(cfg, conn, host, log) : subscribeCore(cfg, conn, host, log);
  const statsLine = async () => (await host.statsLine()) + (run.dropped() ? `; ${grouped(run.dropped())} batches dropped while the workers were behind` : '');
  const stats = setInterval(() => void statsLine().then(log), 10_000);
  stats.unref();
  return {
    host,
    async stop() {
      clearInterval(stats);
      await run.stop();
      await host.engine.close().catch(() => {});
      log(await statsLine().catch((e: Error) => `engine: ${e.message}`));
      await host.stop();
      await conn.nc.drain().catch(() => conn.nc.close());
    },
  };
}

function subscribeCore(cfg: NetspectraConfig, conn: Connection, host: EngineHost, log: Log) {
  let dropped = 0;
  const sub = conn.nc.subscribe(allPartitions(cfg.nats.subject), {
    queue: cfg.nats.queueGroup,
    callback: (err, msg: Msg) => {
      if (err) return log(`engine: subscription: ${err.message}`);
      if (host.engine.queuedBytes > cfg.engine.maxQueued) {
        if (dropped++ === 0) log(`engine: workers are behind (${bytes(host.engine.queuedBytes)} queued): dropping batches, counted`);
        return;
      }
      void host.submit(msg.data, msg.subject);
    },
  });
  return {
    dropped: () => dropped,
    async stop() {
      await sub.drain();
    },
  };
}

/** Durable pull consumer. A batch is acknowledged once every window it touched is written:
 * the batch that closes a window still holds packets of the next one, so it waits for that
 * window (or an idle close). A crash before then redelivers it, and the window file says which
 * of its packets were already written. */
async function consumeJetStream(cfg: NetspectraConfig, conn: Connection, host: EngineHost, log: Log) {
  await ensureStream(conn.nc, cfg.nats);
  await ensureConsumer(conn.nc, cfg.nats, cfg.window, cfg.engine.idleClose);
  await host.resume();
  if (!cfg.engine.output) {
    log('engine: JetStream without engine.output: batches are acknowledged once their windows are logged, and nothing but the log keeps those windows (use --output FILE)');
  }
  const consumer = await jetstream(conn.nc).consumers.get(cfg.nats.stream, cfg.nats.durable);
  const messages = await consumer.consume({ max_messages: 256 });
  let unacked: JsMsg[] = [];
  const ackAll = () => {
    for (const m of unacked) m.ack();
    unacked = [];
  };
  host.onIdleClose = ackAll;
  const loop = (async () => {
    for await (const m of messages) {
      while (host.engine.queuedBytes > cfg.engine.maxQueued) await new Promise((r) => setTimeout(r, 5));
      void host.submit(m.data, m.subject).then(({ windows }) => {
        if (windows.length) ackAll();
        unacked.push(m);
      });
    }
  })();
  loop.catch((e: Error) => log(`engine: JetStream consumer stopped: ${e.message}`));
  return {
    dropped: () => 0,
    async stop() {
      await messages.close();
      await loop.catch(() => {});
      // Acknowledge only what the final window holds; after a worker failure nothing is acked.
      await host.engine.close().then(ackAll, () => {});
      await conn.nc.flush().catch(() => {});
    },
  };
}
