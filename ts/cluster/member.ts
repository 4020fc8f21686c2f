// An engine of the cluster (`netspectra engine` in JetStream mode), or a store-only member
// (`serve` in JetStream mode). Every lease tick (a quarter of the TTL) it renews what it holds
// and takes what is free: its share of the partitions (ceil(partitions / live engines)), the
// alerter, and the writing of its store. When an engine joins, the others let partitions go
// down to their share; when one dies, its leases run out and the others take them.
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { TakenFlows } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { createFlowExport, type FlowExport } from '../flows/export.js';
import type { FlowRecordJson } from '../flows/types.js';
import { readRows } from '../backend/index.js';
import { bytes, grouped } from '../report/units.js';
import type { WindowStorage } from '../storage/index.js';
import { connectNats, ensureStream, type Connection, type Log } from '../transport/nats.js';
import { WindowFile } from '../engine/window-file.js';
import { holders, Lease, openBuckets, type ClusterBuckets } from './buckets.js';
import { ensureWindowStream } from './parts.js';
import { PartitionUnit, type PartitionStats } from './partition.js';
import { ALERTER_KEY, ClusterAlerter, PartStore, storeKey } from './roles.js';

export interface MemberOptions {
  /** Leases partitions and the alerter (an engine); false: only writes its store (serve). */
  engine: boolean;
  /** Where the cluster's windows are stored by this member when it holds the store's lease. */
  storage: WindowStorage | null;
}

interface Held<T> {
  lease: Lease;
  role: T;
}

/** Adds the counters (not the gauges: lag, last window end) of `from` to `to`. */
function addCounts(to: PartitionStats, from: PartitionStats): void {
  for (const k of ['batches', 'packets', 'windows', 'partsAlreadyPublished', 'packetsResumedPast', 'resumesPastExpired'] as const) to[k] += from[k];
}

const partitionKey = (partition: number) => `partition.${partition}`;
const memberKey = (id: string) => `member.${id.replace(/[^A-Za-z0-9_=-]/g, '_')}`;

export class ClusterMember {
  private readonly partitions = new Map<number, Held<PartitionUnit>>();
  private alerter: Held<ClusterAlerter> | null = null;
  private store: Held<PartStore> | null = null;
  private readonly presence: Lease;
  private readonly js: JetStreamClient;
  private readonly file: WindowFile | null;
  private readonly flowExport: FlowExport | null;
  private ticking: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private failure: ((e: Error) => void) | null = null;
  /** Settles when the member cannot go on (an engine of a partition failed). */
  readonly failed: Promise<Error>;
  /** When NATS was last (re)connected (ms). */
  private connectedSince = Date.now();
  /** Engines alive at the last tick. */
  members = 0;
  /** Counters of partitions this member let go (kept in the totals). */
  private readonly past: PartitionStats = { batches: 0, packets: 0, windows: 0, partsAlreadyPublished: 0, packetsResumedPast: 0, resumesPastExpired: 0, lag: 0, lastWindowEndMs: 0 };
  readonly counters = { takeovers: 0, released: 0, leasesLost: 0, alerterTakeovers: 0 };

  private constructor(
    readonly cfg: NetspectraConfig,
    private readonly log: Log,
    readonly id: string,
    private readonly conn: Connection,
    private readonly buckets: ClusterBuckets,
    private readonly opts: MemberOptions,
  ) {
    const ttlMs = cfg.cluster.leaseTtl * 1000;
    this.presence = new Lease(buckets.leases, memberKey(id), id, ttlMs);
    this.js = jetstream(conn.nc);
    this.file = opts.engine && cfg.engine.output ? new WindowFile(cfg.engine.output, id) : null;
    this.flowExport = opts.engine
      ? createFlowExport(cfg.flows, { log, storage: null, publish: (subject, data) => conn.nc.publish(subject, data), source: cfg.cluster.name })
      : null;
    this.failed = new Promise((resolve) => (this.failure = resolve));
    conn.onReconnect(() => (this.connectedSince = Date.now()));
  }

  static async start(cfg: NetspectraConfig, log: Log, id: string, opts: MemberOptions): Promise<ClusterMember> {
    if (!cfg.nats.url) throw new Error('the cluster needs nats.url');
    const conn = await connectNats(cfg.nats, `netspectra-${opts.engine ? 'engine' : 'serve'} ${id}`, log);
    try {
      await ensureStream(conn.nc, cfg.nats);
      await ensureWindowStream(conn.nc, cfg);
      const buckets = await openBuckets(conn.nc, cfg);
      const member = new ClusterMember(cfg, log, id, conn, buckets, opts);
      await member.tick();
      member.timer = setInterval(() => void member.tick(), Math.max(100, (cfg.cluster.leaseTtl * 1000) / 4));
      member.timer.unref();
      return member;
    } catch (e) {
      await conn.nc.close();
      throw e;
    }
  }

  get connection(): Connection {
    return this.conn;
  }

  /** Partitions held now. */
  heldPartitions(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  get holdsAlerter(): boolean {
    return this.alerter !== null;
  }

  get holdsStore(): boolean {
    return this.store !== null;
  }

  private tick(): Promise<void> {
    this.ticking ??= this.renewAndTake()
      .catch((e: Error) => this.log(`cluster: ${e.message}`))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async renewAndTake(): Promise<void> {
    if (this.stopping) return;
    const { leases } = this.buckets;
    const ttlMs = this.cfg.cluster.leaseTtl * 1000;
    // Only engines count as members: they share the partitions.
    if (this.opts.engine && !(await this.presence.renew())) await this.presence.acquire();
    // What is held is renewed first: a lease lost means the role stops at once.
    await Promise.all([...this.partitions].map(async ([p, h]) => {
      if (!(await h.lease.renew())) await this.letGo(p, 'its lease was lost');
    }));
    if (this.alerter && !(await this.alerter.lease.renew())) await this.stopAlerter('its lease was lost');
    if (this.store && !(await this.store.lease.renew())) await this.stopStore('its lease was lost');
    if (this.stopping) return;

    if (this.opts.storage && !this.store) {
      const lease = new Lease(leases, storeKey(this.opts.storage), this.id, ttlMs);
      if (await lease.acquire()) {
        const role = new PartStore(this.roleContext(() => void this.stopStore('another engine writes it')), this.opts.storage);
        this.store = { lease, role };
        await role.start().catch(async (e: Error) => {
          this.log(`cluster: cannot write the cluster's windows to ${this.opts.storage!.where}: ${e.message}`);
          await this.stopStore('it could not start');
        });
      }
    }
    if (!this.opts.engine) return;

    if (!this.alerter && this.cfg.alerts.rules.length) {
      const lease = new Lease(leases, ALERTER_KEY, this.id, ttlMs);
      if (await lease.acquire()) {
        const role = new ClusterAlerter(this.roleContext(() => void this.stopAlerter('another engine is the alerter')), this.opts.storage ? (e) => this.opts.storage!.addAlert(e) : undefined);
        role.alerting.publish = (e) => this.conn.nc.publish(this.cfg.alerts.subject, Buffer.from(JSON.stringify(e)));
        this.alerter = { lease, role };
        this.counters.alerterTakeovers++;
        await role.start().catch(async (e: Error) => {
          this.log(`cluster: cannot run the alerter: ${e.message}`);
          await this.stopAlerter('it could not start');
        });
      }
    }

    const total = this.cfg.probe.partitions;
    const live = await holders(leases, 'member.*');
    this.members = Math.max(1, live.size);
    const share = Math.ceil(total / this.members);
    if (this.partitions.size > share) {
      // Another engine joined: partitions beyond this one's share go, the highest first.
      for (const p of this.heldPartitions().slice(share).reverse()) await this.letGo(p, `${this.members} engines share ${total} partitions`, true);
      return;
    }
    if (this.partitions.size === share) return;
    // Start the search at a place of its own, so engines starting together spread out.
    const offset = [...this.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % total;
    for (let i = 0; i < total && this.partitions.size < share && !this.stopping; i++) {
      const p = (offset + i) % total;
      if (this.partitions.has(p)) continue;
      const lease = new Lease(leases, partitionKey(p), this.id, ttlMs);
      if (!(await lease.acquire())) continue;
      await this.take(p, lease);
    }
  }

  private roleContext(fenced: () => void) {
    return { cfg: this.cfg, js: this.js, state: this.buckets.state, engineId: this.id, log: this.log, fenced };
  }

  private async take(p: number, lease: Lease): Promise<void> {
    const unit = new PartitionUnit({
      cfg: this.cfg, js: this.js, state: this.buckets.state, maxPayload: this.conn.nc.info?.max_payload ?? 1024 * 1024, engineId: this.id, log: this.log,
      written: (partition, w) => {
        this.file?.write(w);
        this.log(`engine: partition ${partition}: window ${new Date(w.startMs).toISOString()} .. ${new Date(w.endMs).toISOString()}: ${grouped(w.packets)} packets, ${bytes(w.bytes)}${w.latePackets ? `, ${grouped(w.latePackets)} late` : ''}`);
      },
      flows: (taken) => this.exportFlows(taken),
      wantsFlowJson: this.flowExport?.wantsJson ?? false,
      fenced: (partition) => void this.letGo(partition, 'another engine holds it'),
      failed: (e) => {
        this.log(`engine: partition ${p}: ${e.message}`);
        this.failure?.(e);
      },
      connected: () => this.conn.connected(),
      connectedSince: () => this.connectedSince,
    }, p);
    this.partitions.set(p, { lease, role: unit });
    this.counters.takeovers++;
    try {
      await unit.start();
    } catch (e) {
      this.log(`cluster: partition ${p}: cannot start: ${(e as Error).message}`);
      await this.letGo(p, 'it could not start');
    }
  }

  private exportFlows(taken: TakenFlows | null): void {
    if (!taken || !this.flowExport) return;
    const rows = taken.rows ? readRows(taken.rows) : null;
    const records = taken.json ? (JSON.parse(taken.json) as FlowRecordJson[]) : null;
    this.flowExport.add(rows, records);
  }

  /** Stops a partition's engine (its open window is for the next holder) and frees its lease
   * (`release`), or leaves it to run out (it is lost). */
  private async letGo(p: number, why: string, release = false): Promise<void> {
    const held = this.partitions.get(p);
    if (!held) return;
    this.partitions.delete(p);
    addCounts(this.past, held.role.stats);
    await held.role.stop();
    if (release) {
      await held.lease.release();
      this.counters.released++;
    } else {
      this.counters.leasesLost++;
    }
    this.log(`cluster: partition ${p} let go: ${why}`);
  }

  private async stopAlerter(why: string): Promise<void> {
    const held = this.alerter;
    if (!held) return;
    this.alerter = null;
    await held.role.stop();
    await held.lease.release();
    this.log(`cluster: alerter let go: ${why}`);
  }

  private async stopStore(why: string): Promise<void> {
    const held = this.store;
    if (!held) return;
    this.store = null;
    await held.role.stop();
    await held.lease.release();
    this.log(`cluster: store writer let go: ${why}`);
  }

  /** Totals over the partitions held now and before. */
  partitionStats(): PartitionStats & { held: { partition: number; stats: PartitionStats }[] } {
    const total = { ...this.past, lag: 0 };
    const held = [...this.partitions].map(([partition, h]) => ({ partition, stats: { ...h.role.stats } }));
    for (const { stats } of held) {
      addCounts(total, stats);
      total.lag += stats.lag;
      total.lastWindowEndMs = Math.max(total.lastWindowEndMs, stats.lastWindowEndMs);
    }
    return { ...total, held };
  }

  roleStats() {
    return {
      alerter: this.alerter ? { ...this.alerter.role.stats, lateParts: this.alerter.role.lateParts } : null,
      store: this.store ? { ...this.store.role.stats, lag: this.store.role.lag } : null,
    };
  }

  statsLine(): string {
    const s = this.partitionStats();
    const roles = [this.alerter ? 'the alerter' : '', this.store ? 'the store writer' : ''].filter(Boolean).join(' and ');
    return `cluster: ${this.members} engine(s); this one holds partition(s) ${this.heldPartitions().join(', ') || 'none'}${roles ? ` and is ${roles}` : ''}; ${grouped(s.batches)} batches, ${grouped(s.packets)} packets, ${grouped(s.windows)} window parts` +
      (s.partsAlreadyPublished ? `, ${s.partsAlreadyPublished} parts already published` : '') + (s.lag ? `, ${grouped(s.lag)} batches behind` : '');
  }

  /** Lets every lease go (the open windows are for the next holders) and closes the sinks. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    for (const p of this.heldPartitions()) await this.letGo(p, 'the engine stops', true);
    await this.stopAlerter('the engine stops');
    await this.stopStore('the engine stops');
    await this.presence.release();
    if (this.flowExport) await this.flowExport.close();
    this.file?.close();
    await this.conn.nc.drain().catch(() => this.conn.nc.close());
  }
}
