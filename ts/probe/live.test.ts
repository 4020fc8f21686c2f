// Live capture on a veth pair whose far end sits in a network namespace made by the test, while
// tcpreplay sends a shared capture into it: the engine must count exactly what tcpreplay sent,
// and a starved probe must report the kernel's drops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../backend/index.js';
import { feedFile } from '../analyze/analyze-files.js';
import type { ClosedWindow } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { EngineHost } from '../engine/run-engine.js';
import { Probe } from './probe.js';
import { EnginePublisher } from './publisher.js';

const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const NS = `nsprobe${process.pid}`;
const HOST_END = `nsp${process.pid % 100000}a`;
const NS_END = `nsp${process.pid % 100000}b`;
const quiet = () => {};

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for a network namespace and a veth pair';
  for (const tool of ['ip', 'tcpreplay']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (apt install iproute2 tcpreplay)`;
  }
  return null;
}
const skip = missing();

const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

before(() => {
  if (skip) return;
  sh('ip', 'netns', 'add', NS);
  sh('ip', 'link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', NS_END);
  sh('ip', 'link', 'set', NS_END, 'netns', NS);
  // No IPv6 on either end: only the replayed frames cross the pair.
  sh('sysctl', '-qw', `net.ipv6.conf.${HOST_END}.disable_ipv6=1`);
  sh('ip', 'netns', 'exec', NS, 'sysctl', '-qw', `net.ipv6.conf.${NS_END}.disable_ipv6=1`);
  sh('ip', 'link', 'set', HOST_END, 'mtu', '9000', 'up');
  sh('ip', 'netns', 'exec', NS, 'ip', 'link', 'set', NS_END, 'mtu', '9000', 'up');
});
after(() => {
  if (skip) return;
  spawnSync('ip', ['link', 'del', HOST_END]);
  spawnSync('ip', ['netns', 'del', NS]);
});

function config(overrides: Record<string, unknown>): NetspectraConfig {
  return loadConfig({ env: {}, overrides: { window: '1s', 'engine.idleClose': '300ms', 'engine.workers': 1, 'probe.interface': HOST_END, 'probe.bpf': '', 'probe.id': 'live-probe', ...overrides } });
}

/** tcpreplay's count of packets sent, from its summary. */
function sentBy(output: string): number {
  const m = /Successful packets:\s+(\d+)/.exec(output);
  assert.ok(m, `tcpreplay said: ${output}`);
  return Number(m[1]);
}

const replayArgs = (extra: string[]) => ['netns', 'exec', NS, 'tcpreplay', '-i', NS_END, ...extra, CAPTURE];

async function capture(cfg: NetspectraConfig, send: () => Promise<string> | string) {
  const host = new EngineHost(cfg, quiet);
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

test('live capture counts exactly what tcpreplay sent, and keeps rotating pcap files', { skip: skip ?? false }, async () => {
  const persist = mkdtempSync(join(tmpdir(), 'netspectra-persist-'));
  const cfg = config({ 'probe.persist.dir': persist, 'probe.persist.fileSize': '1MiB', 'probe.persist.files': 3 });
  const { sent, packets, stats } = await capture(cfg, () => new Promise((resolve) => {
    let out = '';
    const p = spawn('ip', replayArgs(['--pps', '20000']), { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', () => resolve(out));
  }));
  assert.equal(stats.kernelDropped, 0);
  assert.equal(sent, 62_781);
  assert.equal(packets, sent);
  assert.equal(stats.captured, sent);
  // About 9 MB of frames cut at 160 bytes: many files were written, the newest 3 kept, each a
  // whole pcap our own reader takes.
  const files = readdirSync(persist).sort();
  assert.equal(files.length, 3, files.join(' '));
  for (const f of files) {
    const analyzer = loadBackend('native').createAnalyzer({});
    const outcome = feedFile(analyzer, join(persist, f), 1 << 20);
    assert.equal(outcome.error, undefined, `${f}: ${outcome.error}`);
    assert.ok(analyzer.packets() > 1000, `${f} holds ${analyzer.packets()} packets`);
  }
  rmSync(persist, { recursive: true, force: true });
});

test('a starved probe reports the kernel drops', { skip: skip ?? false }, async () => {
  // The smallest ring, and this thread blocked for the whole replay (spawnSync): the kernel
  // must drop, and say so.
  const cfg = config({ 'probe.bufferSize': '64KiB' });
  const { sent, packets, stats } = await capture(cfg, () => {
    const r = spawnSync('ip', replayArgs(['--topspeed']));
    return r.stdout.toString() + r.stderr.toString();
  });
  assert.ok(stats.kernelDropped > 0, `no drops reported: ${JSON.stringify(stats)}`);
  assert.equal(packets, stats.captured);
  assert.ok(packets + stats.kernelDropped <= sent, `${packets} + ${stats.kernelDropped} > ${sent}`);
});
