// Country and AS of flow endpoints from MMDB files the test writes (MaxMind's layout for
// countries, ip-location-db's flat one for AS), through `analyze` as a user runs it: records
// carry them, a missing or broken file stops the start naming it (or, with flows.geoOptional,
// is a warning), and a file that changes is loaded again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend, transportBackend } from '../backend/index.js';
import { createAnalyzer, feedFile } from '../analyze/analyze-files.js';
import { loadConfig } from '../config/index.js';
import { WindowedEngine } from '../engine/windowed-engine.js';
import { flowOptions } from '../flows/options.js';
import type { FlowRecordJson } from '../flows/types.js';
import { mmdbFile } from '../testing/mmdb.js';
import { applyGeo, watchGeo } from './index.js';

const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'ndpi-sites.pcapng');
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const asnDb = (asn: number) => mmdbFile([
  ['91.198.174.0/24', { autonomous_system_number: asn, autonomous_system_organization: 'Wikimedia Foundation Inc.' }],
  ['2001:67c:4e8::/48', { autonomous_system_number: 8674, autonomous_system_organization: 'Netnod AB' }],
], 'asn');
const countryDb = mmdbFile([
  ['91.198.174.0/24', { country: { iso_code: 'NL', names: { en: 'Netherlands' } } }],
  ['2001:67c:4e8::/48', { country: { iso_code: 'SE' } }],
], 'GeoLite2-Country');

function analyze(dir: string, yaml: string, top = 100, json = true): { status: number | null; stdout: string; stderr: string } {
  const config = join(dir, 'config.yaml');
  writeFileSync(config, yaml);
  return spawnSync(process.execPath, [CLI, 'analyze', ...(json ? ['--json'] : []), '--store', 'none', '--top', String(top), '--config', config, CAPTURE], { encoding: 'utf8', maxBuffer: 1 << 26 });
}

interface GeoSummary {
  records: number;
  top: FlowRecordJson[];
  countries: { country: string; records: number; bytes: number }[];
  autonomousSystems: { asn: number; name: string; records: number; bytes: number }[];
}

test('the report adds up flows by country and by AS of either endpoint, as the records say', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-geo-summary-'));
  try {
    writeFileSync(join(dir, 'asn.mmdb'), asnDb(14907));
    writeFileSync(join(dir, 'country.mmdb'), countryDb);
    const yaml = `flows:\n  asnDatabase: ${join(dir, 'asn.mmdb')}\n  countryDatabase: ${join(dir, 'country.mmdb')}\n`;
    // Every record (--top above their number): the sums are made again here from them.
    const all = analyze(dir, yaml, 10_000);
    assert.equal(all.status, 0, all.stderr);
    const f = (JSON.parse(all.stdout) as { flows: GeoSummary }).flows;
    assert.equal(f.top.length, f.records, 'every record is in the report');
    const countries = new Map<string, { country: string; records: number; bytes: number }>();
    const systems = new Map<number, { asn: number; name: string; records: number; bytes: number }>();
    for (const r of f.top) {
      const bytes = r.bytesAtoB + r.bytesBtoA;
      for (const c of new Set([r.srcCountry, r.dstCountry].filter(Boolean))) {
        const e = countries.get(c) ?? { country: c, records: 0, bytes: 0 };
        countries.set(c, { ...e, records: e.records + 1, bytes: e.bytes + bytes });
      }
      for (const [asn, name] of new Map([[r.srcAs, r.srcAsName], [r.dstAs, r.dstAsName]].filter(([a]) => a) as [number, string][])) {
        const e = systems.get(asn) ?? { asn, name, records: 0, bytes: 0 };
        systems.set(asn, { ...e, records: e.records + 1, bytes: e.bytes + bytes });
      }
    }
    const byBytes = <T extends { bytes: number }>(m: Map<unknown, T>, key: (x: T) => string | number) =>
      [...m.values()].sort((x, y) => y.bytes - x.bytes || (key(x) < key(y) ? -1 : 1));
    assert.deepEqual(f.countries, byBytes(countries, (x) => x.country));
    assert.deepEqual(f.autonomousSystems, byBytes(systems, (x) => x.asn));
    assert.deepEqual(f.countries.map((c) => c.country).sort(), ['NL', 'SE']);
    assert.deepEqual(f.autonomousSystems.map((a) => a.asn).sort((a, b) => a - b), [8674, 14907]);
    // The text report shows both tables.
    const text = analyze(dir, yaml, 10, false);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Countries \(flows with an endpoint there, by their bytes\)[\s\S]*NL/);
    assert.match(text.stdout, /Autonomous systems \(flows with an endpoint in them, by their bytes\)[\s\S]*14907 Wikimedia Foundation Inc\./);
    // Without databases, neither table.
    const none = analyze(dir, '{}\n', 10, false);
    assert.doesNotMatch(none.stdout, /Countries|Autonomous systems/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flow records carry the country and AS of both endpoints; a bad database stops the start naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-geo-'));
  try {
    writeFileSync(join(dir, 'asn.mmdb'), asnDb(14907));
    writeFileSync(join(dir, 'country.mmdb'), countryDb);
    const ok = analyze(dir, `flows:\n  asnDatabase: ${join(dir, 'asn.mmdb')}\n  countryDatabase: ${join(dir, 'country.mmdb')}\n`);
    assert.equal(ok.status, 0, ok.stderr);
    const top = (JSON.parse(ok.stdout) as { flows: { top: FlowRecordJson[] } }).flows.top;
    const wiki = top.find((r) => r.dstIp === '91.198.174.208')!;
    assert.deepEqual([wiki.dstCountry, wiki.dstAs, wiki.dstAsName, wiki.srcCountry, wiki.srcAs], ['NL', 14907, 'Wikimedia Foundation Inc.', '', 0]);
    const v6 = top.find((r) => r.srcIp === '2001:67c:4e8:f004::9' || r.dstIp === '2001:67c:4e8:f004::9')!;
    const side = v6.srcIp === '2001:67c:4e8:f004::9' ? [v6.srcCountry, v6.srcAs] : [v6.dstCountry, v6.dstAs];
    assert.deepEqual(side, ['SE', 8674]);

    // Missing, and not a database: refused before any report, naming the setting and the file.
    const missing = analyze(dir, `flows:\n  asnDatabase: ${join(dir, 'nope.mmdb')}\n`);
    assert.notEqual(missing.status, 0);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /flows\.asnDatabase: cannot read .*nope\.mmdb: ENOENT/);
    writeFileSync(join(dir, 'junk.mmdb'), 'GIF89a not a database');
    const junk = analyze(dir, `flows:\n  countryDatabase: ${join(dir, 'junk.mmdb')}\n`);
    assert.notEqual(junk.status, 0);
    assert.match(junk.stderr, /junk\.mmdb: not a MaxMind DB file: no metadata marker/);
    // Optional: a warning, and records without country and AS.
    const optional = analyze(dir, `flows:\n  asnDatabase: ${join(dir, 'nope.mmdb')}\n  geoOptional: true\n`);
    assert.equal(optional.status, 0, optional.stderr);
    assert.match(optional.stderr, /geo: flows\.asnDatabase: cannot read .*; records are written without country and AS/);
    const plain = (JSON.parse(optional.stdout) as { flows: { top: FlowRecordJson[] } }).flows.top;
    assert.ok(plain.every((r) => r.dstAs === 0 && r.dstCountry === ''));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database file that changes is loaded again without a restart; a broken one leaves the previous in use', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-geo-reload-'));
  const file = join(dir, 'asn.mmdb');
  try {
    writeFileSync(file, asnDb(14907));
    const cfg = loadConfig({ overrides: { 'flows.asnDatabase': file } });
    const { analyzer } = createAnalyzer(loadBackend('native'), cfg);
    const logs: string[] = [];
    assert.equal(applyGeo(analyzer, cfg.flows, (l) => logs.push(l)), true);
    const stop = watchGeo(analyzer, cfg.flows, (l) => logs.push(l), 20);
    try {
      await delay(50);
      writeFileSync(file, Buffer.concat([asnDb(64_512)]));
      for (let i = 0; i < 200 && !logs.some((l) => l.includes('reloaded')); i++) await delay(20);
      assert.ok(logs.some((l) => l.includes(`geo: reloaded ${file}`)), logs.join('\n'));
      writeFileSync(file, 'broken');
      for (let i = 0; i < 200 && !logs.some((l) => l.includes('previous databases')); i++) await delay(20);
      assert.ok(logs.some((l) => /not a MaxMind DB file: no metadata marker; the previous databases stay in use/.test(l)), logs.join('\n'));
    } finally {
      stop();
    }
    await feedFile(analyzer, CAPTURE, 1 << 20);
    const records = JSON.parse(analyzer.takeFlows!(true)!) as FlowRecordJson[];
    const wiki = records.find((r) => r.dstIp === '91.198.174.208')!;
    assert.equal(wiki.dstAs, 64_512, 'the reloaded file, not the broken one after it');
    assert.equal(readFileSync(file, 'utf8'), 'broken');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an engine fed by a probe writes its records with country and AS too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-geo-engine-'));
  try {
    writeFileSync(join(dir, 'asn.mmdb'), asnDb(14907));
    writeFileSync(join(dir, 'country.mmdb'), countryDb);
    const cfg = loadConfig({ overrides: { 'flows.asnDatabase': join(dir, 'asn.mmdb'), 'flows.countryDatabase': join(dir, 'country.mmdb') } });
    const engine = new WindowedEngine({ seed: cfg.seed, windowSeconds: cfg.window, top: 10, tasks: [], threads: 1, flows: flowOptions(cfg.flows) });
    assert.equal(applyGeo(engine.geoTarget, cfg.flows, () => {}), true);
    const batcher = transportBackend().createPacketBatcher({ probeId: 'p', interface: 'eth0', partitions: 1, batchPackets: 256, seed: cfg.seed, flows: flowOptions(cfg.flows) });
    assert.equal(batcher.addCapture(readFileSync(CAPTURE)), null);
    for (const b of batcher.take(true, { captured: 0, kernelDropped: 0, interfaceDropped: 0, probeDropped: 0 }, 0)) await engine.submit(b.message);
    const records = JSON.parse((await engine.takeFlows(true, true))!.json!) as FlowRecordJson[];
    await engine.stop();
    const wiki = records.find((r) => r.dstIp === '91.198.174.208')!;
    assert.deepEqual([wiki.dstCountry, wiki.dstAs, wiki.serverName], ['NL', 14907, 'upload.wikimedia.org']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
