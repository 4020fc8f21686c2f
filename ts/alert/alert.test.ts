// Alert rules: validation, the lifecycle over windows, values checked against tshark's counts,
// and the whole path live: a synthetic scan and flood replayed through a real nats-server into
// the engine, notifications received by a webhook server and a real SMTP server on loopback,
// published on NATS, stored in the embedded ClickHouse and read back through the API.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { connect } from '@nats-io/transport-node';
import { SMTPServer } from 'smtp-server';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { createApiApp } from '../api/http.js';
import { createQueryService } from '../api/service.js';
import { loadBackend } from '../backend/index.js';
import { ConfigError, loadConfig, type NetspectraConfig } from '../config/index.js';
import { runEngine } from '../engine/run-engine.js';
import { ListAlertsRequestSchema } from '../gen/netspectra/v1/query_pb.js';
import { writeSyntheticCapture } from '../generate/write-capture.js';
import { Probe } from '../probe/probe.js';
import { NatsPublisher } from '../probe/publisher.js';
import { openStore, openWindowStorage } from '../storage/index.js';
import { NatsServer } from '../transport/nats-server.js';
import { connectNats } from '../transport/nats.js';
import { Alerting } from './alerting.js';
import { AlertEvaluator } from './evaluator.js';
import { WindowView } from './metrics.js';
import { parseQuantity } from './quantity.js';
import { compileRules, rulesProblems } from './rules.js';
import type { AlertEvent } from '../shared/index.js';
import { WindowSink } from '../sink/index.js';

const quiet = () => {};
const pcaps = join(process.cwd(), '..', 'shared', 'pcaps');
const oracle = (name: string) => JSON.parse(readFileSync(join(process.cwd(), '..', 'shared', 'oracle', `${name}.json`), 'utf8')) as {
  packets: number; phs: { protocol: string; frames: number }[];
  conv: { ip: { addrA: string; addrB: string; bytesAtoB: number; bytesBtoA: number }[] };
};

function config(doc: Record<string, unknown>): NetspectraConfig {
  return loadConfig({ env: {}, overrides: doc, checks: [rulesProblems] });
}

function problems(doc: Record<string, unknown>): string[] {
  try {
    config(doc);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('rules are checked at start, each problem naming the rule and the field', () => {
  test('thresholds with units', () => {
    assert.equal(parseQuantity('50kpps', 'pps'), 50_000);
    assert.equal(parseQuantity('1GB', 'bytes'), 1e9);
    assert.equal(parseQuantity('64MiB', 'bytes'), 64 * 1024 ** 2);
    assert.equal(parseQuantity('10Mbps', 'bps'), 1e7);
    assert.equal(parseQuantity('1 Gbit/s', 'bps'), 1e9);
    assert.equal(parseQuantity('100MB/s', 'bps'), 8e8);
    assert.equal(parseQuantity('80%', 'share'), 0.8);
    assert.equal(parseQuantity('0.25', 'share'), 0.25);
    assert.equal(parseQuantity('500/s', 'rate'), 500);
    assert.equal(parseQuantity('2k', 'count'), 2000);
    assert.throws(() => parseQuantity('50kbps', 'pps'), /unit "bps" does not fit; expected a packet rate such as 50kpps/);
    assert.throws(() => parseQuantity('80', 'share'), /ambiguous for a share: write 80% or a fraction/);
    assert.throws(() => parseQuantity('150%', 'share'), /more than 100%/);
    assert.throws(() => parseQuantity('lots', 'count'), /"lots" is not a count/);
    assert.throws(() => parseQuantity('4KiB', 'count'), /binary prefixes are for sizes/);
  });

  test('every bad rule is reported together, by rule name and field', () => {
    const found = problems({
      alerts: {
        notifiers: [{ type: 'log', name: 'ops' }],
        rules: [
          { name: 'a', task: 'nope', metric: 'pps', threshold: 1 },
          { name: 'b', task: 'scanners', metric: 'bytes', threshold: '1GB' },
          { name: 'c', task: 'src_ip', metric: 'pps', threshold: '5Mbps' },
          { name: 'd', task: 'src_ip', metric: 'bytes', groupBy: ['DstPort'], threshold: 1 },
          { name: 'e', task: 'dst_port', metric: 'protocol_share', per: 'total', threshold: '10%' },
          { name: 'f', metric: 'pps', threshold: 1, notify: ['pager'] },
          { name: 'f', metric: 'pps', threshold: 1 },
          { name: 'g', task: 'src_ip', metric: 'distinct', threshold: 1 },
          { name: 'h', metric: 'spread', threshold: 1 },
        ],
      },
    });
    const expect = [
      /alerts\.rules\[0\] \(a\)\.task: no task "nope" \(tasks: src_ip, dst_port, heavy_flows, scanners, victims\)/,
      /alerts\.rules\[1\] \(b\)\.metric: bytes is not a metric of a superspread task; choose spread/,
      /alerts\.rules\[2\] \(c\)\.threshold: "5Mbps": unit "bps" does not fit; expected a packet rate/,
      /alerts\.rules\[3\] \(d\)\.groupBy: DstPort not in the key of task "src_ip" \(SrcIP\)/,
      /alerts\.rules\[4\] \(e\)\.protocol: required for protocol_share/,
      /alerts\.rules\[5\] \(f\)\.notify: no notifier "pager" \(notifiers: ops\)/,
      /alerts\.rules\[6\] \(f\)\.name: "f" is used by an earlier rule/,
      /alerts\.rules\[7\] \(g\)\.metric: task "src_ip" counts no distinct fields/,
      /alerts\.rules\[8\] \(h\)\.metric: spread is not a metric of the window \(without a task\)/,
    ];
    for (const e of expect) assert.ok(found.some((p) => e.test(p)), `expected ${e} among:\n${found.join('\n')}`);
    assert.equal(found.length, expect.length, found.join('\n'));
  });

  test('schema problems name the key path', () => {
    const found = problems({ alerts: { rules: [{ name: 'x', metric: 'qps', op: '=>', for: 0, labels: { team: ['a'] } }] } });
    assert.ok(found.some((p) => p.startsWith('alerts.rules[0].metric: expected one of packets')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('alerts.rules[0].op: expected one of >')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('alerts.rules[0].for: 0 is below the minimum 1')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('alerts.rules[0].labels.team: expected a string')), found.join('\n'));
  });
});

/** Window-level rules over hand-made windows (no task rows needed). */
function evaluator(rules: Record<string, unknown>[], maxActive = 1000): AlertEvaluator {
  const cfg = config({ alerts: { rules } });
  return new AlertEvaluator(compileRules(cfg).rules, { source: 'test', maxActive, log: quiet });
}

const T0 = Date.parse('2026-01-01T00:00:00Z');
/** A one-second window `i` with `pps` packets. */
const second = (i: number, pps: number, extra: { syn?: number; drops?: number } = {}) =>
  new WindowView(T0 + i * 1000, T0 + (i + 1) * 1000, pps, pps * 100, extra.syn ?? 0, extra.drops ?? 0, []);

describe('the lifecycle: pending, firing once, repeats after the cooldown, resolved', () => {
  test('fires after `for` consecutive windows, once, then again only after the cooldown, then resolves', () => {
    const ev = evaluator([{ name: 'busy', metric: 'pps', threshold: '1kpps', for: 3, cooldown: '10s', severity: 'critical', labels: { team: 'noc' } }]);
    const events: AlertEvent[][] = [];
    const states: string[] = [];
    const rates = [2000, 2000, 500, 2000, 2000, 2000, ...Array(12).fill(3000), 100, 100];
    rates.forEach((r, i) => {
      events.push(ev.evaluate(second(i, r)));
      states.push(ev.active()[0]?.state ?? '-');
    });
    // Window 2 breaks the first run: a pending alert ends silently.
    assert.deepEqual(events.slice(0, 5).map((e) => e.length), [0, 0, 0, 0, 0]);
    assert.deepEqual(states.slice(0, 7), ['pending', 'pending', '-', 'pending', 'pending', 'firing', 'firing']);
    const fired = events[5];
    assert.equal(fired.length, 1);
    assert.equal(fired[0].state, 'firing');
    assert.equal(fired[0].repeat, false);
    assert.equal(fired[0].severity, 'critical');
    assert.equal(fired[0].summary, 'busy: pps 2.00 kpps > 1.00 kpps');
    assert.equal(fired[0].startsAt, new Date(T0 + 3000).toISOString(), 'the first window of the run');
    assert.deepEqual(fired[0].labels, { team: 'noc' });
    // Persisting: nothing until 10 s of window time after the notification (window 5 ended at 6 s).
    const repeats = events.map((e, i) => (e.some((x) => x.repeat) ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(repeats, [15], 'one repeat, when window 15 ends at 16 s');
    const resolved = events.flat().filter((e) => e.state === 'resolved');
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].at, new Date(T0 + 19_000).toISOString());
    assert.equal(resolved[0].endsAt, new Date(T0 + 18_000).toISOString());
    assert.equal(resolved[0].valueText, '100 pps');
    assert.equal(new Set(events.flat().map((e) => e.id)).size, 1, 'one alert, one id across its notifications');
    assert.equal(ev.active().length, 0);
  });

  test('a gap between windows is a window without traffic', () => {
    const ev = evaluator([{ name: 'busy', metric: 'pps', threshold: 10 }, { name: 'quiet', metric: 'pps', op: '<', threshold: 1, for: 1 }]);
    assert.equal(ev.evaluate(second(0, 50))[0].rule, 'busy');
    const after = ev.evaluate(second(5, 50));
    assert.deepEqual(after.map((e) => `${e.rule} ${e.state}`), ['busy resolved', 'quiet firing', 'busy firing', 'quiet resolved']);
  });

  test('connection attempts, drops, and operators', () => {
    const ev = evaluator([
      { name: 'syn', metric: 'new_conversations', threshold: '100/s' },
      { name: 'lossy', metric: 'drops', op: '>=', threshold: 1 },
      { name: 'exact', metric: 'packets', op: '==', threshold: 7 },
      { name: 'not_seven', metric: 'packets', op: '!=', threshold: 7 },
    ]);
    const fired = ev.evaluate(second(0, 7, { syn: 150, drops: 3 })).map((e) => `${e.rule} ${e.valueText}`);
    assert.deepEqual(fired, ['syn 150 conn/s', 'lossy 3', 'exact 7']);
  });

  test('a rule holds at most maxActive alerts and logs the keys beyond', async () => {
    const capture = join(pcaps, 'debian-pathspider-real.pcap');
    const cfg = config({ analyze: { window: 0 }, alerts: { maxActive: 2, rules: [{ name: 'talkers', task: 'src_ip', metric: 'packets', threshold: 0 }] } });
    const logs: string[] = [];
    const events = await alertsOfAnalysis(cfg, [capture], (l) => logs.push(l));
    assert.equal(events.length, 2);
    assert.ok(logs.some((l) => /rule talkers holds 2 open alerts \(alerts.maxActive\); 1 more key\(s\) not tracked/.test(l)), logs.join('\n'));
  });
});

/** The notifications the rules raise over an offline analysis of `files`. */
async function alertsOfAnalysis(cfg: NetspectraConfig, files: string[], log: (l: string) => void = quiet, withModel = false): Promise<AlertEvent[]> {
  const alerting = Alerting.create(cfg, { source: 'analysis', log, notify: false, ...(withModel ? {} : { analyzer: null }) })!;
  const events: AlertEvent[] = [];
  alerting.subscribe((e) => events.push(e));
  const sink = new WindowSink({ storage: null, alerting, file: null, flowExport: null, log });
  await analyzeFiles(files, { backend: loadBackend(), config: cfg, progress: false, sink });
  await alerting.close();
  return events;
}

describe('rule values equal tshark counts on shared captures', () => {
  const name = 'debian-pathspider-real.pcap';
  const o = oracle(name);
  const host = '10.64.88.105';
  const sent = o.conv.ip.reduce((s, c) => s + (c.addrA === host ? c.bytesAtoB : 0) + (c.addrB === host ? c.bytesBtoA : 0), 0);
  const tcpShare = o.phs.find((p) => p.protocol === 'tcp')!.frames / o.packets;

  test('totals, bytes per key and protocol share fire exactly at tshark\'s values and not above them', async () => {
    const rules = [
      { name: 'packets_at', metric: 'packets', op: '>=', threshold: o.packets },
      { name: 'packets_above', metric: 'packets', op: '>', threshold: o.packets },
      { name: 'sent_at', task: 'src_ip', metric: 'bytes', op: '>=', threshold: sent },
      { name: 'sent_above', task: 'src_ip', metric: 'bytes', op: '>', threshold: sent },
      { name: 'tcp_at', task: 'dst_port', metric: 'protocol_share', per: 'total', protocol: 'tcp', op: '>=', threshold: String(tcpShare - 1e-12) },
      { name: 'tcp_above', task: 'dst_port', metric: 'protocol_share', per: 'total', protocol: 'tcp', op: '>', threshold: String(tcpShare + 1e-12) },
      { name: 'sketch_total', task: 'heavy_flows', metric: 'packets', per: 'total', op: '>=', threshold: o.packets },
    ];
    const cfg = config({ analyze: { window: 0 }, alerts: { rules } });
    const events = await alertsOfAnalysis(cfg, [join(pcaps, name)]);
    const by = new Map(events.map((e) => [e.rule, e]));
    assert.deepEqual([...by.keys()].sort(), ['packets_at', 'sent_at', 'sketch_total', 'tcp_at']);
    assert.equal(by.get('sketch_total')!.value, o.packets, 'a Count-Min task counts every packet');
    assert.equal(by.get('packets_at')!.value, o.packets);
    assert.equal(by.get('sent_at')!.value, sent);
    assert.deepEqual(by.get('sent_at')!.key, { SrcIP: host });
    assert.ok(Math.abs(by.get('tcp_at')!.value - tcpShare) < 1e-12);
  });

  test('the synthetic scan and flood: the planted sources fire, ordinary hosts do not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netspectra-alert-synth-'));
    try {
      const file = join(dir, 'synth.pcap');
      writeSyntheticCapture(loadBackend(), file, { packets: 100_000, seed: 3 });
      const cfg = config({
        analyze: { window: 10 },
        alerts: {
          rules: [
            { name: 'scanner', task: 'scanners', metric: 'spread', threshold: 150 },
            { name: 'victim', task: 'victims', metric: 'spread', threshold: 150 },
            { name: 'syn_flood', metric: 'new_conversations', threshold: '20/s' },
            { name: 'elephant', task: 'heavy_flows', metric: 'bytes', groupBy: ['SrcIP', 'DstIP'], threshold: '1MB' },
            { name: 'never', task: 'src_ip', metric: 'pps', threshold: '1Mpps' },
          ],
        },
      });
      const events = await alertsOfAnalysis(cfg, [file]);
      const firing = (rule: string) => [...new Set(events.filter((e) => e.rule === rule && e.state === 'firing').map((e) => e.keyText))];
      // The resolvers talk to many servers and hear from many clients: they are spreaders too,
      // and the only other ones.
      const resolvers = ['10.0.255.53', '10.0.255.54', '2001:db8:10:ffff::53'];
      const others = (rule: string, planted: string) => firing(rule).filter((k) => k !== planted && !resolvers.includes(k.split('=')[1]));
      assert.ok(firing('scanner').includes('SrcIP=203.0.113.250'));
      assert.deepEqual(others('scanner', 'SrcIP=203.0.113.250'), []);
      assert.ok(firing('victim').includes('DstIP=10.0.254.53'));
      assert.deepEqual(others('victim', 'DstIP=10.0.254.53'), []);
      assert.deepEqual(firing('syn_flood'), ['']);
      assert.deepEqual(firing('elephant'), ['SrcIP=10.0.254.40 DstIP=198.51.100.200']);
      assert.deepEqual(firing('never'), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('live: engine over NATS -> rules -> webhook, e-mail, NATS, history in ClickHouse', () => {
  let dir: string;
  let nats: NatsServer;
  let webhook: Server;
  let smtp: SMTPServer;
  let smtpPort = 0;
  const hooks: { body: string; signature: string | undefined }[] = [];
  const mails: { raw: string; user: string }[] = [];
  let capture: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-alert-live-'));
    capture = join(dir, 'synth.pcap');
    writeSyntheticCapture(loadBackend(), capture, { packets: 60_000, seed: 5, durationSeconds: 30 });
    nats = await NatsServer.start();
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        hooks.push({ body, signature: req.headers['x-netspectra-signature'] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    smtp = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        if (auth.username === 'noc' && auth.password === 'mail-secret') cb(null, { user: auth.username });
        else cb(new Error('Invalid username or password'));
      },
      onData(stream, session, cb) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
        stream.on('end', () => {
          mails.push({ raw, user: String(session.user) });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    smtpPort = (smtp.server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((r) => webhook.close(() => r()));
    await new Promise<void>((r) => smtp.close(() => r()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the planted scan fires once and resolves; notifications reach every sink; history is queryable', async () => {
    process.env.TEST_HOOK_KEY = 'hook-secret';
    process.env.TEST_SMTP_PASSWORD = 'mail-secret';
    const cfg = loadConfig({
      env: {},
      overrides: {
        'nats.url': nats.url,
        window: '5s',
        'engine.idleClose': '200ms',
        'storage.path': join(dir, 'data'),
        alerts: {
          rules: [
            { name: 'scanner', task: 'scanners', metric: 'spread', threshold: 60, severity: 'warning', notify: ['hook'] },
            { name: 'syn_flood', metric: 'new_conversations', threshold: '20/s', severity: 'critical', notify: ['mail'] },
            { name: 'never', task: 'src_ip', metric: 'pps', threshold: '1Mpps', notify: ['hook', 'mail'] },
          ],
          notifiers: [
            { type: 'webhook', name: 'hook', url: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`, secretEnv: 'TEST_HOOK_KEY' },
            { type: 'email', name: 'mail', host: '127.0.0.1', port: smtpPort, tls: 'none', user: 'noc', passwordEnv: 'TEST_SMTP_PASSWORD', from: 'netspectra@example.test', to: ['noc@example.test'] },
          ],
        },
      },
    });
    const published: AlertEvent[] = [];
    const nc = await connect({ servers: nats.url });
    nc.subscribe(cfg.alerts.subject, { callback: (_e, m) => void published.push(JSON.parse(m.string()) as AlertEvent) });
    const logs: string[] = [];
    const storage = openWindowStorage(cfg.storage, { source: 'live-test', log: (l) => logs.push(l) });
    const engine = await runEngine(cfg, (l) => logs.push(l), storage);
    const conn = await connectNats(cfg.nats, 'test probe', quiet);
    const probe = new Probe({ ...cfg, probe: { ...cfg.probe, id: 'test-probe' } }, new NatsPublisher(conn, cfg.nats, quiet), quiet, 'file');
    await probe.replayFiles([capture], 1 << 20);
    await probe.stop();
    await conn.nc.drain();
    await new Promise((r) => setTimeout(r, 500));
    await engine.stop();
    await nc.flush();
    await nc.close();

    // Webhook: scanner only (its notify list), signed with the key from the environment.
    const events = hooks.map((h) => {
      assert.equal(h.signature, `sha256=${createHmac('sha256', 'hook-secret').update(h.body).digest('hex')}`);
      return (JSON.parse(h.body) as { event: AlertEvent }).event;
    });
    assert.ok(events.length >= 2, `webhook got ${events.length}`);
    assert.ok(events.every((e) => e.rule === 'scanner'));
    const scan = events.filter((e) => e.key.SrcIP === '203.0.113.250');
    assert.deepEqual(scan.map((e) => e.state), ['firing', 'resolved'], 'one firing notification while the scan lasts, one resolution');
    assert.equal(scan[0].id, scan[1].id);
    assert.ok(scan[0].value >= 60 && scan[0].summary.startsWith('scanner: SrcIP=203.0.113.250 spread'));

    // E-mail: the SYN flood only, authenticated, with both bodies.
    assert.ok(mails.length >= 1);
    assert.ok(mails.every((m) => m.user === 'noc'));
    const first = mails[0].raw;
    assert.match(first, /^Subject: .*FIRING.*critical.*syn_flood/m);
    assert.match(first, /text\/plain/);
    assert.match(first, /text\/html/);
    assert.ok(!mails.some((m) => /scanner:/.test(m.raw)));

    // NATS: every notification of every rule; none of the rule that must not fire.
    const rules = new Set(published.map((e) => e.rule));
    assert.ok(rules.has('scanner') && rules.has('syn_flood') && !rules.has('never'));
    assert.equal(published.filter((e) => e.rule === 'scanner').length, events.length);

    // History, through the API's service over the store the engine wrote.
    const store = await openStore(cfg.storage);
    try {
      const service = createQueryService({ store, maxLimit: 1000, live: null });
      const all = await service.listAlerts(create(ListAlertsRequestSchema, { limit: 1000 }));
      assert.equal(all.alerts.length, published.length);
      const critical = await service.listAlerts(create(ListAlertsRequestSchema, { minSeverity: 'critical', limit: 1000 }));
      assert.ok(critical.alerts.length >= 1 && critical.alerts.every((a) => a.rule === 'syn_flood'));
      const resolved = await service.listAlerts(create(ListAlertsRequestSchema, { rule: 'scanner', state: 'resolved', limit: 1000 }));
      const stored = resolved.alerts.find((a) => a.key.SrcIP === '203.0.113.250')!;
      assert.equal(stored.id, scan[1].id);
      assert.equal(stored.summary, scan[1].summary);
      await assert.rejects(service.listAlerts(create(ListAlertsRequestSchema, { state: 'open', limit: 10 })), /state: "open" is not firing or resolved/);
      // The same over HTTP/JSON, with a token.
      const { app } = createApiApp({ store, maxLimit: 1000, live: null, tokens: ['t'], log: quiet });
      const get = (q: string, token = 't') => app.request(`/api/v1/alerts?${q}`, { headers: { authorization: `Bearer ${token}` } });
      const http = (await (await get('rule=scanner&state=resolved')).json()) as { alerts: { id: string; key: Record<string, string> }[] };
      assert.equal(http.alerts.find((a) => a.key.SrcIP === '203.0.113.250')?.id, scan[1].id);
      const bad = await get('min_severity=loud');
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /min_severity: "loud" is not one of info, warning, critical/);
      assert.equal((await get('', 'wrong')).status, 401);
    } finally {
      await store.close();
    }
    // Secrets never reach the log.
    assert.ok(!logs.some((l) => l.includes('hook-secret') || l.includes('mail-secret')));
    // The same capture analysed offline raises the same notifications: rules run on window time.
    const offline = await alertsOfAnalysis({ ...cfg, analyze: { ...cfg.analyze, window: cfg.window } }, [capture]);
    assert.deepEqual(offline.map((e) => `${e.at} ${e.rule} ${e.state} ${e.keyText} ${e.valueText}`).sort(), published.map((e) => `${e.at} ${e.rule} ${e.state} ${e.keyText} ${e.valueText}`).sort());
  });
});

describe('AI enrichment: on time with the model, on time without it', () => {
  let model: Server;
  let delayMs = 0;
  let url = '';
  before(async () => {
    // Speaks the OpenAI chat-completions wire format.
    model = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const answer = JSON.stringify({ hypothesis: 'A SYN scan from one external host', severityAssessment: 'warning is right', nextSteps: ['block 203.0.113.250 at the edge'] });
        const body = JSON.stringify({ id: 'x', object: 'chat.completion', model: 'test-model', choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }] });
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), delayMs);
      });
    });
    await new Promise<void>((r) => model.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(model.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    model.closeAllConnections();
    await new Promise<void>((r) => model.close(() => r()));
  });

  async function fire(): Promise<{ event: AlertEvent; ms: number }> {
    const cfg = config({ analyze: { window: 0 }, ai: { baseUrl: url, model: 'test-model', enrichTimeout: '300ms' }, alerts: { rules: [{ name: 'busy', metric: 'packets', threshold: 10 }] } });
    const started = Date.now();
    const [event] = await alertsOfAnalysis(cfg, [join(pcaps, 'debian-pathspider-real.pcap')], quiet, true);
    return { event, ms: Date.now() - started };
  }

  test('the model answers in time: hypothesis, severity assessment and next steps ride along', async () => {
    delayMs = 0;
    const { event } = await fire();
    assert.equal(event.enrichment?.hypothesis, 'A SYN scan from one external host');
    assert.deepEqual(event.enrichment?.nextSteps, ['block 203.0.113.250 at the edge']);
    assert.equal(event.enrichmentNote, undefined);
  });

  test('a slow model: the alert goes out at the deadline, saying why it has no enrichment', async () => {
    delayMs = 5000;
    const { event, ms } = await fire();
    assert.equal(event.enrichment, undefined);
    assert.match(event.enrichmentNote!, /AI enrichment unavailable: .*; the alert was sent without it/);
    assert.ok(ms < 2000, `sent after ${ms} ms`);
  });
});
