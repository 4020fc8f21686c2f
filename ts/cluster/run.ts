// `netspectra engine` in JetStream mode (a cluster member that leases partitions and the
// alerter) and `serve` in JetStream mode (a member that only writes the cluster's windows to its
// store): the member, its ops port and its periodic log line.
import type { NetspectraConfig } from '../config/index.js';
import { Exposition, metricsText } from '../ops/metrics.js';
import { startOpsServer } from '../ops/server.js';
import { storedText, type WindowStorage } from '../storage/index.js';
import type { Log } from '../transport/nats.js';
import { engineId } from '../engine/run-engine.js';
import { transportBackend } from '../backend/index.js';
import { ClusterMember } from './member.js';

export interface RunningMember {
  member: ClusterMember;
  /** Settles when the member cannot go on. */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

/** Clear words for a configuration the cluster cannot run with. */
export function clusterProblems(cfg: NetspectraConfig): string[] {
  if (!cfg.nats.jetstream) return [];
  const packets = cfg.nats.subject;
  const windows = cfg.cluster.windowSubject;
  const under = (a: string, b: string) => a === b || a.startsWith(`${b}.`);
  if (under(windows, packets) || under(packets, windows)) {
    return [`cluster.windowSubject: "${windows}" overlaps nats.subject "${packets}" (batches go to ${packets}.<partition>); choose a subject outside it`];
  }
  if (cfg.cluster.windowStream === cfg.nats.stream) return [`cluster.windowStream: "${cfg.cluster.windowStream}" is also nats.stream; the windows need a stream of their own`];
  return [];
}

export async function runClusterMember(cfg: NetspectraConfig, log: Log, storage: WindowStorage | null, engine: boolean): Promise<RunningMember> {
  const problems = clusterProblems(cfg);
  if (problems.length) throw new Error(problems.join('; '));
  const id = engineId();
  const member = await ClusterMember.start(cfg, log, id, { engine, storage });
  const what = engine
    ? `engine ${id} (${transportBackend().name} backend): ${cfg.tasks.length} task(s), ${cfg.window} s windows; cluster over ${cfg.probe.partitions} partition(s) of ${cfg.nats.stream}, lease TTL ${cfg.cluster.leaseTtl} s`
    : `serve ${id}: storing the windows of the cluster in ${cfg.cluster.windowStream}`;
  log(what);
  let failure: string | null = null;
  void member.failed.then((e) => (failure = `engine failed: ${e.message}`));
  const ops = engine && cfg.engine.ops
    ? await startOpsServer(cfg.engine.ops, 'engine.ops', {
        metrics: async () => clusterMetricsText(member) + (await metricsText({ host: null, store: null, storage })),
        problem: () => failure,
        waiting: () => (member.connection.nc.isClosed() ? 'the NATS connection is closed' : member.connection.connected() ? null : 'NATS is unreachable'),
      })
    : null;
  if (ops) log(`engine: ops port on ${ops.url} (/metrics, /healthz, /readyz)`);
  const stats = setInterval(() => log(member.statsLine()), 10_000);
  stats.unref();
  return {
    member,
    failed: member.failed,
    async stop() {
      clearInterval(stats);
      await ops?.close();
      log(member.statsLine());
      await member.stop();
      if (storage) {
        log(`${engine ? 'engine' : 'serve'}: ${storedText(storage.where, await storage.close())}`);
      }
    },
  };
}

/** The member's leases and progress in the Prometheus text format. */
export function clusterMetricsText(member: ClusterMember): string {
  const m = new Exposition();
  const s = member.partitionStats();
  const roles = member.roleStats();
  const per = (f: (x: (typeof s.held)[number]['stats']) => number): [Record<string, string>, number][] => s.held.map((h) => [{ partition: String(h.partition) }, f(h.stats)]);
  m.add('netspectra_cluster_engines', 'gauge', 'Engines alive in the cluster (presence leases)', member.members);
  m.add('netspectra_cluster_partitions_held', 'gauge', 'Partitions this engine holds the lease of', s.held.length);
  m.add('netspectra_cluster_alerter_held', 'gauge', '1 while this engine is the alerter', member.holdsAlerter ? 1 : 0);
  m.add('netspectra_cluster_store_writer_held', 'gauge', '1 while this member writes the cluster windows to its store', member.holdsStore ? 1 : 0);
  m.add('netspectra_cluster_partition_lag_batches', 'gauge', 'Batches in the stream after the last one applied, per partition held', per((x) => x.lag));
  m.add('netspectra_cluster_partition_packets_total', 'counter', 'Packets counted, per partition held (since it was taken)', per((x) => x.packets));
  m.add('netspectra_cluster_partition_window_end_seconds', 'gauge', 'End of the last window written, per partition held', per((x) => x.lastWindowEndMs / 1000));
  m.add('netspectra_cluster_batches_total', 'counter', 'Batches applied by this engine', s.batches);
  m.add('netspectra_cluster_packets_total', 'counter', 'Packets counted by this engine', s.packets);
  m.add('netspectra_cluster_window_parts_total', 'counter', 'Window parts this engine published', s.windows);
  m.add('netspectra_cluster_duplicate_parts_total', 'counter', 'Parts the windows stream held already (published before a failover), dropped there', s.partsAlreadyPublished);
  m.add('netspectra_cluster_resumed_packets_total', 'counter', 'Packets of a takeover\'s first batch already in a written window (not counted again)', s.packetsResumedPast);
  m.add('netspectra_cluster_expired_resumes_total', 'counter', 'Takeovers whose checkpoint batch the stream no longer held (nats.maxAge)', s.resumesPastExpired);
  m.add('netspectra_cluster_takeovers_total', 'counter', 'Partition leases taken by this engine', member.counters.takeovers);
  m.add('netspectra_cluster_leases_lost_total', 'counter', 'Partition leases this engine lost (not renewed in time, or taken)', member.counters.leasesLost);
  m.add('netspectra_cluster_partitions_released_total', 'counter', 'Partitions this engine gave back (another engine joined, or it stopped)', member.counters.released);
  m.add('netspectra_cluster_alerter_takeovers_total', 'counter', 'Times this engine became the alerter', member.counters.alerterTakeovers);
  if (roles.alerter) {
    m.add('netspectra_cluster_alerter_windows_total', 'counter', 'Merged windows evaluated since this engine became the alerter', roles.alerter.windows);
    m.add('netspectra_cluster_alerter_partial_windows_total', 'counter', 'Merged windows evaluated with parts missing (cluster.mergeWait ran out)', roles.alerter.windowsWithPartsMissing);
    m.add('netspectra_cluster_alerter_late_parts_total', 'counter', 'Parts that came after their window was evaluated', roles.alerter.lateParts);
  }
  if (roles.store) m.add('netspectra_cluster_store_lag_parts', 'gauge', 'Window messages not yet written to the store', roles.store.lag);
  return m.text();
}
