// Live capture on a veth pair whose far end sits in a network namespace made by the test, while
// tcpreplay sends a shared capture into it: the engine must count exactly what tcpreplay sent,
// and a starved probe must report the kernel's drops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend, type ClosedWindow } from '../backend/index.js';
import { feedFile } from '../analyze/analyze-files.js';
import { captureFiles, extractPackets } from '../extract/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { engineSink, EngineHost } from '../engine/run-engine.js';
import { Probe } from './probe.js';
import { EnginePublisher } from './publisher.js';
import { VethPair } from './veth.js';

const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const veth = new VethPair('probe');
const quiet = () => {};
let skip: string | null = 'not set up';

before(() => {
  skip = veth.create(['tcpreplay']);
});
after(() => {
  if (!skip) veth.destroy();
});

function config(overrides: Record<string, unknown>): NetspectraConfig {
  return loadConfig({ env: {}, overrides: { window: '1s', 'engine.idleClose': '300ms', 'engine.threads': 1, 'probe.interface': veth.near, 'probe.bpf': '', 'probe.id': 'live-probe', ...overrides } });
}

/** tcpreplay's count of packets sent, from its summary. */
function sentBy(output: string): number {
  const m = /Successful packets:\s+(\d+)/.exec(output);
  assert.ok(m, `tcpreplay said: ${output}`);
  return Number(m[1]);
}

const replayArgs = (extra: string[]) => veth.command('tcpreplay', '-i', veth.far, ...extra, CAPTURE);

async function capture(cfg: NetspectraConfig, send: () => Promise<string> | string) {
  const host = new EngineHost(cfg, quiet, 'live-test', engineSink(cfg, quiet, 'live-test', null));
  const windows: ClosedWindow[] = [];
  host.onWindow = (w) => windows.push(w);
  const probe = new Probe(cfg, new EnginePublisher(host), quiet, cfg.probe.interface);
  const running = probe.live();
  const output = await send();
  await new Promise((r) => setTimeout(r, 500)); // the last frames reach the ring
  await probe.stop();
  await running;
  await host.stop();
  const packets = windows.reduce((s, w) => s + (JSON.parse(w.json) as { packets: number }).packets, 0);
  return { sent: sentBy(output), packets, stats: probe.stats() };
}

test('live capture counts exactly what tcpreplay sent, keeps rotating indexed pcap files, and a flow extracted from them is what was sent', async (t) => {
  if (skip) return t.skip(skip);
  const persist = mkdtempSync(join(tmpdir(), 'netspectra-persist-'));
  const cfg = config({ 'probe.persist.dir': persist, 'probe.persist.fileSize': '1MiB', 'probe.persist.files': 30 });
  const { sent, packets, stats } = await capture(cfg, () => new Promise((resolve) => {
    let out = '';
    const [cmd, ...args] = replayArgs(['--pps', '20000']);
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', () => resolve(out));
  }));
  assert.equal(stats.kernelDropped, 0);
  assert.equal(sent, 62_781);
  assert.equal(packets, sent);
  assert.equal(stats.captured, sent);
  // About 5.6 MB of frames (whole: the default snap length) in 1 MiB files, each a whole pcap our own reader
  // takes, each with its index (written once the file was closed).
  const files = readdirSync(persist).filter((f) => f.endsWith('.pcap')).sort();
  assert.ok(files.length >= 5, files.join(' '));
  assert.deepEqual(readdirSync(persist).filter((f) => f.endsWith('.nsidx')).sort(), files.map((f) => `${f}.nsidx`));
  let persisted = 0;
  for (const f of files) {
    const analyzer = loadBackend('native').createAnalyzer({});
    const outcome = await feedFile(analyzer, join(persist, f), 1 << 20);
    assert.equal(outcome.error, undefined, `${f}: ${outcome.error}`);
    persisted += analyzer.packets();
  }
  assert.equal(persisted, sent);
  // The busiest TCP flow, cut out of the persisted files through their indexes: the packets
  // tcpreplay sent for it, as the probe kept them (up to the snap length), in order.
  const oracle = JSON.parse(readFileSync(join(process.cwd(), '..', 'shared', 'oracle', 'debian-pathspider-real.pcap.json'), 'utf8')) as {
    conv: { tcp: { addrA: string; portA: number; addrB: string; portB: number; totalFrames: number }[] };
  };
  const busiest = oracle.conv.tcp.reduce((a, b) => (b.totalFrames > a.totalFrames ? b : a));
  const flow = { aIp: busiest.addrA, aPort: busiest.portA, bIp: busiest.addrB, bPort: busiest.portB, protocol: 6, format: 'pcap' as const };
  const chunks: Uint8Array[] = [];
  const run = await extractPackets(loadBackend('native'), captureFiles([persist]), flow, (c) => void chunks.push(c), { growing: true });
  assert.ok(run.readByIndex >= 1 && run.readByIndex + run.skippedByIndex === files.length, JSON.stringify(run));
  const fromPersisted = pcapRecords(Buffer.concat(chunks));
  const parts: Uint8Array[] = [];
  await extractPackets(loadBackend('native'), [CAPTURE], flow, (c) => void parts.push(c));
  const expected = pcapRecords(Buffer.concat(parts)).map((d) => d.subarray(0, cfg.probe.snaplen));
  assert.equal(fromPersisted.length, busiest.totalFrames);
  assert.equal(expected.length, busiest.totalFrames);
  fromPersisted.forEach((d, i) => assert.ok(d.equals(expected[i]), `packet ${i} of the flow differs`));
  rmSync(persist, { recursive: true, force: true });
});

/** The frames' bytes of a little-endian pcap. */
function pcapRecords(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 24; at + 16 <= b.length; at += 16 + b.readUInt32LE(at + 8)) out.push(b.subarray(at + 16, at + 16 + b.readUInt32LE(at + 8)));
  return out;
}

test('a starved probe reports the kernel drops', async (t) => {
  if (skip) return t.skip(skip);
  // The smallest ring, and this thread blocked for the whole replay (spawnSync): the kernel
  // must drop, and say so.
  const cfg = config({ 'probe.bufferSize': '64KiB' });
  const { sent, packets, stats } = await capture(cfg, () => {
    const [cmd, ...args] = replayArgs(['--topspeed']);
    const r = spawnSync(cmd, args);
    return r.stdout.toString() + r.stderr.toString();
  });
  t.diagnostic(`tcpreplay sent ${sent}; the probe captured ${packets}, the kernel dropped ${stats.kernelDropped}`);
  assert.ok(stats.kernelDropped > 0, `no drops reported: ${JSON.stringify(stats)}`);
  assert.equal(packets, stats.captured);
  assert.ok(packets + stats.kernelDropped <= sent, `${packets} + ${stats.kernelDropped} > ${sent}`);
});
