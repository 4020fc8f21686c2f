import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, defaultConfig, loadConfig } from './index.js';
import { parseBytes } from './schema.js';

const repoConfig = join(process.cwd(), 'configs', 'netspectra.yaml');

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

function writeTemp(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'netspectra-config-')), 'c.yaml');
  writeFileSync(file, text);
  return file;
}

test('the documented config file equals the built-in defaults', () => {
  assert.deepEqual(loadConfig({ file: repoConfig, env: {} }), loadConfig({ env: {} }));
  assert.match(readFileSync(repoConfig, 'utf8'), /chunkSize/);
});

test('defaults are complete', () => {
  const cfg = defaultConfig();
  assert.equal(cfg.analyze.top, 10);
  assert.equal(cfg.analyze.chunkSize, 4 * 1024 * 1024);
  assert.ok(cfg.tasks.length >= 1);
  // The probe keeps whole packets (names are read from payloads; a ClientHello merged by GRO is
  // larger than an MTU), with a kernel buffer that does not drop them at line rate.
  assert.equal(cfg.probe.snaplen, 65_535);
  assert.equal(cfg.probe.bufferSize, 128 * 1024 * 1024);
});

test('every problem is reported at once with its key path', () => {
  const file = writeTemp(`
analyze:
  top: "ten"
  chunksize: 1
tasks:
  - name: by_src
    type: exact
    key: [SrcIP, DestIP]
  - name: by_src
    type: countmin2
bogus: 1
`);
  const problems = problemsOf(() => loadConfig({ file, env: {} }));
  assert.deepEqual(problems, [
    'bogus: unknown key (known: seed, window, analyze, nats, cluster, probe, engine, storage, api, alerts, ai, flows, console, tasks)',
    'analyze.chunksize: unknown key (known: top, chunkSize, window, bpf, exactBeside, threads)',
    'analyze.top: expected an integer, got string "ten"',
    'tasks[0].key[1]: "DestIP" is not one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface (a prefix may give its lengths: SrcPrefix/24/48)',
    'tasks[1].type: expected one of exact, countmin, superspread, got string "countmin2"',
  ]);
});

test('limits, duplicate names and the seed are checked', () => {
  const file = writeTemp(`
seed: "-1"
analyze: { top: 0, chunkSize: 1KiB }
tasks:
  - { name: a, type: exact, key: [] }
  - { name: a, type: exact, key: [SrcIP] }
`);
  assert.deepEqual(problemsOf(() => loadConfig({ file, env: {} })), [
    'seed: "-1" is not an unsigned 64-bit integer (decimal or 0x hex)',
    'analyze.top: 0 is below the minimum 1',
    'analyze.chunkSize: 1024 is below the minimum 4096',
    'tasks[0].key: needs at least 1 item(s), got 0',
    'tasks[1].name: "a" is used by an earlier task',
  ]);
  assert.deepEqual(problemsOf(() => loadConfig({ overrides: { seed: '0x1ffffffffffffffff' }, env: {} })), [
    'seed: "0x1ffffffffffffffff" is not an unsigned 64-bit integer (decimal or 0x hex)',
  ]);
});

test('sketch parameters are validated by type and limit', () => {
  const file = writeTemp(`
window: 0
tasks:
  - { name: hh, type: countmin, key: [SrcIP], width: 0, depth: 4, conservative: "yes" }
  - { name: ss, type: superspread, key: [SrcIP], element: [], registers: 100, threshold: "high", decayBase: 1 }
`);
  assert.deepEqual(problemsOf(() => loadConfig({ file, env: {} })), [
    'window: 0 is below the minimum 0.001',
    'tasks[0].width: 0 is below the minimum 1',
    'tasks[0].conservative: expected true or false, got string "yes"',
    'tasks[1].element: needs at least 1 item(s), got 0',
    'tasks[1].registers: expected a power of two from 8 to 4096, got 100',
    'tasks[1].decayBase: 1 must be greater than 1',
    'tasks[1].threshold: expected an integer, got string "high"',
  ]);
  const ok = loadConfig({ file: writeTemp('window: 500ms\ntasks:\n  - { name: hh, type: countmin, key: [SrcIP] }\n'), env: {} });
  assert.equal(ok.window, 0.5);
  assert.deepEqual(ok.tasks[0], { name: 'hh', type: 'countmin', key: ['SrcIP'], depth: 4, width: 2048, conservative: true, heavyHitters: 20 });
});

test('environment and flags override the file, in that order', () => {
  const file = writeTemp('analyze:\n  top: 3\n');
  assert.equal(loadConfig({ file, env: {} }).analyze.top, 3);
  assert.equal(loadConfig({ file, env: { NETSPECTRA_ANALYZE_TOP: '7' } }).analyze.top, 7);
  assert.equal(loadConfig({ file, env: { NETSPECTRA_ANALYZE_TOP: '7' }, overrides: { 'analyze.top': 9 } }).analyze.top, 9);
  assert.equal(loadConfig({ env: { NETSPECTRA_ANALYZE_CHUNK_SIZE: '8MiB' } }).analyze.chunkSize, 8 * 1024 * 1024);
  assert.equal(loadConfig({ env: { NETSPECTRA_SEED: '0x10' } }).seed, '16');
  assert.equal(loadConfig({ env: { NETSPECTRA_WINDOW: '1m' } }).window, 60);
  assert.equal(loadConfig({ env: { NETSPECTRA_ANALYZE_EXACT_BESIDE: 'false' } }).analyze.exactBeside, false);
  // A problem names what set the value: the variable, or the flag the command line named.
  assert.deepEqual(problemsOf(() => loadConfig({ env: { NETSPECTRA_ANALYZE_TOP: 'many' } })), [
    'analyze.top: expected an integer, got string "many" (set by NETSPECTRA_ANALYZE_TOP=many)',
  ]);
  assert.deepEqual(problemsOf(() => loadConfig({ env: {}, overrides: { 'analyze.window': '10x' }, overrideNames: { 'analyze.window': '--window 10x' } })), [
    'analyze.window: expected a duration such as 10, "10s", "500ms" or "5m", got string "10x" (set by --window 10x)',
  ]);
  // Checks of other sections (the alert rules) run beside the schema's problems.
  assert.deepEqual(problemsOf(() => loadConfig({ env: {}, overrides: { 'analyze.top': 0 }, checks: [() => ['alerts.rules[0].task: no task "x"']] })), [
    'analyze.top: 0 is below the minimum 1',
    'alerts.rules[0].task: no task "x"',
  ]);
});

test('unreadable and unparsable files name the file and the line', () => {
  const missing = problemsOf(() => loadConfig({ file: '/nonexistent/netspectra.yaml', env: {} }));
  assert.match(missing[0], /cannot read the file: ENOENT/);
  const broken = writeTemp('analyze:\n  top: [1,\n');
  const e = (() => {
    try {
      loadConfig({ file: broken, env: {} });
    } catch (err) {
      return err as ConfigError;
    }
    return undefined;
  })();
  assert.ok(e instanceof ConfigError);
  assert.match(e.message, /c\.yaml/);
  assert.match(e.problems[0], /^line \d+, column \d+: /);
  assert.deepEqual(problemsOf(() => loadConfig({ file: writeTemp('- a\n- b\n'), env: {} })), ['(root): expected a mapping of keys']);
});

test('sizes accept units', () => {
  assert.equal(parseBytes('4MiB'), 4194304);
  assert.equal(parseBytes('64 KiB'), 65536);
  assert.equal(parseBytes('1GB'), 1e9);
  assert.equal(parseBytes(512), 512);
  assert.equal(parseBytes('12 parsecs'), null);
});
