// probe and engine: live capture into batches, and the engine over them.
import { defaultSource, openWindowStorage, type Store } from '../storage/index.js';
import { EngineHost, engineId, engineSink, runEngine } from '../engine/run-engine.js';
import { Probe, probeId } from '../probe/probe.js';
import { EnginePublisher, JetStreamPublisher, NatsPublisher, type Publisher } from '../probe/publisher.js';
import { connectNats, ensureStream, type Connection } from '../transport/nats.js';
import { metricsText, probeMetricsText } from '../ops/metrics.js';
import { startOpsServer } from '../ops/server.js';
import { grouped } from '../report/units.js';
import { config, interrupted, log, UsageError, type Values } from './common.js';
import { openServedStore, startApiServer, type ApiServer } from './serve.js';
import { runClusterMember } from '../cluster/run.js';

export async function probe(files: string[], values: Values): Promise<number> {
  const cfg = config(values, true);
  const replay = Boolean(values.read);
  if (!replay && !cfg.probe.interface) throw new UsageError('probe needs --iface (or probe.interface), or --read FILE');
  if (!values.engine && !cfg.nats.url) throw new UsageError('probe needs --nats URL (or nats.url), or --engine to run the engine in this process');
  if (values.serve && !values.engine) throw new UsageError('probe --serve needs --engine (the API and console of the engine in this process)');
  let host: EngineHost | null = null;
  let conn: Connection | null = null;
  let publisher: Publisher;
  let store: Store | null = null;
  let server: ApiServer | null = null;
  if (values.engine) {
    const source = defaultSource(cfg.storage);
    if (values.serve) store = await openServedStore(cfg, log, 'probe --serve');
    const storage = openWindowStorage(cfg.storage, { source, log, store: store ?? undefined });
    const id = engineId();
    host = new EngineHost(cfg, log, id, engineSink(cfg, log, id, storage), storage);
    publisher = new EnginePublisher(host);
    if (store) server = await startApiServer(cfg, log, 'probe', { store, host, storage, source });
  } else {
    conn = await connectNats(cfg.nats, `netspectra-probe ${probeId(cfg)}`, log);
    if (cfg.nats.jetstream) {
      await ensureStream(conn.nc, cfg.nats);
      publisher = new JetStreamPublisher(conn, cfg.nats, probeId(cfg), log);
    } else {
      publisher = new NatsPublisher(conn, cfg.nats, log);
    }
  }
  const p = new Probe(cfg, publisher, log, replay ? 'file' : cfg.probe.interface);
  let failure: string | null = null;
  const engineHost = host;
  const ops = cfg.probe.ops
    ? await startOpsServer(cfg.probe.ops, 'probe.ops', {
        // With --engine, the engine in this process adds its own counters.
        metrics: async () => probeMetricsText(p.counts()) + (engineHost ? await metricsText({ host: engineHost, store: null, storage: null }) : ''),
        problem: () => failure,
        waiting: () => (conn?.nc.isClosed() ? 'the NATS connection is closed' : null),
      })
    : null;
  if (ops) log(`probe ${p.id}: ops port on ${ops.url} (/metrics, /healthz, /readyz)`);
  if (replay) {
    const paths = [values.read as string, ...files];
    const packets = await p.replayFiles(paths, cfg.analyze.chunkSize);
    await p.stop();
    log(`probe ${p.id}: sent ${grouped(packets)} packets from ${paths.join(', ')}`);
  } else {
    const done = p.live().catch((e: Error) => {
      failure = `capture failed: ${e.message}`;
      throw e;
    });
    await Promise.race([done, interrupted()]);
    await p.stop();
  }
  await ops?.close();
  if (server) {
    // A replay stays served until interrupted, so its windows can be looked at.
    if (replay) await interrupted();
    await server.close();
  }
  if (host) await host.stop();
  if (store) await store.close();
  if (conn) await conn.nc.drain().catch(() => {});
  return 0;
}

export async function engineCommand(values: Values): Promise<number> {
  const cfg = config(values, true);
  if (cfg.nats.jetstream) {
    // The cluster's windows are stored as the cluster's name, whichever engine made them.
    const storage = openWindowStorage(cfg.storage, { source: cfg.cluster.name, log });
    const running = await runClusterMember(cfg, log, storage, true);
    const failure = await Promise.race([interrupted().then(() => null), running.failed]);
    log(failure ? 'engine: stopping after the failure' : 'engine: stopping (open windows are left to the engines that take the partitions over)');
    await running.stop();
    return failure ? 1 : 0;
  }
  const running = await runEngine(cfg, log, openWindowStorage(cfg.storage, { source: defaultSource(cfg.storage), log }));
  const failure = await Promise.race([interrupted().then(() => null), running.host.failed]);
  log(failure ? 'engine: stopping after the failure' : 'engine: stopping (closing the open window)');
  await running.stop();
  return failure ? 1 : 0;
}
