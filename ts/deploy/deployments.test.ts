// The deployment assets in deployments/ checked against the code they deploy: every file parses,
// every command and flag they run exists in the CLI, every NETSPECTRA_* variable and config key
// exists in the schema (and its value passes validation), the Helm chart renders to the objects
// it should, the systemd units pass `systemd-analyze verify`, the Dockerfile copies what the
// build needs, and Grafana's dashboard is answered by the query API over a real embedded store.
// Runs from the repository root; tools that are absent here (helm, docker engine, hadolint) are
// skipped with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify as yamlText } from 'yaml';
import { createApiApp } from '../api/http.js';
import { listen, type RunningServer } from '../api/server.js';
import { configSchema, loadConfig, type NetspectraConfig } from '../config/index.js';
import { envPaths, type Schema } from '../config/schema.js';
import { openStore, openWindowStorage, type Store } from '../storage/index.js';
import { storeCapture } from '../testing/captures.js';

const root = process.cwd();
const deployments = join(root, 'deployments');
const chartDir = join(deployments, 'helm', 'netspectra');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[]; engines: { node: string } };
const binName = Object.keys(pkg.bin)[0];

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out.sort();
}

const read = (path: string) => readFileSync(path, 'utf8');
/** YAML as compose and Kubernetes read it: `<<` merge keys resolved. */
const yaml = (text: string) => parseYaml(text, { merge: true }) as unknown;

function hasTool(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return !r.error && r.status === 0;
}

/** KEY=VALUE lines (env files): comments and blank lines skipped. */
function dotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

const composeEnv = () => dotenv(read(join(deployments, 'env.example')));

/** Compose's variable interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?error}, $V, $$. */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name?: string, op?: string, arg?: string, bare?: string) => {
    if (m === '$$') return '$';
    const key = (name ?? bare)!;
    const v = vars[key];
    if (op === ':?' || op === '?') {
      if (v === undefined || (op === ':?' && v === '')) throw new Error(`${key} is required: ${arg}`);
      return v;
    }
    if (op === ':-') return v === undefined || v === '' ? arg! : v;
    if (op === '-') return v === undefined ? arg! : v;
    return v ?? '';
  });
}

function interpolateDeep(v: unknown, vars: Record<string, string>): unknown {
  if (typeof v === 'string') return interpolate(v, vars);
  if (Array.isArray(v)) return v.map((x) => interpolateDeep(x, vars));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateDeep(x, vars)]));
  return v;
}

// ---- the CLI, as its usage text describes it ------------------------------------------------

let usageText: string | undefined;
function usage(): string {
  if (usageText === undefined) {
    const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `netspectra --help: ${r.stderr}`);
    usageText = r.stdout;
  }
  return usageText;
}
/** Commands: the lines of the usage indented by two spaces. */
const cliCommands = () => new Set([...usage().matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]));
const commandHelp = new Map<string, string>();
/** The flags a command's own help lists. */
function cliFlags(command: string): Set<string> {
  if (!commandHelp.has(command)) {
    const r = spawnSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `netspectra ${command} --help: ${r.stderr}`);
    commandHelp.set(command, r.stdout);
  }
  return new Set([...commandHelp.get(command)!.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
}

interface CommandLine { where: string; args: string[] }

/** The command exists, every flag is documented in the usage, and the CLI's own parser (strict)
 * accepts the whole line: `--help` at the end prints the usage instead of running it. */
function checkCommandLine({ where, args }: CommandLine): void {
  assert.ok(args.length > 0, `${where}: no command`);
  assert.ok(cliCommands().has(args[0]), `${where}: "${args[0]}" is not a netspectra command (${[...cliCommands()].join(', ')})`);
  for (const a of args.filter((x) => x.startsWith('--'))) {
    const flag = a.slice(2).split('=')[0];
    assert.ok(cliFlags(args[0]).has(flag), `${where}: --${flag} is not in the usage of netspectra ${args[0]}`);
  }
  const r = spawnSync(process.execPath, [cli, ...args, '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${where}: netspectra ${args.join(' ')} is refused: ${r.stderr.split('\n')[0]}`);
}

// ---- the configuration schema ---------------------------------------------------------------

/** Every NETSPECTRA_* variable the code reads: one per config key, those named by *Env keys'
 * defaults (the AI key, the SMTP password), and those read directly (process.env.NETSPECTRA_X). */
function knownVariables(): Set<string> {
  const names = new Set(envPaths(configSchema).map((e) => e.env));
  const visit = (s: Schema, key: string) => {
    if (s.kind === 'object') Object.entries(s.fields).forEach(([k, f]) => visit(f, k));
    else if (s.kind === 'list') visit(s.item, key);
    else if (s.kind === 'union') Object.values(s.variants).forEach((v) => visit(v, key));
    else if (s.kind === 'string' && key.endsWith('Env') && s.default) names.add(s.default);
  };
  visit(configSchema, '');
  for (const file of walk(join(root, 'ts')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes(join('ts', 'gen')))) {
    for (const m of read(file).matchAll(/process\.env(?:\.|\[['"])(NETSPECTRA_[A-Z0-9_]+)/g)) names.add(m[1]);
  }
  return names;
}

function checkVariables(where: string, names: string[]): void {
  const known = knownVariables();
  for (const n of names.filter((x) => x.startsWith('NETSPECTRA_'))) {
    assert.ok(known.has(n), `${where}: ${n} is neither a config key's variable nor one the code reads`);
  }
}

// ---- a Go-template subset: what the chart uses, rendered like helm template ------------------

type TplNode = string | { out: string } | { branches: { cond: string | null; body: TplNode[] }[] };

function parseTemplate(src: string, defines: Map<string, TplNode[]>): TplNode[] {
  const parts: ({ text: string } | { action: string; left: boolean; right: boolean })[] = [];
  let last = 0;
  for (const m of src.matchAll(/\{\{(- )?\s*([\s\S]*?)\s*( -)?\}\}/g)) {
    parts.push({ text: src.slice(last, m.index) }, { action: m[2], left: Boolean(m[1]), right: Boolean(m[3]) });
    last = m.index! + m[0].length;
  }
  parts.push({ text: src.slice(last) });
  parts.forEach((p, i) => {
    if (!('action' in p)) return;
    if (p.left) (parts[i - 1] as { text: string }).text = (parts[i - 1] as { text: string }).text.trimEnd();
    if (p.right) (parts[i + 1] as { text: string }).text = (parts[i + 1] as { text: string }).text.trimStart();
  });
  const top: TplNode[] = [];
  const stack: { nodes: TplNode[]; node?: Extract<TplNode, { branches: unknown }>; define?: string }[] = [{ nodes: top }];
  for (const p of parts) {
    const frame = stack[stack.length - 1];
    if ('text' in p) {
      if (p.text) frame.nodes.push(p.text);
      continue;
    }
    const a = p.action;
    let m: RegExpExecArray | null;
    if (a.startsWith('/*')) continue;
    if (a === 'end') {
      const done = stack.pop()!;
      assert.ok(stack.length > 0, 'template: {{ end }} without an opening action');
      if (done.define) defines.set(done.define, done.nodes);
    } else if ((m = /^define\s+"([^"]+)"$/.exec(a))) {
      stack.push({ nodes: [], define: m[1] });
    } else if ((m = /^if\s+(.+)$/.exec(a))) {
      const node = { branches: [{ cond: m[1], body: [] as TplNode[] }] };
      frame.nodes.push(node);
      stack.push({ nodes: node.branches[0].body, node });
    } else if ((m = /^else(?:\s+if\s+(.+))?$/.exec(a))) {
      assert.ok(frame.node, 'template: {{ else }} outside {{ if }}');
      const branch = { cond: m[1] ?? null, body: [] as TplNode[] };
      frame.node.branches.push(branch);
      frame.nodes = branch.body;
    } else if (/^(range|with|template|block)\b/.test(a) || a.includes('$')) {
      throw new Error(`template: "${a}" is outside the subset the chart keeps to`);
    } else {
      frame.nodes.push({ out: a });
    }
  }
  assert.equal(stack.length, 1, 'template: an action is not closed with {{ end }}');
  return top;
}

const isEmpty = (v: unknown) =>
  v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as Obj).length === 0);

class Renderer {
  readonly defines = new Map<string, TplNode[]>();

  render(nodes: TplNode[], dot: unknown): string {
    let s = '';
    for (const n of nodes) {
      if (typeof n === 'string') s += n;
      else if ('out' in n) s += this.format(this.pipeline(n.out, dot));
      else {
        const b = n.branches.find((x) => x.cond === null || !isEmpty(this.pipeline(x.cond, dot)));
        if (b) s += this.render(b.body, dot);
      }
    }
    return s;
  }

  private format(v: unknown): string {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') throw new Error(`template: a map or list printed without toYaml: ${JSON.stringify(v)}`);
    return String(v);
  }

  private pipeline(expr: string, dot: unknown): unknown {
    const tokens = expr.match(/"(?:[^"\\]|\\.)*"|[()|]|[^\s()|]+/g) ?? [];
    let pos = 0;
    const parsePipe = (): unknown[][] => {
      const cmds: unknown[][] = [[]];
      while (pos < tokens.length && tokens[pos] !== ')') {
        const t = tokens[pos++];
        if (t === '|') cmds.push([]);
        else if (t === '(') {
          cmds[cmds.length - 1].push({ sub: parsePipe() });
          pos++;
        } else cmds[cmds.length - 1].push(t);
      }
      return cmds;
    };
    return this.evalPipe(parsePipe(), dot);
  }

  private evalPipe(cmds: unknown[][], dot: unknown): unknown {
    let value: unknown;
    cmds.forEach((cmd, i) => {
      const [head, ...rest] = cmd;
      if (typeof head === 'string' && /^[a-zA-Z]\w*$/.test(head) && head !== 'true' && head !== 'false') {
        const args = rest.map((a) => this.operand(a, dot));
        if (i > 0) args.push(value);
        value = this.call(head, args);
      } else {
        assert.ok(i === 0 && rest.length === 0, `template: "${JSON.stringify(cmd)}" is not a function call`);
        value = this.operand(head, dot);
      }
    });
    return value;
  }

  private operand(t: unknown, dot: unknown): unknown {
    if (typeof t === 'object' && t !== null) return this.evalPipe((t as { sub: unknown[][] }).sub, dot);
    const s = t as string;
    if (s.startsWith('"')) return JSON.parse(s) as string;
    if (/^-?\d+$/.test(s)) return Number(s);
    if (s === 'true' || s === 'false') return s === 'true';
    if (s === '.') return dot;
    assert.ok(s.startsWith('.'), `template: "${s}" is not a value`);
    return s.slice(1).split('.').reduce<unknown>((v, k) => {
      // A key the values do not define is an error here (helm would print nothing).
      assert.ok(v && typeof v === 'object' && k in (v as Obj), `template: ${s} is not defined (at "${k}")`);
      return (v as Obj)[k];
    }, dot);
  }

  private call(fn: string, a: unknown[]): unknown {
    const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));
    const indent = (n: number, s: string) => s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
    switch (fn) {
      case 'include': {
        const body = this.defines.get(a[0] as string);
        assert.ok(body, `template: include of an undefined template "${a[0]}"`);
        return this.render(body, a[1]);
      }
      case 'default': return isEmpty(a[1]) ? a[0] : a[1];
      case 'required':
        if (isEmpty(a[1])) throw new Error(`required: ${a[0]}`);
        return a[1];
      case 'quote': return JSON.stringify(str(a[0]));
      case 'not': return isEmpty(a[0]);
      case 'toYaml': return yamlText(a[0]).replace(/\n$/, '');
      case 'indent': return indent(a[0] as number, str(a[1]));
      case 'nindent': return `\n${indent(a[0] as number, str(a[1]))}`;
      case 'trunc': return str(a[1]).slice(0, a[0] as number);
      case 'trimSuffix': return str(a[1]).endsWith(a[0] as string) ? str(a[1]).slice(0, -(a[0] as string).length) : str(a[1]);
      case 'sha256sum': return createHash('sha256').update(str(a[0])).digest('hex');
      default: throw new Error(`template: function "${fn}" is outside the subset the chart keeps to`);
    }
  }
}

function merge(a: unknown, b: unknown): unknown {
  if (!b || typeof b !== 'object' || Array.isArray(b) || !a || typeof a !== 'object' || Array.isArray(a)) return b;
  const out: Obj = { ...(a as Obj) };
  for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
  return out;
}

interface Rendered { objects: Obj[]; notes: string; values: Obj }

/** `helm template <release> deployments/helm/netspectra` with values.yaml and `overrides` merged. */
function renderChart(overrides: Obj = {}): Rendered {
  const chart = yaml(read(join(chartDir, 'Chart.yaml'))) as Obj;
  const values = merge(yaml(read(join(chartDir, 'values.yaml'))), overrides) as Obj;
  const r = new Renderer();
  const files = readdirSync(join(chartDir, 'templates')).sort();
  const parsed = new Map(files.map((f) => [f, parseTemplate(read(join(chartDir, 'templates', f)), r.defines)]));
  const dot = {
    Values: values,
    Release: { Name: 'netspectra', Namespace: 'monitoring', Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const objects: Obj[] = [];
  let notes = '';
  for (const [f, nodes] of parsed) {
    if (f.startsWith('_')) continue;
    const text = r.render(nodes, dot);
    if (f === 'NOTES.txt') {
      notes = text;
      continue;
    }
    for (const doc of text.split(/^---\s*$/m)) {
      if (!doc.trim()) continue;
      let o: unknown;
      try {
        o = yaml(doc);
      } catch (e) {
        throw new Error(`${f}: the rendered document is not YAML: ${(e as Error).message}\n${doc}`);
      }
      if (o !== null) objects.push({ ...(o as Obj), __file: f });
    }
  }
  return { objects, notes, values };
}

const SET_SECRETS = { secrets: { apiTokens: 'token-a,token-b', clickhousePassword: 'pw' } };

function podSpec(o: Obj): Obj {
  return obj(obj(obj(o.spec).template).spec);
}
const containers = (o: Obj) => list(podSpec(o).containers).map(obj);

// ---- Dockerfile ---------------------------------------------------------------------------

interface Instruction { op: string; args: string; stage: number }

function dockerfile(): { instructions: Instruction[]; stages: { image: string; name: string }[] } {
  const lines = read(join(deployments, 'Dockerfile')).split('\n');
  const instructions: Instruction[] = [];
  const stages: { image: string; name: string }[] = [];
  let buf = '';
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (!buf && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (buf && line.trim().startsWith('#')) continue;
    buf += (buf ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(buf)!;
    buf = '';
    const op = m[1].toUpperCase();
    if (op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2])!;
      stages.push({ image: f[1], name: f[2] ?? String(stages.length) });
    }
    instructions.push({ op, args: m[2], stage: stages.length - 1 });
  }
  return { instructions, stages };
}

const execForm = (args: string) => JSON.parse(args) as string[];

// =============================================================================================

describe('deployment files', () => {
  test('every YAML, JSON and env file under deployments/ parses (Helm templates are rendered below)', () => {
    for (const f of walk(deployments).filter((x) => !x.includes(join('helm', 'netspectra', 'templates')))) {
      const rel = relative(deployments, f);
      if (/\.ya?ml$/.test(f)) assert.doesNotThrow(() => yaml(read(f)), rel);
      else if (f.endsWith('.json')) assert.doesNotThrow(() => JSON.parse(read(f)), rel);
      else if (f.endsWith('env.example')) {
        const bad = read(f).split('\n').filter((l) => l.trim() && !l.trim().startsWith('#') && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(l));
        assert.deepEqual(bad, [], `${rel}: lines that are not KEY=VALUE`);
      } else {
        // Every other file is checked by a test of its own below.
        assert.ok(/^(Dockerfile|README\.md|systemd\/[\w-]+\.service)$/.test(rel), `${rel}: a file no test reads`);
      }
    }
  });

  test('every command the assets run is a netspectra command with flags the CLI accepts', () => {
    const lines: CommandLine[] = [];
    // Dockerfile: ENTRYPOINT + CMD, and the health check.
    const { instructions } = dockerfile();
    const last = Math.max(...instructions.map((i) => i.stage));
    const runtime = instructions.filter((i) => i.stage === last);
    const entry = execForm(runtime.find((i) => i.op === 'ENTRYPOINT')!.args);
    assert.deepEqual(entry, [binName], 'the entrypoint is the package\'s bin');
    lines.push({ where: 'Dockerfile CMD', args: execForm(runtime.find((i) => i.op === 'CMD')!.args) });
    const hc = /CMD\s+(\[.*\])$/.exec(runtime.find((i) => i.op === 'HEALTHCHECK')!.args)!;
    const hcArgs = execForm(hc[1]);
    assert.equal(hcArgs[0], binName);
    lines.push({ where: 'Dockerfile HEALTHCHECK', args: hcArgs.slice(1) });
    // Compose: the command of every service running our image, and health checks calling it.
    const compose = obj(yaml(read(join(deployments, 'compose.yaml'))));
    for (const [name, s] of Object.entries(obj(compose.services)).map(([k, v]) => [k, obj(v)] as const)) {
      if (!String(s.image ?? '').startsWith('netspectra')) continue;
      lines.push({ where: `compose ${name}`, args: list(s.command).map(String) });
      const test = list(obj(s.healthcheck).test).map(String);
      if (test[1] === binName) lines.push({ where: `compose ${name} healthcheck`, args: test.slice(2) });
    }
    // Helm: container args and exec probes, with the optional AI service on.
    for (const o of renderChart(merge(SET_SECRETS, { ai: { enabled: true } }) as Obj).objects) {
      for (const c of containers(o)) {
        lines.push({ where: `helm ${o.__file} ${c.name}`, args: list(c.args).map(String) });
        for (const probe of ['readinessProbe', 'livenessProbe'].map((p) => obj(c[p]))) {
          const cmd = list(obj(probe.exec).command).map(String);
          if (cmd.length) {
            assert.equal(cmd[0], binName);
            lines.push({ where: `helm ${o.__file} ${c.name} probe`, args: cmd.slice(1) });
          }
        }
      }
    }
    // systemd: ExecStart.
    for (const unit of units()) {
      const exec = unit.get('ExecStart')!;
      assert.equal(exec.length, 1, `${unit.name}: one ExecStart`);
      const [bin, ...args] = exec[0].split(/\s+/);
      assert.equal(basename(bin), binName, `${unit.name}: runs ${binName}`);
      lines.push({ where: unit.name, args });
    }
    const roles = new Set(lines.map((l) => l.args[0]));
    for (const role of ['engine', 'serve', 'probe', 'ai', 'query']) assert.ok(roles.has(role), `some asset runs ${role}`);
    // Each distinct line once (the CLI takes half a second to start).
    [...new Map(lines.map((l) => [l.args.join(' '), l])).values()].forEach(checkCommandLine);
  });

  test('every NETSPECTRA_* variable set anywhere is a config key\'s variable or one the code reads', () => {
    checkVariables('deployments/env.example', Object.keys(composeEnv()));
    checkVariables('systemd/netspectra.env.example', Object.keys(dotenv(read(join(deployments, 'systemd', 'netspectra.env.example')))));
    const compose = obj(yaml(read(join(deployments, 'compose.yaml'))));
    for (const [name, s] of Object.entries(obj(compose.services))) checkVariables(`compose ${name}`, Object.keys(serviceEnv(obj(s))));
    for (const o of renderChart(merge(SET_SECRETS, { ai: { enabled: true } }) as Obj).objects) {
      for (const c of containers(o)) checkVariables(`helm ${o.__file}`, list(c.env).map((e) => String(obj(e).name)));
    }
    for (const unit of units()) checkVariables(unit.name, Object.keys(unitEnv(unit)));
    const env = dockerfile().instructions.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]));
    checkVariables('Dockerfile ENV', env);
  });
});

/** A compose service's environment, map or list form. */
function serviceEnv(s: Obj): Record<string, string> {
  const e = s.environment;
  if (Array.isArray(e)) return Object.fromEntries(e.map((x) => String(x).split(/=(.*)/s).slice(0, 2)));
  return Object.fromEntries(Object.entries(obj(e)).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

describe('compose.yaml', () => {
  const compose = () => obj(interpolateDeep(yaml(read(join(deployments, 'compose.yaml'))), composeEnv()));
  const services = () => obj(compose().services);

  test('env.example sets every variable compose requires, and Grafana\'s token is one the API accepts', () => {
    assert.doesNotThrow(() => compose());
    const env = composeEnv();
    assert.ok(env.NETSPECTRA_API_TOKENS.split(',').includes(env.GRAFANA_API_TOKEN));
    // Without them compose stops (a ${VAR:?...} fails).
    assert.throws(() => interpolateDeep(yaml(read(join(deployments, 'compose.yaml'))), {}), /is required/);
  });

  test('each NetSpectra service\'s environment is a valid configuration for its role', () => {
    const cfgs: Record<string, NetspectraConfig> = {};
    for (const [name, s] of Object.entries(services()).map(([k, v]) => [k, obj(v)] as const)) {
      if (!String(s.image ?? '').startsWith('netspectra')) continue;
      cfgs[name] = loadConfig({ env: serviceEnv(s) });
    }
    assert.deepEqual(Object.keys(cfgs).sort(), ['ai', 'api', 'engine', 'probe']);
    for (const role of ['engine', 'probe']) {
      assert.equal(cfgs[role].nats.url.startsWith('nats://'), true, `${role}: NATS`);
      assert.equal(cfgs[role].nats.jetstream, true, `${role}: JetStream`);
    }
    for (const role of ['engine', 'api']) {
      assert.equal(cfgs[role].storage.kind, 'clickhouse', `${role}: the ClickHouse service`);
      assert.equal(cfgs[role].storage.url, 'http://clickhouse:8123');
    }
    assert.equal(cfgs.api.nats.url, '', 'the API runs no engine of its own');
    // Three engines share the probes' partitions, as a cluster.
    assert.equal(cfgs.engine.probe.partitions, cfgs.probe.probe.partitions, 'engines and probe agree on the partitions');
    assert.equal(String(obj(obj(services().engine).deploy).replicas), '3');
    assert.ok(cfgs.engine.probe.partitions >= 3, 'a partition for each of the three engines at least');
    assert.ok(cfgs.api.api.tokens && cfgs.ai.api.tokens, 'the API and the AI service require tokens');
    const s = services();
    const clickhouse = obj(obj(s.clickhouse).environment);
    assert.equal(clickhouse.CLICKHOUSE_PASSWORD, cfgs.engine.storage.password, 'ClickHouse and the engines agree on the password');
    assert.equal(clickhouse.CLICKHOUSE_USER, cfgs.engine.storage.user);
  });

  test('services: JetStream on, health checks and healthy dependencies, capture capabilities under a profile', () => {
    const s = services();
    assert.ok(list(obj(s.nats).command).includes('-js'), 'NATS with JetStream');
    for (const [name, svc] of Object.entries(s).map(([k, v]) => [k, obj(v)] as const)) {
      const hc = obj(svc.healthcheck);
      assert.ok(hc.disable === true || list(hc.test).length > 0, `${name}: a health check, or none on purpose`);
      for (const [dep, how] of Object.entries(obj(svc.depends_on))) {
        assert.ok(dep in s, `${name} depends on ${dep}, a service`);
        const depHc = obj(obj(s[dep]).healthcheck);
        assert.equal(obj(how).condition, 'service_healthy', `${name} waits for ${dep} to be healthy`);
        assert.ok(list(depHc.test).length > 0, `${dep} has the health check ${name} waits for`);
      }
    }
    const probe = obj(s.probe);
    assert.equal(probe.network_mode, 'host');
    assert.deepEqual(list(probe.cap_add).sort(), ['NET_ADMIN', 'NET_RAW']);
    assert.deepEqual(list(probe.cap_drop), ['ALL']);
    assert.deepEqual(list(probe.profiles), ['probe']);
    const build = obj(obj(s.engine).build);
    assert.ok(existsSync(join(deployments, String(build.context), String(build.dockerfile))), 'the build context and Dockerfile');
    // Bind mounts (relative sources) exist beside compose.yaml.
    for (const [name, svc] of Object.entries(s).map(([k, v]) => [k, obj(v)] as const)) {
      for (const v of list(svc.volumes).map(String).filter((x) => x.startsWith('.'))) {
        assert.ok(existsSync(join(deployments, v.split(':')[0])), `${name}: ${v}`);
      }
    }
  });

  test('with the docker compose plugin, `docker compose config` accepts the file', (t) => {
    if (!hasTool('docker', ['compose', 'version'])) return t.skip('the docker compose plugin is not installed here');
    const r = spawnSync('docker', ['compose', '-f', join(deployments, 'compose.yaml'), '--env-file', join(deployments, 'env.example'), '--profile', 'probe', '--profile', 'ai', 'config', '-q'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('Helm chart', () => {
  test('renders the engine Deployment, the probe DaemonSet, the API, the Secret and the ConfigMap', () => {
    const { objects, notes, values } = renderChart(SET_SECRETS);
    const kinds = objects.map((o) => `${o.kind}/${obj(o.metadata).name}`).sort();
    assert.deepEqual(kinds, [
      'ConfigMap/netspectra-config', 'DaemonSet/netspectra-probe', 'Deployment/netspectra-api', 'Deployment/netspectra-engine',
      'Secret/netspectra-secrets', 'Service/netspectra-api',
    ]);
    for (const o of objects) assert.equal(typeof o.apiVersion, 'string', `${o.kind}: apiVersion`);
    const byName = (n: string) => objects.find((o) => obj(o.metadata).name === n)!;
    assert.equal(obj(byName('netspectra-engine').spec).replicas, obj(values.engine).replicas, 'engines from values');
    assert.equal(obj(renderChart(merge(SET_SECRETS, { engine: { replicas: 7 } }) as Obj).objects.find((o) => obj(o.metadata).name === 'netspectra-engine')!.spec).replicas, 7);

    const probe = byName('netspectra-probe');
    assert.equal(podSpec(probe).hostNetwork, true);
    const [pc] = containers(probe);
    assert.deepEqual(list(obj(obj(pc.securityContext).capabilities).add).sort(), ['NET_ADMIN', 'NET_RAW']);
    assert.deepEqual(list(obj(obj(pc.securityContext).capabilities).drop), ['ALL']);
    assert.deepEqual(list(pc.args).slice(-2), ['--iface', obj(values.probe).interface], 'the interface from values');

    // Every workload selects its own pods, runs our image, mounts the ConfigMap it is given.
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
      const sel = obj(obj(obj(o.spec).selector).matchLabels);
      const labels = obj(obj(obj(obj(o.spec).template).metadata).labels);
      for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `${obj(o.metadata).name}: pod label ${k}`);
      for (const c of containers(o)) {
        assert.equal(c.image, `${obj(values.image).repository}:${obj(yaml(read(join(chartDir, 'Chart.yaml')))).appVersion}`, 'the image, tagged with appVersion');
        assert.ok(list(c.args).includes('/etc/netspectra/netspectra.yaml'));
      }
      const volumes = list(podSpec(o).volumes).map(obj);
      assert.equal(obj(volumes.find((v) => v.name === 'config')!.configMap).name, 'netspectra-config');
      if (o.kind === 'Deployment') assert.equal(obj(podSpec(o).securityContext).runAsNonRoot, true, `${obj(o.metadata).name}: non-root`);
    }
    // Services reach their pods' named ports.
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const target = objects.find((o) => o.kind === 'Deployment' && obj(o.metadata).name === obj(svc.metadata).name)!;
      const ports = containers(target).flatMap((c) => list(c.ports).map((p) => obj(p).name));
      for (const p of list(obj(svc.spec).ports).map(obj)) assert.ok(ports.includes(p.targetPort), `${obj(svc.metadata).name}: port ${p.targetPort}`);
    }
    // Secret keys the containers read exist in the Secret the chart makes.
    const secret = byName('netspectra-secrets');
    for (const o of objects) {
      for (const c of containers(o)) {
        for (const ref of list(c.env).map((e) => obj(obj(obj(e).valueFrom).secretKeyRef)).filter((r) => r.name)) {
          assert.equal(ref.name, 'netspectra-secrets');
          assert.ok(String(ref.key) in obj(secret.stringData), `${o.__file}: secret key ${ref.key}`);
        }
      }
    }
    assert.equal(obj(secret.stringData)['api-tokens'], 'token-a,token-b');
    assert.ok(notes.includes(`port-forward service/netspectra-api ${obj(obj(values.api).service).port}`), notes);
    const chart = obj(yaml(read(join(chartDir, 'Chart.yaml'))));
    assert.equal(chart.appVersion, pkg.version, 'appVersion follows package.json');
  });

  test('the ConfigMap\'s netspectra.yaml validates against the schema and agrees with the pods', () => {
    const { objects } = renderChart(SET_SECRETS);
    const cm = objects.find((o) => o.kind === 'ConfigMap')!;
    const dir = mkdtempSync(join(tmpdir(), 'netspectra-helm-'));
    try {
      const file = join(dir, 'netspectra.yaml');
      writeFileSync(file, String(obj(cm.data)['netspectra.yaml']));
      for (const o of objects) {
        for (const c of containers(o)) {
          // The file plus the container's environment (secrets as the cluster would fill them).
          const env = Object.fromEntries(list(c.env).map(obj).map((e) => [String(e.name), e.value === undefined ? 'from-a-secret' : String(e.value)]));
          const cfg = loadConfig({ file, env });
          if (c.name === 'api') {
            assert.equal(cfg.nats.url, '', 'the API runs no engine of its own');
            assert.equal(list(c.ports).map(obj)[0].containerPort, cfg.api.port);
            assert.equal(cfg.api.host, '0.0.0.0');
          }
          if (c.name === 'engine' || c.name === 'probe') assert.equal(cfg.nats.jetstream, true, `${c.name}: JetStream`);
          if (c.name === 'engine') assert.ok(cfg.probe.partitions >= Number(obj(obj(yaml(read(join(chartDir, 'values.yaml')))).engine).replicas), 'a partition for each engine at least');
          if (c.name === 'ai') assert.equal(list(c.ports).map(obj)[0].containerPort, cfg.ai.port);
        }
      }
      // An unknown key in values' config fails the same validation.
      const bad = renderChart(merge(SET_SECRETS, { config: { storage: { kindd: 'x' } } }) as Obj).objects.find((o) => o.kind === 'ConfigMap')!;
      writeFileSync(file, String(obj(bad.data)['netspectra.yaml']));
      assert.throws(() => loadConfig({ file, env: {} }), /kindd/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('options: the AI service, an existing Secret, no probe; tokens are required', () => {
    const ai = renderChart(merge(SET_SECRETS, { ai: { enabled: true } }) as Obj).objects;
    assert.ok(ai.some((o) => o.kind === 'Deployment' && obj(o.metadata).name === 'netspectra-ai'));
    assert.ok(ai.some((o) => o.kind === 'Service' && obj(o.metadata).name === 'netspectra-ai'));
    const ext = renderChart({ secrets: { existingSecret: 'mine' }, probe: { enabled: false } }).objects;
    assert.ok(!ext.some((o) => o.kind === 'Secret' || o.kind === 'DaemonSet'));
    const refs = ext.flatMap((o) => containers(o).flatMap((c) => list(c.env).map((e) => obj(obj(obj(e).valueFrom).secretKeyRef).name).filter(Boolean)));
    assert.ok(refs.length > 0 && refs.every((n) => n === 'mine'));
    assert.throws(() => renderChart(), /secrets.apiTokens is required/);
  });

  test('with helm installed, helm lint and helm template agree', (t) => {
    if (!hasTool('helm', ['version'])) return t.skip('helm is not installed here (the chart was rendered by the subset renderer above)');
    const set = ['--set', 'secrets.apiTokens=token-a'];
    const lint = spawnSync('helm', ['lint', chartDir, ...set], { encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    const r = spawnSync('helm', ['template', 'netspectra', chartDir, ...set], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const kinds = r.stdout.split(/^---\s*$/m).map((d) => obj(yaml(d)).kind).filter(Boolean).sort();
    assert.deepEqual(kinds, renderChart({ secrets: { apiTokens: 'token-a' } }).objects.map((o) => o.kind).sort());
  });
});

// ---- systemd ------------------------------------------------------------------------------

type Unit = Map<string, string[]> & { name: string; path: string };

function units(): Unit[] {
  const dir = join(deployments, 'systemd');
  return readdirSync(dir).filter((f) => f.endsWith('.service')).sort().map((f) => {
    const u = new Map<string, string[]>() as Unit;
    u.name = f;
    u.path = join(dir, f);
    for (const line of read(u.path).split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) u.set(m[1], [...(u.get(m[1]) ?? []), m[2]]);
    }
    return u;
  });
}

function unitEnv(u: Unit): Record<string, string> {
  return Object.fromEntries((u.get('Environment') ?? []).flatMap((l) => l.split(/\s+/).map((kv) => kv.split(/=(.*)/s).slice(0, 2))));
}

describe('systemd units', () => {
  test('probe, engine and API units: a dedicated user, capabilities only for capture, hardening', () => {
    const names = units().map((u) => u.name);
    assert.deepEqual(names, ['netspectra-api.service', 'netspectra-engine.service', 'netspectra-probe.service']);
    for (const u of units()) {
      const one = (k: string) => (u.get(k) ?? []).join(' ');
      assert.ok(one('User') && one('User') !== 'root', `${u.name}: a dedicated user`);
      assert.equal(one('NoNewPrivileges'), 'yes', u.name);
      assert.equal(one('ProtectSystem'), 'strict', u.name);
      assert.equal(one('ProtectHome'), 'yes', u.name);
      assert.equal(one('PrivateTmp'), 'yes', u.name);
      assert.equal(one('Restart'), 'on-failure', u.name);
      assert.ok(one('EnvironmentFile'), `${u.name}: secrets from an environment file`);
      const caps = (k: string) => one(k).split(/\s+/).filter(Boolean).sort();
      if (u.name === 'netspectra-probe.service') {
        assert.deepEqual(caps('AmbientCapabilities'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
        assert.deepEqual(caps('CapabilityBoundingSet'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
      } else {
        assert.deepEqual(caps('AmbientCapabilities'), [], `${u.name}: no capabilities`);
        assert.deepEqual(caps('CapabilityBoundingSet'), [], `${u.name}: an empty bounding set`);
      }
    }
  });

  test('the example config and the units\' environment make a valid configuration per role', () => {
    const file = join(deployments, 'systemd', 'netspectra.yaml');
    const secrets = dotenv(read(join(deployments, 'systemd', 'netspectra.env.example')));
    for (const u of units()) {
      const args = u.get('ExecStart')![0].split(/\s+/);
      assert.equal(args[args.indexOf('--config') + 1], '/etc/netspectra/netspectra.yaml', u.name);
      const cfg = loadConfig({ file, env: { ...secrets, ...unitEnv(u) } });
      if (args[1] === 'serve') assert.equal(cfg.nats.url, '', 'the API runs no engine of its own');
      else assert.ok(cfg.nats.url && cfg.nats.jetstream, `${u.name}: NATS with JetStream`);
    }
  });

  test('systemd-analyze verify accepts every unit without a warning', (t) => {
    if (!hasTool('systemd-analyze', ['--version'])) return t.skip('systemd-analyze is not installed here');
    const dir = mkdtempSync(join(tmpdir(), 'netspectra-units-'));
    try {
      // The binary is where `npm install -g` puts it, which is not this machine: a stand-in.
      const stub = join(dir, binName);
      writeFileSync(stub, '#!/bin/sh\n');
      chmodSync(stub, 0o755);
      for (const u of units()) {
        const copy = join(dir, u.name);
        writeFileSync(copy, read(u.path).replace(/^ExecStart=\S+/m, `ExecStart=${stub}`));
        const r = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', copy], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${u.name}: ${r.stderr}`);
        assert.equal((r.stdout + r.stderr).trim(), '', `${u.name}: warnings`);
        const sec = spawnSync('systemd-analyze', ['security', '--offline=true', copy], { encoding: 'utf8' });
        const level = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout);
        assert.ok(level, `${u.name}: systemd-analyze security: ${sec.stderr}`);
        // Node's JIT rules out MemoryDenyWriteExecute; capture needs its two capabilities.
        assert.ok(Number(level[1]) <= (u.name.includes('probe') ? 3.5 : 2.5), `${u.name}: exposure ${level[1]}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- Dockerfile ---------------------------------------------------------------------------

describe('Dockerfile', () => {
  test('a bookworm build stage with the current Node LTS, a slim non-root runtime with libpcap, and what the build needs', () => {
    const { instructions, stages } = dockerfile();
    const build = stages.findIndex((s) => s.name === 'build');
    const runtime = stages.length - 1;
    assert.ok(build >= 0 && build < runtime, 'a build stage, then the runtime');
    assert.match(stages[build].image, /bookworm/);
    assert.equal(stages[runtime].image, 'node:24-bookworm-slim');
    // Every Node stage is the same LTS, one the package supports and the tests run on.
    const oldest = Number(/^>=(\d+)/.exec(pkg.engines.node)![1]);
    const tested = readFileSync(join(root, 'scripts', 'test-node-lts.mjs'), 'utf8');
    for (const s of stages.filter((x) => x.image.startsWith('node:'))) {
      const major = Number(/^node:(\d+)-/.exec(s.image)![1]);
      assert.ok(major >= oldest && new RegExp(`'${major}\\.\\d+\\.\\d+'`).test(tested), `${s.image}: Node ${major} is supported and tested`);
    }
    const at = (stage: number) => instructions.filter((i) => i.stage === stage);
    assert.ok(at(runtime).some((i) => i.op === 'RUN' && /apt-get install[^&]*\blibpcap0\.8\b/.test(i.args)), 'libpcap0.8 in the runtime');
    const user = at(runtime).filter((i) => i.op === 'USER').pop();
    assert.ok(user && !/^(root|0)(:|$)/.test(user.args), 'the runtime runs as a non-root user');
    assert.ok(at(runtime).some((i) => i.op === 'VOLUME'), 'a volume for the data folder');
    assert.match(at(runtime).find((i) => i.op === 'HEALTHCHECK')!.args, /"query", "health"/);
    // COPY sources from the context exist; COPY --from names an earlier stage.
    const copied: string[] = [];
    for (const c of instructions.filter((i) => i.op === 'COPY')) {
      const words = c.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice(7);
      const paths = words.filter((w) => !w.startsWith('--')).slice(0, -1);
      if (from) {
        assert.ok(stages.slice(0, c.stage).some((s) => s.name === from), `COPY --from=${from}: an earlier stage`);
        if (c.stage === runtime && from === 'build') copied.push(...paths.map((p) => relative('/src', p).replace(/\/$/, '')));
        continue;
      }
      for (const p of paths) {
        assert.ok(existsSync(join(root, p)), `COPY ${p}: exists in the repository`);
        copied.push(p.replace(/\/$/, ''));
      }
    }
    const covered = (p: string) => copied.some((c) => p === c || p.startsWith(`${c}/`));
    const members = [...read(join(root, 'Cargo.toml')).matchAll(/"([^"]+)"/g)].map((m) => m[1]).filter((m) => existsSync(join(root, m, 'Cargo.toml')));
    for (const m of members) assert.ok(covered(m), `the Cargo workspace member ${m} is copied`);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'buf.gen.yaml', 'proto', 'ts', 'scripts/build-native.mjs', 'scripts/platform.mjs', 'scripts/build-wasm.mjs']) {
      assert.ok(covered(f), `${f} is copied into the build`);
    }
    for (const f of pkg.files) assert.ok(covered(f), `the package's ${f} reaches the runtime`);
    // RUN commands are valid shell.
    for (const r of instructions.filter((i) => i.op === 'RUN')) {
      const cmd = r.args.replace(/^(--\S+\s+)+/, '');
      const sh = spawnSync('sh', ['-n', '-c', cmd], { encoding: 'utf8' });
      assert.equal(sh.status, 0, `RUN ${cmd}: ${sh.stderr}`);
    }
  });

  test('with a Docker engine, the Dockerfile passes `docker build --check`', (t) => {
    if (!hasTool('docker', ['info'])) return t.skip('no Docker engine runs here (the docker CLI cannot reach a daemon)');
    const r = spawnSync('docker', ['build', '--check', '-f', join(deployments, 'Dockerfile'), root], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('with hadolint installed, it finds nothing to warn about', (t) => {
    if (!hasTool('hadolint', ['--version'])) return t.skip('hadolint is not installed here');
    const r = spawnSync('hadolint', ['--failure-threshold', 'warning', join(deployments, 'Dockerfile')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});

// ---- Grafana ------------------------------------------------------------------------------

interface Target { refId: string; target: string; payload?: string | Obj; datasource?: Obj; hide?: boolean }
interface Panel { title: string; type: string; datasource?: Obj; targets?: Target[]; panels?: Panel[] }

// One embedded store (chdb: one session per process) for every test of this block.
describe('Grafana: the provisioned datasource and the dashboard against the query API', () => {
  const pcap = join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
  const oracle = join(root, '..', 'shared', 'oracle', 'debian-pathspider-real.pcap.json');
  // The capture's day (2012-11-23, 17:00 to 18:00 UTC), as a Grafana time range.
  const range = { from: '2012-11-23T00:00:00.000Z', to: '2012-11-24T00:00:00.000Z' };
  let dir: string;
  let store: Store;
  let server: RunningServer;
  let tokens: string[];
  let header: string;
  let path: string;
  let dashboard: { templating: { list: { name: string; current: { value: string } }[] }; panels: Panel[] };

  const datasource = () => {
    const doc = obj(yaml(read(join(deployments, 'grafana', 'provisioning', 'datasources', 'netspectra.yaml'))));
    return list(doc.datasources).map(obj).find((d) => d.type === 'simpod-json-datasource')!;
  };
  const panels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...panels(p.panels ?? [])]);
  /** Grafana's template substitution of the dashboard's variables, at their current values. */
  const vars = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => dashboard.templating.list.find((v) => v.name === (a ?? b))?.current.value ?? m);
  /** A target as simpod-json-datasource sends it: variables replaced, a code-mode payload parsed. */
  const sent = (t: Target) => ({
    ...t,
    target: vars(t.target),
    payload: typeof t.payload === 'string' ? (t.payload.trim() ? JSON.parse(vars(t.payload)) : {}) : Object.fromEntries(Object.entries(t.payload ?? {}).map(([k, v]) => [k, vars(String(v))])),
  });
  const post = (route: string, body: unknown, auth = header) =>
    fetch(`${server.url}${path}${route}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    assert.ok(existsSync(pcap), `the shared capture ${pcap}`);
    // The API's tokens as compose sets them (env.example), the header as Grafana's datasource
    // sends it (its secureJsonData, with GRAFANA_API_TOKEN from env.example).
    const env = composeEnv();
    tokens = env.NETSPECTRA_API_TOKENS.split(',');
    const ds = datasource();
    assert.equal(obj(ds.jsonData).httpHeaderName1, 'Authorization');
    header = interpolate(String(obj(ds.secureJsonData).httpHeaderValue1), env);
    const url = new URL(String(ds.url));
    path = url.pathname.replace(/\/$/, '');
    dashboard = JSON.parse(read(join(deployments, 'grafana', 'dashboards', 'netspectra.json')));
    // The tasks and window a deployed engine runs (the chart's ConfigMap), stored embedded here.
    dir = mkdtempSync(join(tmpdir(), 'netspectra-grafana-'));
    const cm = renderChart(SET_SECRETS).objects.find((o) => o.kind === 'ConfigMap')!;
    const file = join(dir, 'netspectra.yaml');
    writeFileSync(file, String(obj(cm.data)['netspectra.yaml']));
    const deployed = loadConfig({ file, env: {} });
    const cfg = loadConfig({ file, env: {}, overrides: { 'storage.kind': 'embedded', 'storage.path': join(dir, 'store'), 'analyze.window': deployed.window } });
    const storage = openWindowStorage(cfg.storage, { source: 'probe-1', log: () => {} })!;
    await storeCapture(pcap, cfg, storage);
    const stats = await storage.close();
    assert.equal(stats.spillRows + stats.rowsLost, 0, 'every row written');
    store = await openStore(cfg.storage);
    server = await listen(createApiApp({ store, maxLimit: cfg.api.maxLimit, live: null, tokens, log: () => {} }), '127.0.0.1', 0);
  });

  after(async () => {
    await server?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the datasource points at the compose API service\'s Grafana routes, and its token is accepted', async () => {
    const ds = datasource();
    const url = new URL(String(ds.url));
    const compose = obj(yaml(read(join(deployments, 'compose.yaml'))));
    const api = obj(obj(compose.services)[url.hostname]);
    assert.deepEqual(list(api.command).slice(0, 1), ['serve'], `${url.hostname} runs the API`);
    assert.equal(Number(url.port), loadConfig({ env: {} }).api.port);
    assert.equal(path, '/grafana');
    assert.ok(tokens.includes(header.replace(/^Bearer /, '')), 'Grafana\'s token is one of the API\'s');
    // "Save & test": the plugin GETs the URL.
    assert.equal((await fetch(`${server.url}${path}`, { headers: { authorization: header } })).status, 200);
    assert.equal((await fetch(`${server.url}${path}`)).status, 401, 'no token, no data');
    // The dashboard's panels use this datasource.
    for (const p of panels(dashboard.panels)) {
      assert.equal(obj(p.datasource).uid, ds.uid, `${p.title}: the provisioned datasource`);
      for (const t of p.targets ?? []) assert.equal(obj(t.datasource).uid, ds.uid, `${p.title} ${t.refId}`);
    }
    const provider = obj(list(obj(yaml(read(join(deployments, 'grafana', 'provisioning', 'dashboards', 'netspectra.yaml')))).providers)[0]);
    const mount = list(obj(obj(compose.services).grafana).volumes).map(String).find((v) => v.startsWith('./grafana/dashboards:'))!;
    assert.equal(mount.split(':')[1], obj(provider.options).path, 'the dashboards provider reads the mounted folder');
  });

  test('/grafana/search and /grafana/metrics list every target the dashboard uses', async () => {
    const search = (await (await post('/search', { target: '' })).json()) as string[];
    const metrics = ((await (await post('/metrics', {})).json()) as { value: string }[]).map((m) => m.value);
    const used = new Set(panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => sent(t).target)));
    assert.ok(used.size >= 5, [...used].join(', '));
    for (const t of used) {
      assert.ok(search.includes(t), `search lists ${t}`);
      assert.ok(metrics.includes(t), `metrics lists ${t}`);
    }
  });

  test('every panel\'s query, as Grafana sends it, returns data for the capture\'s day', async () => {
    const expected = JSON.parse(read(oracle)) as { packets: number; bytes: number };
    let checked = 0;
    for (const p of panels(dashboard.panels).filter((x) => x.targets?.length)) {
      const targets = p.targets!.map(sent);
      const res = await post('/query', { range: { ...range, raw: range }, interval: '10s', intervalMs: 10_000, maxDataPoints: 1000, targets, adhocFilters: [] });
      const body = await res.text();
      assert.equal(res.status, 200, `${p.title}: ${body}`);
      const series = JSON.parse(body) as { target: string; refId: string; datapoints: [number, number][] }[];
      assert.deepEqual(series.map((s) => s.refId), targets.map((t) => t.refId), `${p.title}: one series per target`);
      for (const s of series) {
        assert.ok(s.datapoints.length > 1, `${p.title} ${s.refId} (${s.target}): datapoints`);
        assert.ok(s.datapoints.every(([v, at]) => v >= 0 && at >= Date.parse(range.from) && at < Date.parse(range.to)), `${p.title} ${s.refId}: in range`);
        const total = s.datapoints.reduce((a, [v]) => a + v, 0);
        if (s.target === 'packets') assert.equal(total, expected.packets, `${p.title}: tshark's packet count`);
        if (s.target === 'bytes') assert.equal(total, expected.bytes, `${p.title}: tshark's byte count`);
        checked++;
      }
    }
    assert.ok(checked >= 10, `${checked} series checked`);
  });
});
