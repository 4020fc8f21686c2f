// Grafana's ClickHouse dashboard (deployments/grafana/dashboards/netspectra-network.json) and its
// provisioned datasource, checked against a real store: two shared captures analysed into an
// embedded ClickHouse (chdb) by the project's own analysis and store code, then every panel's and
// every variable's SQL run against it after expanding Grafana's variables and the ClickHouse
// plugin's macros as they would be expanded in Grafana (`expandPanelSql` below), read-only as the
// datasource runs them. The results are checked against tshark's totals and against each other.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { ipProtoName } from '../shared/index.js';
import { WindowSink } from '../sink/index.js';
import { newRunId, openStore, openWindowStorage, type Store } from '../storage/index.js';
import { visibleRuns } from '../storage/schema.js';
import { mmdbFile } from '../testing/mmdb.js';

const root = process.cwd();
const deployments = join(root, 'deployments');
const read = (path: string) => readFileSync(path, 'utf8');
const yaml = (text: string) => parseYaml(text, { merge: true }) as unknown;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

// ---- Grafana's expansion of a panel's SQL ---------------------------------------------------
//
// What Grafana and grafana-clickhouse-datasource (4.x) do to a target's rawSql before ClickHouse
// sees it, in their order, for the subset of syntax this dashboard may use; anything else is an
// error here, so a panel cannot use syntax this test does not know.
//
// 1. In the browser (the plugin's applyTemplateVariables, src/data/CHDatasource.ts):
//    $__conditionalAll(condition, $var)  -> `1=1` when $var is "All" (current value $__all) or
//                                           empty, else `condition`
//    then Grafana's variable substitution with the plugin's format function:
//    ${var:singlequote}                  -> 'a','b' (each value quoted, ' escaped as \')
//    $var, ${var}                        -> a single value as it is; several as 'a','b'
//    "All" without a custom all value means every option's value.
// 2. In the plugin's backend (pkg/macros/macros.go; a macro is `$__name` at a word boundary with
//    an optional parenthesised argument list, split at commas):
//    $__timeFilter(col)   -> col >= toDateTime(<from, unix s>) AND col <= toDateTime(<to, unix s>)
//    $__fromTime          -> toDateTime(<from, unix s>)      $__toTime -> toDateTime(<to, unix s>)
//    $__timeInterval(col) -> toStartOfInterval(toDateTime(col), INTERVAL <interval s> second)
//    $__interval_s        -> <interval s>  (the panel's interval in whole seconds, at least 1)
//    Seconds are Go's t.Unix() (floored); the interval is truncated, then raised to 1.

export interface GrafanaContext {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  /** Each variable's current value ('$__all' for All) and its options' values. */
  variables: Record<string, { value: string | string[]; options: string[] }>;
}

/** The arguments of the call whose '(' is at `open`, split at top-level commas. */
function callArgs(sql: string, open: number): { args: string[]; end: number } {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) {
      args.push(sql.slice(start, i));
      return { args, end: i + 1 };
    } else if (c === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  throw new Error(`unbalanced parentheses after offset ${open}: ${sql.slice(open, open + 60)}`);
}

const isAll = (v: string | string[]) => String(v) === '$__all' || String(v) === '';

export function expandPanelSql(sql: string, ctx: GrafanaContext): string {
  // 1a. $__conditionalAll, innermost last as the plugin does (it searches from the end).
  const macro = '$__conditionalAll(';
  for (let at = sql.lastIndexOf(macro); at !== -1; at = sql.lastIndexOf(macro)) {
    const { args, end } = callArgs(sql, at + macro.length - 1);
    if (args.length !== 2) throw new Error(`$__conditionalAll takes 2 arguments, got ${args.length}: ${sql.slice(at, end)}`);
    const name = /^\s*\$\{?(\w+)\}?\s*$/.exec(args[1])?.[1];
    if (!name || !(name in ctx.variables)) throw new Error(`$__conditionalAll: "${args[1].trim()}" is not a plain reference to a variable of the dashboard`);
    sql = sql.slice(0, at) + (isAll(ctx.variables[name].value) ? '1=1' : args[0]) + sql.slice(end);
  }
  // 1b. Variables. `$__name` is a macro (or a Grafana built-in), left for the backend.
  sql = sql.replace(/\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g, (m, braced?: string, format?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    if (name.startsWith('__')) return m;
    const v = ctx.variables[name];
    if (!v) throw new Error(`${m}: no variable "${name}" in the dashboard`);
    const values = isAll(v.value) ? v.options : v.value;
    if (format === 'singlequote') return (Array.isArray(values) ? values : [values]).map((x) => `'${x.replaceAll("'", "\\'")}'`).join(',');
    if (format !== undefined && format !== 'raw') throw new Error(`${m}: format "${format}" is not expanded here`);
    return Array.isArray(values) ? `'${values.join("','")}'` : values;
  });
  // 2. The backend's macros.
  const s = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`;
  const intervalS = Math.max(Math.trunc(ctx.intervalMs / 1000), 1);
  const out: string[] = [];
  let last = 0;
  for (const m of sql.matchAll(/\$__(\w+)\b/g)) {
    const at = m.index!;
    if (at < last) continue;
    const name = m[1];
    let end = at + m[0].length;
    let args: string[] = [];
    if (sql[end] === '(') {
      const call = callArgs(sql, end);
      args = call.args.map((a) => a.trim());
      end = call.end;
    }
    const one = () => {
      if (args.length !== 1 || !/^[A-Za-z_][\w.]*$/.test(args[0])) throw new Error(`$__${name} takes one column name, got (${args.join(', ')})`);
      return args[0];
    };
    let text: string;
    switch (name) {
      case 'timeFilter':
        text = `${one()} >= ${s(ctx.fromMs)} AND ${one()} <= ${s(ctx.toMs)}`;
        break;
      case 'fromTime':
        text = s(ctx.fromMs);
        break;
      case 'toTime':
        text = s(ctx.toMs);
        break;
      case 'timeInterval':
        text = `toStartOfInterval(toDateTime(${one()}), INTERVAL ${intervalS} second)`;
        break;
      case 'interval_s':
        text = String(intervalS);
        break;
      default:
        throw new Error(`$__${name} is not a macro this test expands (see expandPanelSql)`);
    }
    if ((name === 'fromTime' || name === 'toTime' || name === 'interval_s') && args.length) throw new Error(`$__${name} takes no arguments`);
    out.push(sql.slice(last, at), text);
    last = end;
  }
  out.push(sql.slice(last));
  return out.join('');
}

test('expandPanelSql expands variables and macros as Grafana and the ClickHouse plugin do, and refuses what it does not know', () => {
  const ctx: GrafanaContext = {
    fromMs: 1_600_000_000_999,
    toMs: 1_600_003_600_500,
    intervalMs: 2_500,
    variables: { source: { value: ['a', "o'b"], options: ['a', "o'b", 'c'] }, task: { value: 'src_ip', options: ['src_ip'] }, all: { value: ['$__all'], options: ['x', 'y'] } },
  };
  assert.equal(
    expandPanelSql('SELECT $__timeInterval(t) AS time FROM w WHERE $__timeFilter(t) AND $__conditionalAll(source IN (${source:singlequote}), $source) AND task = ${task:singlequote} AND $__conditionalAll(s IN ($all), ${all})', ctx),
    "SELECT toStartOfInterval(toDateTime(t), INTERVAL 2 second) AS time FROM w WHERE t >= toDateTime(1600000000) AND t <= toDateTime(1600003600) AND source IN ('a','o\\'b') AND task = 'src_ip' AND 1=1",
  );
  assert.equal(expandPanelSql('$__fromTime $__toTime $__interval_s $source ${task} ${all:singlequote}', { ...ctx, intervalMs: 200 }), "toDateTime(1600000000) toDateTime(1600003600) 1 'a','o'b' src_ip 'x','y'");
  assert.throws(() => expandPanelSql('$__timeFilter_ms(t)', ctx), /\$__timeFilter_ms is not a macro this test expands/);
  assert.throws(() => expandPanelSql('$__timeFilter(toDateTime(t))', ctx), /takes one column name/);
  assert.throws(() => expandPanelSql('$nope', ctx), /no variable "nope"/);
  assert.throws(() => expandPanelSql('${task:csv}', ctx), /format "csv"/);
  assert.throws(() => expandPanelSql('$__conditionalAll(x, $nope)', ctx), /not a plain reference/);
});

// ---- the dashboard and the provisioning -----------------------------------------------------

interface Target { refId: string; datasource?: Obj; editorType?: string; format?: number; rawSql?: string }
interface GridPos { h: number; w: number; x: number; y: number }
interface Panel { id: number; type: string; title: string; datasource?: Obj; gridPos: GridPos; targets?: Target[]; panels?: Panel[]; fieldConfig?: Obj }
interface Variable { type: string; name: string; datasource?: Obj; query: string | { rawSql?: string }; multi?: boolean; includeAll?: boolean; current: { value: string | string[] } }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

const dashboardFile = join(deployments, 'grafana', 'dashboards', 'netspectra-network.json');
const dashboard = (): Dashboard => JSON.parse(read(dashboardFile)) as Dashboard;
const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const dataPanels = (d: Dashboard) => allPanels(d.panels).filter((p) => p.type !== 'row');
const variableSql = (v: Variable) => (typeof v.query === 'string' ? v.query : (v.query.rawSql ?? ''));

const composeEnv = (): Record<string, string> =>
  Object.fromEntries([...read(join(deployments, 'env.example')).matchAll(/^\s*([A-Za-z_]\w*)=(.*)$/gm)].map((m) => [m[1], m[2].trim()]));
/** Compose's ${V}, ${V:-default}, ${V:?error}. */
const interpolate = (text: string, vars: Record<string, string>) =>
  text.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = vars[name];
    if (op === '?' && !v) throw new Error(`${name} is required: ${arg}`);
    return v || (op === '-' ? arg! : '');
  });
const compose = () => obj(yaml(read(join(deployments, 'compose.yaml'))));
const clickhouseDatasource = () =>
  list(obj(yaml(read(join(deployments, 'grafana', 'provisioning', 'datasources', 'netspectra.yaml')))).datasources).map(obj).find((d) => d.type === 'grafana-clickhouse-datasource');

describe('the dashboard is well formed for Grafana', () => {
  test('unique panel ids, every panel on the 24-column grid without overlaps, rows before their panels', () => {
    const d = dashboard();
    assert.equal(d.uid, 'netspectra-network');
    assert.ok(d.schemaVersion >= 36);
    const ps = allPanels(d.panels);
    assert.equal(new Set(ps.map((p) => p.id)).size, ps.length, 'panel ids are unique');
    assert.ok(ps.every((p) => Number.isInteger(p.id) && p.id > 0));
    const taken = new Set<string>();
    for (const p of ps) {
      const g = p.gridPos;
      for (const k of ['h', 'w', 'x', 'y'] as const) assert.ok(Number.isInteger(g?.[k]) && g[k] >= 0, `${p.title}: gridPos.${k}`);
      assert.ok(g.w >= 1 && g.h >= 1 && g.x + g.w <= 24, `${p.title}: inside the 24 columns`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          assert.ok(!taken.has(`${x},${y}`), `${p.title}: overlaps another panel at ${x},${y}`);
          taken.add(`${x},${y}`);
        }
      }
      if (p.type === 'row') assert.ok(g.w === 24 && g.h === 1 && !p.targets, `${p.title}: a row spans the grid and has no query`);
    }
    // Each row's panels lie between it and the next row.
    const rows = ps.filter((p) => p.type === 'row').sort((a, b) => a.gridPos.y - b.gridPos.y);
    assert.ok(rows.length >= 6, 'rows: traffic, protocols, top talkers, heavy hitters, alerts, flows, sources');
    assert.equal(Math.min(...ps.map((p) => p.gridPos.y)), rows[0].gridPos.y, 'a row comes first');
  });

  test('every panel and variable uses the provisioned ClickHouse datasource, and every target is SQL', () => {
    const ds = clickhouseDatasource();
    assert.ok(ds, 'a grafana-clickhouse-datasource is provisioned');
    const d = dashboard();
    const same = (where: string, o: Obj | undefined) => assert.deepEqual({ type: obj(o).type, uid: obj(o).uid }, { type: ds.type, uid: ds.uid }, `${where}: the provisioned datasource`);
    for (const p of dataPanels(d)) {
      same(p.title, p.datasource);
      assert.ok(p.targets?.length, `${p.title}: a query`);
      assert.equal(new Set(p.targets.map((t) => t.refId)).size, p.targets.length, `${p.title}: unique refIds`);
      for (const t of p.targets) {
        same(`${p.title} ${t.refId}`, t.datasource);
        assert.equal(t.editorType, 'sql', `${p.title}: raw SQL, not the builder`);
        assert.ok(typeof t.rawSql === 'string' && /^\s*(WITH|SELECT)\b/i.test(t.rawSql), `${p.title}: rawSql is a SELECT`);
        // 0: time series (long frames to wide, one series per string column), 1: table.
        assert.equal(t.format, p.type === 'timeseries' ? 0 : 1, `${p.title}: format`);
      }
    }
    // Every read of a table with runs keeps to the rows the API reads (the quarantine keeps every
    // run's refusals; window_tasks is read for task keys only).
    const visible = visibleRuns('netspectra').replaceAll('netspectra.', '');
    for (const p of dataPanels(d)) {
      const sql = p.targets![0].rawSql!;
      const reads = [...sql.matchAll(/\bFROM (windows|exact_rows|heavy_hitters|spreaders|alerts|flows)\b/g)].length;
      assert.ok(sql.split(visible).length - 1 >= reads, `${p.title}: each of its ${reads} reads filtered to the visible runs`);
    }
    for (const v of d.templating.list) {
      same(`variable ${v.name}`, v.datasource);
      assert.equal(v.type, 'query');
      assert.match(variableSql(v), /^SELECT\b/);
    }
    assert.deepEqual(d.templating.list.map((v) => v.name), ['source', 'task']);
  });

  test('the datasource reaches the compose ClickHouse service read-only, with the credentials it was given', () => {
    const ds = clickhouseDatasource()!;
    const jd = obj(ds.jsonData);
    const services = obj(compose().services);
    const ch = obj(services[String(jd.host)]);
    assert.match(String(ch.image), /^clickhouse\/clickhouse-server:/, `${String(jd.host)} is the ClickHouse service`);
    assert.equal(jd.protocol, 'http');
    const api = loadConfig({ env: Object.fromEntries(Object.entries(obj(obj(services.api).environment)).map(([k, v]) => [k, interpolate(String(v), composeEnv())])) });
    assert.equal(`http://${String(jd.host)}:${String(jd.port)}`, api.storage.url, 'the address the API and engines use');
    assert.equal(jd.defaultDatabase, api.storage.database, 'unqualified table names are the store\'s');
    // Read-only: the plugin sends these settings with every query; readonly=2 refuses writes and
    // DDL and still lets the plugin set max_execution_time (the plugin's documentation).
    assert.deepEqual(list(jd.customSettings), [{ setting: 'readonly', value: '2' }]);
    // Grafana's provisioning expands ${VAR} from Grafana's environment, which compose fills.
    const grafana = obj(services.grafana);
    const genv = Object.fromEntries(Object.entries(obj(grafana.environment)).map(([k, v]) => [k, interpolate(String(v), composeEnv())]));
    const expand = (v: unknown) => String(v).replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => genv[(a ?? b)!] ?? assert.fail(`${a ?? b} is not in Grafana's environment`));
    const chEnv = Object.fromEntries(Object.entries(obj(ch.environment)).map(([k, v]) => [k, interpolate(String(v), composeEnv())]));
    assert.equal(expand(jd.username), chEnv.CLICKHOUSE_USER);
    assert.equal(expand(obj(ds.secureJsonData).password), chEnv.CLICKHOUSE_PASSWORD);
    assert.ok(String(genv.GF_INSTALL_PLUGINS).split(',').map((p) => p.trim().split(' ')[0]).includes('grafana-clickhouse-datasource'), 'compose installs the plugin');
    assert.equal(obj(obj(grafana.depends_on).clickhouse).condition, 'service_healthy', 'Grafana waits for ClickHouse');
    // The provisioned dashboards folder is the one holding this file.
    const mount = list(grafana.volumes).map(String).find((v) => v.startsWith('./grafana/dashboards:'))!;
    const provider = obj(list(obj(yaml(read(join(deployments, 'grafana', 'provisioning', 'dashboards', 'netspectra.yaml')))).providers)[0]);
    assert.equal(mount.split(':')[1], obj(provider.options).path);
  });
});

// ---- against a real store -------------------------------------------------------------------

const pcaps = join(root, '..', 'shared', 'pcaps');
const oracles = join(root, '..', 'shared', 'oracle');
const SITES = 'ndpi-sites.pcapng';
const LAB = 'ndpi-1kxun.pcap';
const oracle = (file: string) => JSON.parse(read(join(oracles, `${file}.json`))) as { packets: number; bytes: number };

type Row = Record<string, unknown>;
/** The rows the API reads (each analysed source's latest complete run), tables named alone as
 * the panels name them. */
const VISIBLE = visibleRuns('netspectra').replaceAll('netspectra.', '');
interface Result { meta: { name: string; type: string }[]; data: Row[] }

// One embedded store (chdb: one session per process) for every test of this block.
describe('every panel against a store filled by the analysis of two shared captures', () => {
  let dir: string;
  let store: Store;
  let cfg: NetspectraConfig;
  let range: { fromMs: number; toMs: number };
  const d = dashboard();

  /** The SQL of a target, expanded, run as the datasource runs it (read-only). */
  async function run(sql: string, over: Partial<GrafanaContext> = {}): Promise<Result> {
    const variables: GrafanaContext['variables'] = {};
    for (const v of d.templating.list) {
      const r = await store.client.query({ query: variableSql(v), format: 'JSONCompact', clickhouse_settings: { readonly: '2' } });
      variables[v.name] = { value: v.current.value, options: (await r.json<unknown[]>()).data.map((x) => String((x as unknown[])[0])) };
    }
    const ctx: GrafanaContext = { ...range, intervalMs: 60_000, variables, ...over, ...(over.variables ? { variables: { ...variables, ...over.variables } } : {}) };
    const query = expandPanelSql(sql, ctx);
    try {
      const r = await store.client.query({ query, format: 'JSON', clickhouse_settings: { readonly: '2', max_execution_time: 60, output_format_json_quote_64bit_integers: 0 } });
      return await r.json<Row>() as unknown as Result;
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${query}`);
    }
  }
  const panel = (title: string) => dataPanels(d).find((p) => p.title === title) ?? assert.fail(`no panel "${title}"`);
  const sqlOf = (title: string) => panel(title).targets![0].rawSql!;
  const num = (v: unknown) => Number(v);
  const total = (rows: Row[], col: string) => rows.reduce((a, r) => a + num(r[col]), 0);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-grafana-ch-'));
    // Country and AS databases covering every address, so the flows' geography panels have data.
    writeFileSync(join(dir, 'country.mmdb'), mmdbFile([
      ['0.0.0.0/1', { country: { iso_code: 'US' } }], ['128.0.0.0/2', { country: { iso_code: 'NL' } }], ['192.0.0.0/2', { country: { iso_code: 'DE' } }],
      ['2000::/3', { country: { iso_code: 'SE' } }], ['fc00::/7', { country: { iso_code: 'SE' } }], ['fe80::/10', { country: { iso_code: 'SE' } }],
    ], 'GeoLite2-Country'));
    writeFileSync(join(dir, 'asn.mmdb'), mmdbFile([
      ['0.0.0.0/1', { autonomous_system_number: 64500, autonomous_system_organization: 'Low Half' }], ['128.0.0.0/1', { autonomous_system_number: 64501, autonomous_system_organization: 'High Half' }],
      ['2000::/3', { autonomous_system_number: 64502, autonomous_system_organization: 'Six' }], ['fc00::/7', { autonomous_system_number: 64502, autonomous_system_organization: 'Six' }],
      ['fe80::/10', { autonomous_system_number: 64502, autonomous_system_organization: 'Six' }],
    ], 'GeoLite2-ASN'));
    // The default tasks, with spreaders reported from a spread of 3 (the captures are small), and
    // a rule that fires on busy windows.
    writeFileSync(join(dir, 'netspectra.yaml'), `analyze:
  window: 10s
storage:
  kind: embedded
  path: ${join(dir, 'store')}
flows:
  countryDatabase: ${join(dir, 'country.mmdb')}
  asnDatabase: ${join(dir, 'asn.mmdb')}
tasks:
  - { name: src_ip, type: exact, key: [SrcIP] }
  - { name: dst_port, type: exact, key: [DstPort, Protocol] }
  - { name: heavy_flows, type: countmin, key: [SrcIP, DstIP, SrcPort, DstPort, Protocol], heavyHitters: 20 }
  - { name: scanners, type: superspread, key: [SrcIP], element: [DstIP], threshold: 3 }
  - { name: victims, type: superspread, key: [DstIP], element: [SrcIP], threshold: 3 }
alerts:
  rules:
    - { name: busy-window, metric: bps, op: '>', threshold: 20kbps, severity: warning, description: a busy window }
`);
    cfg = loadConfig({ file: join(dir, 'netspectra.yaml'), env: {} });
    store = await openStore(cfg.storage);
    const backend = loadBackend();
    const analyse = async (file: string, source: string, runId: string, complete: boolean) => {
      const storage = openWindowStorage(cfg.storage, { source, run: runId, store, log: () => {} })!;
      const sink = WindowSink.create(cfg, { log: () => {}, storage, source, notify: false });
      const started = Date.now();
      await analyzeFiles([join(pcaps, file)], { backend, config: cfg, sink, source, run: runId });
      await sink.close();
      if (complete) storage.complete(started, {});
      const s = await storage.close();
      assert.equal(s.spillRows + s.rowsLost, 0, `${file}: every row written`);
    };
    // "sites": an analysed capture, then a second run of it that never completed (queries must
    // not see it); "lab": rows of no run, as engines write them.
    await analyse(SITES, 'sites', newRunId(Date.now() - 60_000), true);
    await analyse(SITES, 'sites', newRunId(Date.now()), false);
    await analyse(LAB, 'lab', '', false);
    // The datasource's connection opens in its default database (jsonData.defaultDatabase): the
    // panels name tables alone. The embedded store's session keeps the database it is told to use.
    assert.equal(obj(clickhouseDatasource()!.jsonData).defaultDatabase, store.database);
    await store.client.command({ query: `USE ${store.database}` });
    const r = await store.client.query({ query: `SELECT toUnixTimestamp64Milli(min(window_start)) AS a, toUnixTimestamp64Milli(max(window_end)) AS b FROM ${store.database}.windows`, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
    const [span] = await r.json<{ a: number; b: number }>();
    range = { fromMs: Math.floor(span.a / 1000) * 1000, toMs: Math.ceil(span.b / 1000) * 1000 };
  });

  after(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every panel\'s SQL runs read-only at several intervals; time series are long frames sorted by time', async () => {
    let runs = 0;
    for (const p of dataPanels(d)) {
      for (const t of p.targets!) {
        for (const intervalMs of [1_000, 60_000, 3_600_000]) {
          const r = await run(t.rawSql!, { intervalMs });
          runs++;
          if (p.type === 'timeseries') {
            // sqlds turns a long frame into series: a time column first, sorted ascending.
            assert.match(r.meta[0].type, /^DateTime/, `${p.title}: the first column is the time`);
            const times = r.data.map((x) => Date.parse(String(x[r.meta[0].name]).replace(' ', 'T') + 'Z'));
            assert.ok(times.every((x, i) => i === 0 || x >= times[i - 1]), `${p.title}: sorted by time`);
            assert.ok(r.meta.slice(1).some((m) => /Int|Float|Decimal/.test(m.type)), `${p.title}: a value column`);
          }
        }
      }
    }
    assert.ok(dataPanels(d).length >= 24, 'the panels listed in the README');
    assert.equal(runs, 3 * dataPanels(d).reduce((n, p) => n + p.targets!.length, 0));
  });

  test('totals and per-source rows are tshark\'s packets and bytes of each capture; the unfinished run is not read', async () => {
    const sites = oracle(SITES);
    const lab = oracle(LAB);
    const [t] = (await run(sqlOf('Totals in the time range'))).data;
    assert.equal(num(t.packets), sites.packets + lab.packets);
    assert.equal(num(t.bytes), sites.bytes + lab.bytes);
    assert.equal(num(t.sources), 2);
    const per = (await run(sqlOf('Per source'))).data;
    assert.deepEqual(per.map((x) => [x.source, num(x.packets), num(x.bytes)]).sort(), [['lab', lab.packets, lab.bytes], ['sites', sites.packets, sites.bytes]]);
    assert.ok(per.every((x) => num(x.windows) > 0 && num(x.mean_bits_per_second) > 0));
    assert.match(String(per.find((x) => x.source === 'sites')!.read_run), /^\d{15}-/, 'the analysis run read');
    assert.equal(per.find((x) => x.source === 'lab')!.read_run, '', 'rows of no run');
    // The source variable: one source selected.
    const only = (await run(sqlOf('Totals in the time range'), { variables: { source: { value: ['lab'], options: ['lab', 'sites'] } } })).data[0];
    assert.deepEqual([num(only.packets), num(only.bytes), num(only.sources)], [lab.packets, lab.bytes, 1]);
  });

  test('rates integrate back to the bytes and packets: bits/s and packets/s per source at any interval', async () => {
    const t = (await run(sqlOf('Totals in the time range'))).data[0];
    const w = cfg.analyze.window;
    // Each bucket's rate is over the window slots starting in it: multiplied back, the totals.
    const back = (rows: Row[], col: string, intervalS: number) =>
      rows.reduce((a, r) => {
        const start = Date.parse(String(r.time).replace(' ', 'T') + 'Z') / 1000;
        const slots = Math.max(1, Math.ceil((start + intervalS) / w) - Math.ceil(start / w));
        return a + num(r[col]) * slots * w;
      }, 0);
    // Shorter than a window, not a multiple of it, and many windows long.
    for (const intervalS of [1, 15, 3600]) {
      const bits = (await run(sqlOf('Throughput by source'), { intervalMs: intervalS * 1000 })).data;
      const pps = (await run(sqlOf('Packet rate by source'), { intervalMs: intervalS * 1000 })).data;
      assert.ok(Math.abs(back(bits, 'bits_per_second', intervalS) - num(t.bytes) * 8) < 1e-6 * num(t.bytes), `bits/s at ${intervalS} s`);
      assert.ok(Math.abs(back(pps, 'packets_per_second', intervalS) - num(t.packets)) < 1e-6 * num(t.packets), `packets/s at ${intervalS} s`);
      assert.deepEqual([...new Set(bits.map((x) => x.source))].sort(), ['lab', 'sites']);
      // At a whole number of windows the rate is the bytes over the interval.
      if (intervalS % w === 0) assert.ok(Math.abs(total(bits, 'bits_per_second') * intervalS - num(t.bytes) * 8) < 1e-6 * num(t.bytes));
      // Within a window the rate is the window's: never above the busiest window's rate.
      const busiest = await run('SELECT max(b) AS m FROM (SELECT sum(bytes) * 8 / ' + w + ' AS b FROM windows WHERE $__timeFilter(window_start) AND ' + VISIBLE + ' GROUP BY source, window_start)');
      assert.ok(bits.every((x) => num(x.bits_per_second) <= num(busiest.data[0].m) * (1 + 1e-9)), `at ${intervalS} s no bucket is faster than the busiest window`);
    }
    const late = (await run(sqlOf('Late packets by source'))).data;
    assert.equal(total(late, 'late_packets'), num(t.late_packets));
  });

  test('the protocol mix sums to every packet and byte, with the protocols\' names', async () => {
    const t = (await run(sqlOf('Totals in the time range'))).data[0];
    const protos = (await run(sqlOf('Protocols'))).data;
    assert.equal(total(protos, 'packets'), num(t.packets));
    assert.equal(total(protos, 'bytes'), num(t.bytes));
    assert.ok(Math.abs(total(protos, 'share') - 1) < 1e-9);
    for (const p of protos) assert.equal(p.protocol, num(p.number) === 0 ? 'non-IP' : (ipProtoName(num(p.number)) ?? String(p.number)));
    assert.ok(['TCP', 'UDP'].every((n) => protos.some((p) => p.protocol === n)), protos.map((p) => p.protocol).join(', '));
    const pie = (await run(sqlOf('Protocol mix (bytes)'))).data;
    assert.deepEqual(pie.map((x) => [x.protocol, num(x.bytes)]), protos.map((x) => [x.protocol, num(x.bytes)]));
    const series = (await run(sqlOf('Throughput by protocol'), { intervalMs: 3_600_000 })).data;
    assert.ok(Math.abs(total(series, 'bits_per_second') * 3600 - num(t.bytes) * 8) < 1e-6 * num(t.bytes));
  });

  test('top talkers of the task variable: the largest keys, within the window totals', async () => {
    const t = (await run(sqlOf('Totals in the time range'))).data[0];
    const top = (await run(sqlOf('Top talkers by bytes'))).data;
    assert.equal(top.length, 25);
    assert.ok(total(top, 'bytes') <= num(t.bytes));
    assert.ok(top.every((x, i) => i === 0 || num(x.bytes) <= num(top[i - 1].bytes)), 'largest first');
    assert.ok(top.every((x) => /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+|non-IP)$/.test(String(x.key))), `src_ip keys are addresses: ${top.map((x) => x.key).join(', ')}`);
    assert.ok(Math.abs(total(top, 'share') - total(top, 'bytes') / num(t.bytes)) < 1e-9);
    // Every source address of the task together is every byte.
    const all = await store.client.query({ query: `SELECT sum(bytes) AS b FROM ${store.database}.exact_rows WHERE task = 'src_ip' AND (run = '' OR (source, run) IN (SELECT source, max(run) FROM ${store.database}.runs GROUP BY source))`, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
    assert.equal(num((await all.json<{ b: number }>())[0].b), num(t.bytes));
    // Another task through the variable: dst_port keys are "port protocol".
    const ports = (await run(sqlOf('Top talkers by bytes'), { variables: { task: { value: 'dst_port', options: ['dst_port', 'src_ip'] } } })).data;
    assert.ok(ports.length > 0 && ports.every((x) => /^(\d+ \S+|non-IP)$/.test(String(x.key))), ports.map((x) => x.key).join(', '));
    const over = (await run(sqlOf('Top talkers over time'), { intervalMs: 3_600_000 })).data;
    const keys = [...new Set(over.map((x) => x.key))];
    assert.equal(keys.length, 5);
    assert.deepEqual(keys.sort(), top.slice(0, 5).map((x) => x.key).sort());
  });

  test('heavy hitters, spreaders and alerts have rows with the columns the panels show', async () => {
    const t = (await run(sqlOf('Totals in the time range'))).data[0];
    for (const [title, by] of [['Heavy hitters by bytes', 'bytes'], ['Heavy hitters by packets', 'packets']] as const) {
      const r = await run(sqlOf(title));
      assert.deepEqual(r.meta.map((m) => m.name), ['task', 'key', 'bytes', 'packets', 'windows']);
      assert.ok(r.data.length > 0 && r.data.every((x) => x.task === 'heavy_flows'), title);
      assert.ok(r.data.every((x) => String(x.key).split(' ').length === 5 || x.key === 'non-IP non-IP 0 0 non-IP'), `${title}: 5-tuples: ${String(r.data[0].key)}`);
      assert.ok(r.data.every((x, i) => i === 0 || num(x[by]) <= num(r.data[i - 1][by])), `${title}: largest first`);
      // A Count-Min estimate never under-counts, but a key's estimates stay within the traffic.
      assert.ok(num(r.data[0].bytes) <= num(t.bytes));
    }
    const spread = await run(sqlOf('Spreaders'));
    assert.deepEqual(spread.meta.map((m) => m.name), ['task', 'key', 'max_spread', 'peak_window', 'windows']);
    assert.ok(spread.data.some((x) => x.task === 'scanners') && spread.data.some((x) => x.task === 'victims'), 'both spreader tasks');
    assert.ok(spread.data.every((x) => num(x.max_spread) >= 3 && !String(x.key).includes(' ')), 'one address per key, at the threshold or above');
    const history = (await run(sqlOf('Alert history'))).data;
    assert.ok(history.length > 0 && history.every((x) => x.rule === 'busy-window'));
    assert.deepEqual([...new Set(history.map((x) => x.source))].sort(), ['lab', 'sites']);
    // The unfinished run raised the same notifications again: not read.
    const seen = history.map((x) => `${String(x.source)} ${String(x.at)} ${String(x.state)} ${String(x.key)}`);
    assert.equal(new Set(seen).size, seen.length, 'each notification once');
    assert.ok(history.some((x) => x.state === 'firing'));
    const counts = (await run(sqlOf('Alert notifications'), { intervalMs: 3_600_000 })).data;
    assert.equal(total(counts, 'notifications'), history.length, 'one count per notification');
    const firing = (await run(sqlOf('Alerts firing at the end of the range'))).data[0];
    assert.deepEqual(Object.keys(firing), ['critical', 'warning', 'info']);
    assert.equal(num(firing.critical) + num(firing.info), 0);
  });

  test('flows: the largest records with names, countries and AS; top names, countries, AS and applications', async () => {
    const largest = await run(sqlOf('Largest flows'));
    for (const c of ['first_seen', 'a', 'a_port', 'b', 'b_port', 'service', 'app', 'server_name', 'alpn', 'a_country', 'b_country', 'a_as', 'a_as_name', 'b_as', 'b_as_name', 'bytes', 'packets', 'direction']) {
      assert.ok(largest.meta.some((m) => m.name === c), `Largest flows: column ${c}`);
    }
    assert.equal(largest.data.length, 100);
    assert.ok(largest.data.every((x, i) => i === 0 || num(x.bytes) <= num(largest.data[i - 1].bytes)));
    assert.ok(largest.data.some((x) => x.server_name !== '' && x.app !== ''), 'names read from the payloads');
    const unplaced = largest.data.filter((x) => x.a_country === '' || num(x.a_as) === 0);
    assert.deepEqual(unplaced.map((x) => x.a), [], 'every endpoint is in the test databases');
    const flowBytes = await store.client.query({
      query: `SELECT sum(bytes_ab + bytes_ba) AS b, count() AS n FROM ${store.database}.flows WHERE run = '' OR (source, run) IN (SELECT source, max(run) FROM ${store.database}.runs GROUP BY source)`,
      format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const flows = (await flowBytes.json<{ b: number; n: number }>())[0];
    const names = (await run(sqlOf('Top server names'))).data;
    assert.ok(names.length > 5 && names.every((x) => x.server_name !== '' && num(x.bytes) <= flows.b), names.map((x) => x.server_name).join(', '));
    const countries = (await run(sqlOf('Top countries'))).data;
    assert.ok(countries.length >= 2 && countries.every((x) => /^[A-Z]{2}$/.test(String(x.country)) && num(x.bytes) <= flows.b));
    assert.ok(total(countries, 'bytes') >= flows.b, 'every flow counted in its countries');
    const ases = (await run(sqlOf('Top autonomous systems'))).data;
    assert.ok(ases.some((x) => num(x.asn) === 64500 && x.as_name === 'Low Half'));
    assert.ok(total(ases, 'bytes') >= flows.b && ases.every((x) => num(x.bytes) <= flows.b));
    const apps = (await run(sqlOf('Applications'))).data;
    assert.equal(total(apps, 'flows'), flows.n);
    assert.equal(total(apps, 'bytes'), flows.b);
    const dirs = (await run(sqlOf('Flows by direction'))).data;
    assert.equal(total(dirs, 'bytes'), flows.b);
    const probes = (await run(sqlOf('Flows by probe and interface'))).data;
    assert.deepEqual([...new Set(probes.map((x) => x.source))].sort(), ['lab', 'sites']);
    assert.equal(total(probes, 'flows'), flows.n);
  });

  test('the datasource\'s read-only setting refuses writes and DDL, and a query cannot lift it', async () => {
    // (The embedded store applies a query's settings with SET, which its session keeps: since the
    // first panel query it is read-only anyway. These are the statements the setting must refuse.)
    const settings = { readonly: '2' as const };
    await assert.rejects(store.client.command({ query: `INSERT INTO ${store.database}.runs (source, run) VALUES ('x', 'y')`, clickhouse_settings: settings }), /readonly/i);
    await assert.rejects(store.client.command({ query: `DROP TABLE ${store.database}.runs`, clickhouse_settings: settings }), /readonly/i);
    await assert.rejects(store.client.query({ query: 'SELECT 1 SETTINGS readonly = 0', clickhouse_settings: settings }).then((r) => r.text()), /readonly/i);
  });
});
