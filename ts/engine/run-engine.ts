// `netspectra engine` on core NATS (a queue group; JetStream mode is ts/cluster), and the host
// of the windowed engine that `probe --engine` runs too: closed windows to the sink and the log.
import { applyGeo, tasksNeedGeo, watchGeo } from '../geo/index.js';
import { hostname } from 'node:os';
import type { Msg } from '@nats-io/transport-node';
import { transportBackend, type ApplyResult, type ClosedWindow } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { taskOptions } from '../analyze/analyze-files.js';
import { bytes, grouped } from '../report/units.js';
import { allPartitions, connectNats, type Connection, type Log } from '../transport/nats.js';
import { storedText, type WindowStorage } from '../storage/index.js';
import type { Alerting } from '../alert/alerting.js';
import type { FlowExport } from '../flows/export.js';
import { flowOptions } from '../flows/options.js';
import type { FlowPage, FlowQuery } from '../flows/types.js';
import { metricsText } from '../ops/metrics.js';
import { startOpsServer } from '../ops/server.js';
import { WindowSink } from '../sink/index.js';
import { WindowFile } from './window-file.js';
import { WindowedEngine } from './windowed-engine.js';

/** Per-second counters of the live stream (packet time). */
export interface SecondCounters {
  /** Start of the second, ms since the epoch. */
  t: number;
  packets: number;
  bytes: number;
  tcpSyn: number;
  protocols: Record<'TCP' | 'UDP' | 'ICMP' | 'Other', { packets: number; bytes: number }>;
}


/** The closed-window sink of an engine: its window file, alert rules and flow export, over
 * the storage given. */
export function engineSink(cfg: NetspectraConfig, log: Log, id: string, storage: WindowStorage | null, publish: ((subject: string, bytes: Uint8Array) => void) | null = null): WindowSink {
  const file = cfg.engine.output ? new WindowFile(cfg.engine.output, id) : null;
  return WindowSink.create(cfg, { log, storage, source: storage?.source ?? id, notify: true, publish, file });
}

/** The windowed engine of a configuration; closed windows go to its sink, and are logged. */
export class EngineHost {
  readonly engine: WindowedEngine;
  private readonly rejected = new Map<string, number>();
  private lastSubmit = Date.now();
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<unknown> | null = null;
  /** Called after each window is written. */
  onWindow: (w: ClosedWindow) => void = () => {};
  /** Settles when the engine fails: it cannot go on. */
  readonly failed: Promise<Error>;
  private readonly flowTimer: NodeJS.Timeout | null = null;
  private flowsTaking: Promise<void> | null = null;
  private stopGeoWatch: () => void = () => {};
  windows = 0;
  /** From the batch (or idle close) that closed a window to the window written and handed to
   * the alert rules: the core's close, storage rows, the sink. */
  readonly windowLatency = { count: 0, sumMs: 0, lastMs: 0 };

  constructor(
    readonly cfg: NetspectraConfig,
    private readonly log: Log,
    readonly id: string,
    /** Where closed windows and finished flows go. */
    readonly sink: WindowSink,
    /** The sink's storage, closed with the engine. */
    private readonly storage: WindowStorage | null = null,
  ) {
    this.engine = new WindowedEngine({
      seed: cfg.seed, windowSeconds: cfg.window, top: cfg.engine.top, tasks: cfg.tasks.map(taskOptions), threads: cfg.engine.threads,
      flows: flowOptions(cfg.flows), seconds: cfg.console.history, source: storage?.source,
    });
    // Country and AS databases: a file that cannot be read stops the start (flows.geoOptional: a warning).
    if ((cfg.flows.enabled || tasksNeedGeo(cfg.tasks)) && applyGeo(this.engine.geoTarget, cfg.flows, log)) this.stopGeoWatch = watchGeo(this.engine.geoTarget, cfg.flows, log);
    this.engine.onWindow = (w, requestedAt) => this.written(w, requestedAt);
    this.failed = new Promise((resolve) => (this.engine.onFailure = (e) => {
      this.log(`engine: ${e.message}`);
      resolve(e);
    }));
    if (sink.alerting) sink.alerting.drops = () => this.dropsSoFar();
    this.timer = setInterval(() => this.closeIfIdle(), Math.min(250, cfg.engine.idleClose * 500));
    this.timer.unref();
    if (cfg.flows.enabled) {
      this.flowTimer = setInterval(() => void this.exportFlows(false), 1000);
      this.flowTimer.unref();
    }
  }

  get alerting(): Alerting | null {
    return this.sink.alerting;
  }

  get flowExport(): FlowExport | null {
    return this.sink.flowExport;
  }

  /** Hands finished flows to the sink; while no batch comes, lets idle flows end. */
  private exportFlows(flush: boolean): Promise<void> {
    this.flowsTaking ??= (async () => {
      try {
        const idle = Date.now() - this.lastSubmit;
        if (idle >= 1000 && !flush) await this.engine.flowsIdle(idle);
        // Taken also without sinks: finished records would pile up in the core.
        this.sink.flows(await this.engine.takeFlows(flush, this.sink.wantsFlowJson));
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
    this.sink.window(w);
    this.windows++;
    const latency = Date.now() - requestedAt;
    this.windowLatency.count++;
    this.windowLatency.sumMs += latency;
    this.windowLatency.lastMs = latency;
    this.log(`engine: window ${new Date(w.startMs).toISOString()} .. ${new Date(w.endMs).toISOString()}: ${grouped(w.packets)} packets, ${bytes(w.bytes)}${w.latePackets ? `, ${grouped(w.latePackets)} late` : ''}`);
    this.onWindow(w);
  }

  private closeIfIdle(): void {
    const open = this.engine.openEnd;
    const now = Date.now();
    if (this.closing || open === null || now - this.lastSubmit < this.cfg.engine.idleClose * 1000 || now < open) return;
    this.closing = this.engine.close().then(
      () => {
        this.closing = null;
      },
      () => {},
    );
  }

  /** Closes the open window, ends every flow, and closes the sink and the storage. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopGeoWatch();
    if (this.flowTimer) clearInterval(this.flowTimer);
    await this.closing;
    await this.engine.close().catch(() => {});
    if (this.flowTimer) {
      await this.flowsTaking;
      await this.exportFlows(true);
    }
    // Alerts read the engine's counters: the last windows are evaluated before the engine stops.
    await this.sink.close();
    await this.engine.stop();
    if (this.storage) {
      const s = await this.storage.close();
      this.log(`engine: ${storedText(this.storage.where, s)}`);
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

/** This process's engine id. */
export function engineId(): string {
  return `${hostname()}-${process.pid}`;
}

/** Subscribes to the probes' subjects in the queue group and runs until stopped. */
export async function runEngine(cfg: NetspectraConfig, log: Log, storage: WindowStorage | null = null): Promise<RunningEngine> {
  if (!cfg.nats.url) throw new Error('the engine needs nats.url (or use `netspectra probe --engine` for one process)');
  if (cfg.nats.jetstream) throw new Error('in JetStream mode engines run as a cluster (runClusterEngine)');
  const id = engineId();
  const conn = await connectNats(cfg.nats, `netspectra-engine ${id}`, log);
  const sink = engineSink(cfg, log, id, storage, (subject, bytes) => conn.nc.publish(subject, bytes));
  const host = new EngineHost(cfg, log, id, sink, storage);
  log(`engine ${host.id} (${transportBackend().name} backend): ${cfg.tasks.length} task(s), ${cfg.window} s windows, queue group ${cfg.nats.queueGroup} on ${allPartitions(cfg.nats.subject)}`);
  const run = subscribeCore(cfg, conn, host, log);
  let failure: string | null = null;
  void host.failed.then((e) => (failure = `engine failed: ${e.message}`));
  const ops = cfg.engine.ops
    ? await startOpsServer(cfg.engine.ops, 'engine.ops', {
        metrics: () => metricsText({ host, store: null, storage }),
        problem: () => failure,
        waiting: () => (conn.nc.isClosed() ? 'the NATS connection is closed' : null),
      })
    : null;
  if (ops) log(`engine: ops port on ${ops.url} (/metrics, /healthz, /readyz)`);
  const statsLine = async () => (await host.statsLine()) + (run.dropped() ? `; ${grouped(run.dropped())} batches dropped while the workers were behind` : '');
  const stats = setInterval(() => void statsLine().then(log), 10_000);
  stats.unref();
  return {
    host,
    async stop() {
      clearInterval(stats);
      await ops?.close();
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
