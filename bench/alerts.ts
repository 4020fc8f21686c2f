// Alert rules at window close: how long evaluating a closed window takes, and how long a
// notification takes from the window's close to a webhook receiver on loopback.
//
// Synthetic traffic (50,000 internal hosts, 2,000,000 packets over 120 s) is analysed in 1 s
// windows with the default tasks plus an exact 5-tuple task, so every window holds tens of
// thousands of keys. Eight rules read them: per-key rules on the exact tasks (every key of the
// window is compared), on the Count-Min candidates and on the spreaders, a protocol share, and
// window-level rates. Evaluation time per window (p50, p99, max) comes from evaluating each
// snapshot directly; the notification latency is measured by sending every notification of the
// run through the dispatcher to a local HTTP server that records when each arrived.
//
// Prints a table and writes bench/results/alerts.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Alerting } from '../ts/alert/alerting.js';
import { AlertEvaluator } from '../ts/alert/evaluator.js';
import { WindowView } from '../ts/alert/metrics.js';
import { compileRules } from '../ts/alert/rules.js';
import { createAnalyzer } from '../ts/analyze/analyze-files.js';
import { createTrafficSource, loadBackend, readClosedWindow, type ClosedWindow } from '../ts/backend/index.js';
import { loadConfig } from '../ts/config/index.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const PACKETS = 2_000_000;
const SECONDS = 120;
const HOSTS = 50_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function main(): Promise<void> {
  const received: number[] = [];
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const port = (hook.address() as AddressInfo).port;

  const base = loadConfig({ env: {} });
  const cfg = loadConfig({
    env: {},
    overrides: {
      'analyze.window': 1,
      'analyze.exactBeside': false,
      tasks: [...base.tasks, { name: 'flows', type: 'exact', key: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] }],
      alerts: {
        rules: [
          { name: 'flow_bytes', task: 'flows', metric: 'bps', threshold: '2Mbps' },
          { name: 'pair_flows', task: 'flows', metric: 'flows', groupBy: ['SrcIP', 'DstIP'], threshold: 50 },
          { name: 'host_pps', task: 'src_ip', metric: 'pps', threshold: '2kpps' },
          { name: 'heavy', task: 'heavy_flows', metric: 'bps', threshold: '1Mbps' },
          { name: 'scanner', task: 'scanners', metric: 'spread', threshold: 100 },
          { name: 'udp_share', task: 'dst_port', metric: 'protocol_share', per: 'total', protocol: 'udp', threshold: '60%' },
          { name: 'syn', metric: 'new_conversations', threshold: '200/s' },
          { name: 'rate', metric: 'bps', threshold: '10Mbps' },
        ],
        notifiers: [{ type: 'webhook', name: 'bench', url: `http://127.0.0.1:${port}/` }],
      },
    },
  });

  const backend = loadBackend();
  const { analyzer } = createAnalyzer(backend, cfg, true, { source: 'bench', run: '' });
  const source = createTrafficSource({ seed: 11, packets: PACKETS, hosts: HOSTS, durationSeconds: SECONDS }, backend);
  const windows: ClosedWindow[] = [];
  analyzer.beginFile('bench');
  for (;;) {
    const chunk = source.nextChunk(65_536);
    if (chunk.length === 0) break;
    const error = analyzer.feed(chunk);
    if (error) throw new Error(error);
    windows.push(...analyzer.takeWindows().map(readClosedWindow));
  }
  analyzer.endFile();
  analyzer.closeWindow();
  windows.push(...analyzer.takeWindows().map(readClosedWindow));

  // Evaluation alone, window by window.
  const evaluator = new AlertEvaluator(compileRules(cfg).rules, { source: 'bench', maxActive: cfg.alerts.maxActive, log });
  const times: number[] = [];
  let events = 0;
  let keys = 0;
  for (const w of windows) {
    const t = performance.now();
    const view = WindowView.of(w, 0, w.rows!);
    events += evaluator.evaluate(view).length;
    times.push(performance.now() - t);
    keys += view.keyRows('exact_rows', 'flows').length;
  }
  const sorted = [...times].sort((a, b) => a - b);

  // Window close -> webhook received, through Alerting (evaluation, recording, dispatch).
  const alerting = Alerting.create(cfg, { source: 'bench', log, notify: true, analyzer: null })!;
  const handedOver = performance.now();
  for (const w of windows) alerting.addWindow(w, w.rows!);
  await alerting.close(60_000);
  hook.close();
  const notified = alerting.stats().notifiers[0];

  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3) },
    backend: backend.name,
    packets: PACKETS,
    windows: windows.length,
    rules: cfg.alerts.rules.length,
    meanExactKeysPerWindow: Math.round(keys / windows.length),
    notifications: events,
    evaluationMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1], total: times.reduce((a, b) => a + b, 0) },
    webhook: { sent: notified.sent, failedAttempts: notified.failedAttempts, dropped: notified.dropped, received: received.length },
    allDeliveredMs: received.length ? received[received.length - 1] - handedOver : null,
  };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'alerts.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`\nalert rules: ${result.rules} rules over ${result.windows} windows of 1 s (${result.meanExactKeysPerWindow.toLocaleString('en-US')} exact 5-tuple keys per window on average), ${backend.name} backend`);
  console.log('| measure | value |\n|---|---:|');
  console.log(`| evaluation per window, p50 | ${result.evaluationMs.p50.toFixed(2)} ms |`);
  console.log(`| evaluation per window, p99 | ${result.evaluationMs.p99.toFixed(2)} ms |`);
  console.log(`| evaluation per window, max | ${result.evaluationMs.max.toFixed(2)} ms |`);
  console.log(`| notifications | ${result.notifications} |`);
  console.log(`| webhook deliveries (received) | ${result.webhook.received} |`);
  console.log(`| all ${result.windows} windows handed over -> last webhook received | ${result.allDeliveredMs?.toFixed(0)} ms |`);
}

await main();
