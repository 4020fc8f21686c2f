// The cluster's shared state, in two NATS key-value buckets: `<stream>_LEASES`, whose entries
// expire after the lease TTL unless renewed (who holds which partition, the alerter, the
// store; who is alive), and `<stream>_STATE`, kept (each partition's checkpoint, the alerter's
// and the stores' progress). Leases are taken with create (only if absent) and renewed or
// released with compare-and-set on the revision, so two engines never both believe they hold
// one; checkpoints are written the same way, which fences an engine that lost its lease
// without noticing.
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NetspectraConfig } from '../config/index.js';

export interface ClusterBuckets {
  leases: KV;
  state: KV;
}

const NS_PER_MS = 1e6;

export async function openBuckets(nc: NatsConnection, cfg: NetspectraConfig): Promise<ClusterBuckets> {
  const kvm = new Kvm(nc);
  const ttlMs = Math.round(cfg.cluster.leaseTtl * 1000);
  const leasesName = `${cfg.nats.stream}_LEASES`;
  const leases = await kvm.create(leasesName, { ttl: ttlMs, history: 1 });
  // A bucket made with another TTL keeps it: the configured one wins.
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${leasesName}`);
  if (info.config.max_age !== ttlMs * NS_PER_MS) await jsm.streams.update(`KV_${leasesName}`, { ...info.config, max_age: ttlMs * NS_PER_MS });
  const state = await kvm.create(`${cfg.nats.stream}_STATE`, { history: 1 });
  return { leases, state };
}

const text = new TextEncoder();
const untext = new TextDecoder();

/** Reads a JSON value and its revision; null when absent or deleted. */
export async function readJson<T>(kv: KV, key: string): Promise<{ value: T; revision: number } | null> {
  const e = await kv.get(key);
  if (!e || e.operation !== 'PUT') return null;
  return { value: JSON.parse(untext.decode(e.value)) as T, revision: e.revision };
}

/** Writes a JSON value only if the key is still at `revision` (0: absent or deleted); returns
 * the new revision, or null when someone else wrote it since. */
export async function writeJson(kv: KV, key: string, value: unknown, revision: number): Promise<number | null> {
  const data = text.encode(JSON.stringify(value));
  try {
    return revision > 0 ? await kv.update(key, data, revision) : await kv.create(key, data);
  } catch (e) {
    if (isConflict(e)) return null;
    throw e;
  }
}

/** A compare-and-set refused: the key is not at the revision given. */
export function isConflict(e: unknown): boolean {
  return /wrong last sequence|key exists|10071/i.test(String((e as Error)?.message ?? e));
}

/** A value of the state bucket written by one holder at a time (a role's progress): read once
 * when the role is taken, then written in order, each write made from the last one written and
 * compare-and-set on its revision. A refused write means another engine wrote it since: this
 * holder is fenced and writes no more. */
export class StateRecord<T> {
  private revision = 0;
  private last: T | null = null;
  private writes: Promise<void> = Promise.resolve();
  private isFenced = false;

  constructor(private readonly kv: KV, readonly key: string, private readonly onFenced: () => void) {}

  get fenced(): boolean {
    return this.isFenced;
  }

  /** Reads the value the previous holder left (null: none). */
  async load(): Promise<T | null> {
    const saved = await readJson<T>(this.kv, this.key);
    this.revision = saved?.revision ?? 0;
    this.last = saved?.value ?? null;
    return this.last;
  }

  /** Writes what `next` makes of the last value written, after the writes queued before: a
   * write queued earlier never puts back a value older than one queued later. `next` returning
   * null writes nothing. Rejects once fenced. */
  update(next: (last: T | null) => T | null): Promise<void> {
    const done = this.writes.then(async () => {
      if (this.isFenced) throw new Error(`${this.key}: written by another engine`);
      const value = next(this.last);
      if (value === null) return;
      const revision = await writeJson(this.kv, this.key, value, this.revision);
      if (revision === null) {
        this.isFenced = true;
        this.onFenced();
        throw new Error(`${this.key}: written by another engine`);
      }
      this.revision = revision;
      this.last = value;
    });
    this.writes = done.catch(() => {});
    return done;
  }

  /** Writes no more (the role is let go). */
  fence(): void {
    this.isFenced = true;
  }
}

/** One lease in the leases bucket. */
export class Lease {
  private revision = 0;
  /** When it was last taken or renewed (ms). */
  renewedAt = 0;

  constructor(private readonly kv: KV, readonly key: string, private readonly holder: string, private readonly ttlMs: number) {}

  get held(): boolean {
    return this.revision > 0;
  }

  /** Takes the lease if nobody holds it; true when this holder has it. */
  async acquire(): Promise<boolean> {
    if (this.held) return true;
    try {
      this.revision = await this.kv.create(this.key, text.encode(this.holder));
      this.renewedAt = Date.now();
      return true;
    } catch {
      return false;
    }
  }

  /** Renews the lease; false once it is lost: someone else holds it, or it could not be
   * renewed for a whole TTL (it may have run out on the server). */
  async renew(): Promise<boolean> {
    if (!this.held) return false;
    try {
      this.revision = await this.kv.update(this.key, text.encode(this.holder), this.revision);
      this.renewedAt = Date.now();
      return true;
    } catch (e) {
      if (isConflict(e) || Date.now() - this.renewedAt >= this.ttlMs) {
        this.revision = 0;
        return false;
      }
      return true; // NATS unreachable for now: held until the TTL says otherwise
    }
  }

  /** Gives the lease up at once (another engine need not wait for the TTL). */
  async release(): Promise<void> {
    if (!this.held) return;
    const revision = this.revision;
    this.revision = 0;
    await this.kv.delete(this.key, { previousSeq: revision }).catch(() => {});
  }
}

/** Holders of the leases whose keys match `filter` (e.g. "partition.*"), by key. */
export async function holders(kv: KV, filter: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keys: string[] = [];
  for await (const k of await kv.keys(filter)) keys.push(k);
  await Promise.all(
    keys.map(async (k) => {
      const e = await kv.get(k);
      if (e && e.operation === 'PUT') out.set(k, untext.decode(e.value));
    }),
  );
  return out;
}
