// The ops port of an engine and of a probe: /metrics, /healthz, /readyz over real HTTP, with the
// counters of a real engine fed a shared capture through a probe's batches.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config/index.js';
import { EngineHost, engineSink } from '../engine/run-engine.js';
import { Probe } from '../probe/probe.js';
import { EnginePublisher } from '../probe/publisher.js';
import { metricsText, probeMetricsText } from './metrics.js';
import { opsAddress, startOpsServer } from './server.js';

const capture = join(process.cwd(), '..', 'shared', 'pcaps', 'ndpi-KakaoTalk_talk.pcap');
const quiet = () => {};

test('ops addresses: host:port, [v6]:port, :port on loopback; anything else is named', () => {
  assert.deepEqual(opsAddress('127.0.0.1:9470', 'k'), { host: '127.0.0.1', port: 9470 });
  assert.deepEqual(opsAddress('[::1]:0', 'k'), { host: '::1', port: 0 });
  assert.deepEqual(opsAddress(':9470', 'k'), { host: '127.0.0.1', port: 9470 });
  for (const bad of ['9470', 'host', 'h:99999', 'h:x']) assert.throws(() => opsAddress(bad, 'engine.ops'), /engine\.ops: ".*" is not host:port/);
});

test('an engine and a probe answer /metrics, /healthz and /readyz; a failure turns health to 503', async () => {
  const cfg = loadConfig({ env: {}, overrides: { window: '10s', 'storage.kind': 'none' } });
  const host = new EngineHost(cfg, quiet, 'ops-test', engineSink(cfg, quiet, 'ops-test', null), null);
  const probe = new Probe(cfg, new EnginePublisher(host), quiet, 'file');
  let problem: string | null = null;
  const ops = await startOpsServer('127.0.0.1:0', 'probe.ops', {
    metrics: async () => probeMetricsText(probe.counts()) + (await metricsText({ host, store: null, storage: null })),
    problem: () => problem,
    waiting: () => null,
  });
  try {
    const packets = await probe.replayFiles([capture], cfg.analyze.chunkSize);
    await probe.stop();
    await host.engine.close();
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    const sample = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text)?.[1]);
    assert.equal(sample('netspectra_probe_captured_packets_total'), packets);
    assert.equal(sample('netspectra_engine_packets_total'), packets);
    assert.ok(sample('netspectra_probe_batches_total') > 0);
    assert.match(text, /^# TYPE netspectra_probe_dropped_packets_total counter$/m);
    assert.match(text, /^netspectra_probe_dropped_packets_total\{probe="[^"]+",interface="file",where="kernel"\} 0$/m);
    assert.equal((await fetch(`${ops.url}/healthz`)).status, 200);
    assert.equal(await (await fetch(`${ops.url}/readyz`)).text(), 'ok\n');
    problem = 'engine failed: worker stopped';
    const down = await fetch(`${ops.url}/healthz`);
    assert.equal(down.status, 503);
    assert.equal(await down.text(), 'engine failed: worker stopped\n');
    assert.equal((await fetch(`${ops.url}/nothing`)).status, 404);
    assert.equal((await fetch(`${ops.url}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await ops.close();
    await host.stop();
  }
});
