// The deployment assets in deployments/ checked against the code they deploy: every file parses,
// every command and flag they run exists in the CLI, every NETSPECTRA_* variable and config key
// exists in the schema (and its value passes validation), the Helm chart renders to the objects
// it should, the systemd units pass `systemd-analyze verify`, the Dockerfile copies what the
// build needs, and Grafana's dashboard is answered by the query API over a real embedded store.
// The chart is linted and rendered by helm, the rendered objects validated against Kubernetes'
// schemas by kubernetes-validate, and compose.yaml read by the Compose CLI (`docker-compose
// config`): scripts/deploy-tools.sh installs the three into .toolchain/deploy. Runs from the
// repository root; what needs a Docker engine or hadolint is skipped with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
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
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[]; engines: { node: string }; dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
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

const envExample = () => dotenv(read(join(deployments, 'env.example')));

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

// ---- the real tools: helm, the Compose CLI, kubernetes-validate -----------------------------

// Installed by scripts/deploy-tools.sh, which `make test` runs before the tests.
const toolchain = join(root, '.toolchain', 'deploy');

function tool(path: string): string {
  const p = join(toolchain, path);
  assert.ok(existsSync(p), `${relative(root, p)} is missing: run scripts/deploy-tools.sh (make test runs it before the tests)`);
  return p;
}
const helmBin = () => tool(join('bin', 'helm'));
const composeBin = () => tool(join('bin', 'docker-compose'));
const validatorBin = () => tool(join('kubernetes-validate', 'bin', 'kubernetes-validate'));

interface Run { status: number | null; stdout: string; stderr: string }

/** A tool run with PATH and HOME only from this process's environment, so that no variable of
 * the caller's (NETSPECTRA_API_TOKENS, KUBECONFIG, HELM_*) changes what it sees. */
function runTool(bin: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---- Helm -----------------------------------------------------------------------------------

const RELEASE = 'netspectra';
const NAMESPACE = 'monitoring';
/** What a release must set (secrets.apiTokens is required), as most tests set it. */
const SECRETS: Obj = { secrets: { apiTokens: 'token-a,token-b', clickhousePassword: 'pw' } };

/** Values as --set-json flags, one per top-level key: merged into the chart's values like -f. */
function setJson(values: Obj): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

/** The objects of a rendered manifest, each with the template it came from (__file). */
function manifests(text: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of text.split(/^---\s*$/m)) {
    if (!doc.trim()) continue;
    const o = yaml(doc);
    if (o === null) continue;
    out.push({ ...obj(o), __file: basename(/^# Source: (\S+)/m.exec(doc)?.[1] ?? '') });
  }
  return out;
}

/** `helm template netspectra deployments/helm/netspectra -n monitoring` with these values set. */
function helmTemplateRun(values: Obj = {}, extra: string[] = []): Run {
  return runTool(helmBin(), ['template', RELEASE, chartDir, '-n', NAMESPACE, ...setJson(values), ...extra]);
}

interface Rendered { objects: Obj[]; text: string }
const rendered = new Map<string, Rendered>();
/** The same, which must succeed; one run per set of values. */
function helmTemplate(values: Obj = SECRETS): Rendered {
  const key = JSON.stringify(values);
  if (!rendered.has(key)) {
    const r = helmTemplateRun(values);
    assert.equal(r.status, 0, `helm template ${setJson(values).join(' ')}: ${r.stderr}`);
    rendered.set(key, { objects: manifests(r.stdout), text: r.stdout });
  }
  return rendered.get(key)!;
}

/** The chart's values as Helm merges them: values.yaml under the ones set. */
function chartValues(): Obj {
  return obj(yaml(read(join(chartDir, 'values.yaml'))));
}

function podSpec(o: Obj): Obj {
  return obj(obj(obj(o.spec).template).spec);
}
const containers = (o: Obj) => list(podSpec(o).containers).map(obj);
const named = (objects: Obj[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && obj(x.metadata).name === name);
  assert.ok(o, `${kind}/${name} is rendered (${objects.map((x) => `${x.kind}/${obj(x.metadata).name}`).join(', ')})`);
  return o;
};

/** The manifest passes kubernetes-validate --strict (unknown fields are errors) against these
 * Kubernetes versions' schemas. */
function validateManifests(where: string, text: string, versions: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-k8s-'));
  try {
    const file = join(dir, 'manifest.yaml');
    writeFileSync(file, text);
    for (const v of versions) {
      const r = runTool(validatorBin(), ['--strict', '--quiet', '-k', v, file]);
      assert.equal(r.status, 0, `${where}, Kubernetes ${v}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Compose --------------------------------------------------------------------------------

const composeFile = join(deployments, 'compose.yaml');
const envExampleFile = join(deployments, 'env.example');

/** `docker-compose -f deployments/compose.yaml [flags] config --format json`, in an environment
 * without the caller's variables (compose would let them override the env file). */
function composeConfigRun(flags: string[]): Run {
  return runTool(composeBin(), ['-f', composeFile, ...flags, 'config', '--format', 'json']);
}

const composeModels = new Map<string, Obj>();
/** Compose's normalized model with env.example as the env file (as the README's `.env`). */
function composeModel(profiles: string[] = ['probe', 'ai']): Obj {
  const key = profiles.join(',');
  if (!composeModels.has(key)) {
    const r = composeConfigRun(['--env-file', envExampleFile, ...profiles.flatMap((p) => ['--profile', p])]);
    assert.equal(r.status, 0, `docker-compose config: ${r.stderr}`);
    composeModels.set(key, JSON.parse(r.stdout) as Obj);
  }
  return composeModels.get(key)!;
}
const composeServices = (profiles?: string[]) => Object.fromEntries(Object.entries(obj(composeModel(profiles).services)).map(([k, v]) => [k, obj(v)]));
/** A service's environment in the normalized model (a map; a variable without a value is null). */
const serviceEnv = (s: Obj): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(s.environment)).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));

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
  test('every YAML, JSON and env file under deployments/ parses (Helm templates are rendered by helm below)', () => {
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
    // Compose (its normalized model): the command of every service running our image, and
    // health checks calling it.
    for (const [name, s] of Object.entries(composeServices())) {
      if (!String(s.image ?? '').startsWith('netspectra')) continue;
      lines.push({ where: `compose ${name}`, args: list(s.command).map(String) });
      const test = list(obj(s.healthcheck).test).map(String);
      if (test[1] === binName) lines.push({ where: `compose ${name} healthcheck`, args: test.slice(2) });
    }
    // Helm: container args and exec probes, with the optional AI service on.
    for (const o of helmTemplate({ ...SECRETS, ai: { enabled: true } }).objects) {
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
    checkVariables('deployments/env.example', Object.keys(envExample()));
    checkVariables('systemd/netspectra.env.example', Object.keys(dotenv(read(join(deployments, 'systemd', 'netspectra.env.example')))));
    for (const [name, s] of Object.entries(composeServices())) checkVariables(`compose ${name}`, Object.keys(serviceEnv(s)));
    for (const o of helmTemplate({ ...SECRETS, ai: { enabled: true } }).objects) {
      for (const c of containers(o)) checkVariables(`helm ${o.__file}`, list(c.env).map((e) => String(obj(e).name)));
    }
    for (const unit of units()) checkVariables(unit.name, Object.keys(unitEnv(unit)));
    const env = dockerfile().instructions.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]));
    checkVariables('Dockerfile ENV', env);
  });
});

describe('compose.yaml, as `docker-compose config` reads it', () => {
  test('env.example sets every variable compose requires, and without it compose names each one', () => {
    const env = serviceEnv(composeServices().grafana);
    assert.ok(serviceEnv(composeServices().api).NETSPECTRA_API_TOKENS.split(',').includes(env.GRAFANA_API_TOKEN), 'Grafana\'s token is one the API accepts');
    // Without them compose stops before anything starts (the ${VAR:?...} of each secret).
    const r = composeConfigRun([]);
    assert.notEqual(r.status, 0, 'compose accepted the file without its secrets');
    for (const v of ['NETSPECTRA_API_TOKENS', 'NETSPECTRA_STORAGE_PASSWORD', 'GRAFANA_ADMIN_PASSWORD', 'GRAFANA_API_TOKEN']) {
      assert.match(r.stderr, new RegExp(`required variable ${v} is missing a value: set ${v}`), v);
    }
  });

  test('profiles: ai and probe only when asked for', () => {
    const base = Object.keys(composeServices([])).sort();
    assert.deepEqual(base, ['api', 'clickhouse', 'engine', 'grafana', 'nats']);
    assert.deepEqual(Object.keys(composeServices(['probe', 'ai'])).sort(), [...base, 'ai', 'probe'].sort());
  });

  test('each NetSpectra service\'s environment is a valid configuration for its role; 3 engines over 6 partitions', () => {
    const s = composeServices();
    const cfgs: Record<string, NetspectraConfig> = {};
    for (const [name, svc] of Object.entries(s)) {
      if (!String(svc.image ?? '').startsWith('netspectra')) continue;
      cfgs[name] = loadConfig({ env: serviceEnv(svc) });
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
    // Three engines share the probes' six partitions, as a cluster.
    assert.equal(obj(s.engine.deploy).replicas, 3, 'ENGINE_REPLICAS from env.example');
    assert.equal(cfgs.engine.probe.partitions, 6);
    assert.equal(cfgs.probe.probe.partitions, cfgs.engine.probe.partitions, 'engines and probe agree on the partitions');
    assert.ok(cfgs.api.api.tokens && cfgs.ai.api.tokens, 'the API and the AI service require tokens');
    const clickhouse = serviceEnv(s.clickhouse);
    assert.equal(clickhouse.CLICKHOUSE_PASSWORD, cfgs.engine.storage.password, 'ClickHouse and the engines agree on the password');
    assert.equal(clickhouse.CLICKHOUSE_PASSWORD, 'replace-clickhouse-password', 'the password of env.example');
    assert.equal(clickhouse.CLICKHOUSE_USER, cfgs.engine.storage.user);
    assert.equal(cfgs.api.storage.password, cfgs.engine.storage.password);
    // The health checks ask the ports the roles serve: the engine's ops port (/readyz beside
    // /metrics and /healthz), the API's port.
    const hcUrl = (svc: Obj) => new URL(/http:\/\/[^'"\s)]+/.exec(list(obj(svc.healthcheck).test).map(String).join(' '))![0]);
    const engineHc = hcUrl(s.engine);
    assert.equal(`${engineHc.hostname}:${engineHc.port}`, cfgs.engine.engine.ops.replace('0.0.0.0', '127.0.0.1'), 'the engine\'s health check asks its ops port');
    assert.equal(engineHc.pathname, '/readyz');
    const apiHc = hcUrl(s.api);
    assert.equal(Number(apiHc.port), cfgs.api.api.port, 'the API\'s health check asks its port');
    assert.equal(apiHc.pathname, '/readyz');
    assert.ok(list(s.api.ports).map(obj).some((p) => p.target === cfgs.api.api.port), 'the API\'s port is published');
  });

  test('services: JetStream on, health checks and healthy dependencies, capture capabilities under a profile', () => {
    const s = composeServices();
    assert.ok(list(s.nats.command).includes('-js'), 'NATS with JetStream');
    for (const [name, svc] of Object.entries(s)) {
      const hc = obj(svc.healthcheck);
      assert.ok(hc.disable === true || list(hc.test).length > 0, `${name}: a health check, or none on purpose`);
      for (const [dep, how] of Object.entries(obj(svc.depends_on))) {
        assert.ok(dep in s, `${name} depends on ${dep}, a service`);
        assert.equal(obj(how).condition, 'service_healthy', `${name} waits for ${dep} to be healthy`);
        assert.ok(list(obj(s[dep].healthcheck).test).length > 0, `${dep} has the health check ${name} waits for`);
      }
    }
    const probe = s.probe;
    assert.equal(probe.network_mode, 'host');
    assert.deepEqual(list(probe.cap_add).sort(), ['NET_ADMIN', 'NET_RAW']);
    assert.deepEqual(list(probe.cap_drop), ['ALL']);
    assert.deepEqual(list(probe.profiles), ['probe']);
    assert.equal(serviceEnv(probe).NETSPECTRA_NATS_URL, 'nats://127.0.0.1:4222', 'the probe reaches NATS on loopback');
    assert.ok(list(s.nats.ports).map(obj).some((p) => p.host_ip === '127.0.0.1' && p.target === 4222), 'NATS published on loopback for the probe');
    // Compose resolves the build context and bind mounts against the file's folder: they exist.
    for (const [name, svc] of Object.entries(s).filter(([, x]) => x.build)) {
      const build = obj(svc.build);
      assert.ok(existsSync(join(String(build.context), String(build.dockerfile))), `${name}: the build context and Dockerfile`);
      assert.equal(build.context, root, `${name}: the repository root is the context`);
      // Every role stores in the ClickHouse service, so the image leaves the embedded store out.
      assert.equal(obj(build.args).WITH_EMBEDDED_STORE, 'false', `${name}: built without the embedded store`);
      assert.notEqual(serviceEnv(svc).NETSPECTRA_STORAGE_KIND, 'embedded', `${name}: does not need the embedded store`);
    }
    for (const [name, svc] of Object.entries(s)) {
      for (const v of list(svc.volumes).map(obj).filter((x) => x.type === 'bind')) {
        assert.ok(existsSync(String(v.source)), `${name}: ${v.source}`);
      }
    }
  });
});

describe('Helm chart, as helm renders it', () => {
  test('helm lint --strict passes, with the default values and with the README\'s', () => {
    for (const args of [[], setJson(SECRETS), readmeInstall().set]) {
      const r = runTool(helmBin(), ['lint', '--strict', chartDir, ...args]);
      assert.equal(r.status, 0, `helm lint --strict ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('renders the engine Deployment, the probe DaemonSet, the API, the Secret and the ConfigMap', () => {
    const { objects } = helmTemplate();
    const values = chartValues();
    const kinds = objects.map((o) => `${o.kind}/${obj(o.metadata).name}`).sort();
    assert.deepEqual(kinds, [
      'ConfigMap/netspectra-config', 'DaemonSet/netspectra-probe', 'Deployment/netspectra-api', 'Deployment/netspectra-engine',
      'Secret/netspectra-secrets', 'Service/netspectra-api',
    ]);
    const chart = obj(yaml(read(join(chartDir, 'Chart.yaml'))));
    assert.equal(chart.appVersion, pkg.version, 'appVersion follows package.json');

    const probe = named(objects, 'DaemonSet', 'netspectra-probe');
    assert.equal(podSpec(probe).hostNetwork, true);
    assert.equal(podSpec(probe).dnsPolicy, 'ClusterFirstWithHostNet', 'the cluster\'s DNS (the NATS service) from the host network');
    const [pc] = containers(probe);
    assert.deepEqual(list(obj(obj(pc.securityContext).capabilities).add).sort(), ['NET_ADMIN', 'NET_RAW']);
    assert.deepEqual(list(obj(obj(pc.securityContext).capabilities).drop), ['ALL']);
    assert.deepEqual(list(pc.args).slice(-2), ['--iface', obj(values.probe).interface], 'the interface from values');

    // Every workload selects its own pods, runs our image, mounts the ConfigMap it is given.
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
      const name = String(obj(o.metadata).name);
      const sel = obj(obj(obj(o.spec).selector).matchLabels);
      const labels = obj(obj(obj(obj(o.spec).template).metadata).labels);
      assert.ok(Object.keys(sel).length >= 2, `${name}: a selector`);
      for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `${name}: pod label ${k}`);
      // No other workload's pods match it.
      for (const other of objects.filter((x) => x !== o && (x.kind === 'Deployment' || x.kind === 'DaemonSet'))) {
        const theirs = obj(obj(obj(obj(other.spec).template).metadata).labels);
        assert.ok(Object.entries(sel).some(([k, v]) => theirs[k] !== v), `${name} selects ${obj(other.metadata).name}'s pods`);
      }
      for (const c of containers(o)) {
        assert.equal(c.image, `${obj(values.image).repository}:${chart.appVersion}`, 'the image, tagged with appVersion');
        assert.deepEqual(list(c.args).slice(1, 3), ['--config', '/etc/netspectra/netspectra.yaml'], `${name}: the mounted config`);
        const mount = list(c.volumeMounts).map(obj).find((m) => m.name === 'config');
        assert.equal(mount?.mountPath, '/etc/netspectra', `${name}: the config volume's mount`);
      }
      const volumes = list(podSpec(o).volumes).map(obj);
      assert.equal(obj(volumes.find((v) => v.name === 'config')?.configMap).name, 'netspectra-config', name);
      if (o.kind === 'Deployment') {
        assert.equal(obj(podSpec(o).securityContext).runAsNonRoot, true, `${name}: non-root`);
        for (const c of containers(o)) assert.deepEqual(list(obj(obj(c.securityContext).capabilities).drop), ['ALL'], `${name}: no capabilities`);
      }
    }
    // Services reach their pods' named ports.
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const target = named(objects, 'Deployment', String(obj(svc.metadata).name));
      const ports = containers(target).flatMap((c) => list(c.ports).map((p) => obj(p).name));
      for (const p of list(obj(svc.spec).ports).map(obj)) assert.ok(ports.includes(p.targetPort), `${obj(svc.metadata).name}: port ${p.targetPort}`);
      assert.deepEqual(obj(obj(svc.spec).selector), obj(obj(obj(target.spec).selector).matchLabels), `${obj(svc.metadata).name}: the Deployment's pods`);
    }
    // Secret keys the containers read exist in the Secret the chart makes.
    const secret = named(objects, 'Secret', 'netspectra-secrets');
    for (const o of objects) {
      for (const c of containers(o)) {
        for (const ref of list(c.env).map((e) => obj(obj(obj(e).valueFrom).secretKeyRef)).filter((r) => r.name)) {
          assert.equal(ref.name, 'netspectra-secrets');
          assert.ok(String(ref.key) in obj(secret.stringData), `${o.__file}: secret key ${ref.key}`);
        }
      }
    }
    assert.deepEqual(obj(secret.stringData), { 'api-tokens': 'token-a,token-b', 'clickhouse-password': 'pw', 'ai-key': '' });
  });

  test('engines: 3 replicas over 6 partitions, probes on the ops port (/healthz, /readyz; /metrics there too), NATS and the store\'s password', () => {
    const { objects } = helmTemplate();
    const engine = named(objects, 'Deployment', 'netspectra-engine');
    assert.equal(obj(engine.spec).replicas, 3);
    assert.equal(obj(engine.spec).replicas, obj(chartValues().engine).replicas, 'engines from values');
    const cm = named(objects, 'ConfigMap', 'netspectra-config');
    const config = obj(yaml(String(obj(cm.data)['netspectra.yaml'])));
    assert.equal(obj(config.probe).partitions, 6);
    assert.ok(Number(obj(config.probe).partitions) >= Number(obj(engine.spec).replicas), 'a partition for each engine at least');

    const [c] = containers(engine);
    const env = Object.fromEntries(list(c.env).map(obj).map((e) => [String(e.name), e]));
    assert.equal(env.NETSPECTRA_NATS_URL.value, 'nats://nats:4222');
    assert.equal(env.NETSPECTRA_NATS_JETSTREAM.value, 'true');
    assert.deepEqual(obj(obj(env.NETSPECTRA_STORAGE_PASSWORD.valueFrom).secretKeyRef), { name: 'netspectra-secrets', key: 'clickhouse-password', optional: true });
    // The ops address the engine is given, and the named port its probes ask.
    const ops = String(env.NETSPECTRA_ENGINE_OPS.value);
    const port = list(c.ports).map(obj).find((p) => p.name === 'ops');
    assert.equal(`0.0.0.0:${port?.containerPort}`, ops, 'the ops port is the one the engine listens on');
    assert.deepEqual(obj(obj(c.livenessProbe).httpGet), { path: '/healthz', port: 'ops' });
    assert.deepEqual(obj(obj(c.readinessProbe).httpGet), { path: '/readyz', port: 'ops' });
    assert.equal(podSpec(engine).terminationGracePeriodSeconds, 90, 'time to write the open window on SIGTERM');
    // The API: probes on its own port, which is config.api.port; no NATS.
    const [api] = containers(named(objects, 'Deployment', 'netspectra-api'));
    const apiPort = list(api.ports).map(obj).find((p) => p.name === 'api');
    assert.equal(apiPort?.containerPort, obj(config.api).port);
    assert.deepEqual(obj(obj(api.livenessProbe).httpGet), { path: '/healthz', port: 'api' });
    assert.deepEqual(obj(obj(api.readinessProbe).httpGet), { path: '/readyz', port: 'api' });
    const apiEnv = list(api.env).map((e) => String(obj(e).name));
    assert.ok(!apiEnv.some((n) => n.startsWith('NETSPECTRA_NATS_')), 'the API gets no NATS');
    assert.deepEqual(
      String(list(api.env).map(obj).find((e) => e.name === 'NETSPECTRA_API_ALLOWED_HOSTS')?.value).split(','),
      ['netspectra-api', 'netspectra-api.monitoring', 'netspectra-api.monitoring.svc', 'netspectra-api.monitoring.svc.cluster.local'],
      'the Service\'s names in the release\'s namespace',
    );
    // Other replica counts come through.
    assert.equal(obj(named(helmTemplate({ ...SECRETS, engine: { replicas: 5 } }).objects, 'Deployment', 'netspectra-engine').spec).replicas, 5);
  });

  test('the ConfigMap holds values.config, validates against the schema, agrees with the pods; pods restart when it changes', () => {
    const { objects } = helmTemplate();
    const cm = named(objects, 'ConfigMap', 'netspectra-config');
    const text = String(obj(cm.data)['netspectra.yaml']);
    assert.deepEqual(yaml(text), chartValues().config, 'netspectra.yaml is values.config');
    const dir = mkdtempSync(join(tmpdir(), 'netspectra-helm-'));
    try {
      const file = join(dir, 'netspectra.yaml');
      writeFileSync(file, text);
      const seen = new Set<string>();
      for (const o of objects) {
        for (const c of containers(o)) {
          seen.add(String(c.name));
          // The file plus the container's environment (secrets as the cluster would fill them).
          const env = Object.fromEntries(list(c.env).map(obj).map((e) => [String(e.name), e.value === undefined ? 'from-a-secret' : String(e.value)]));
          const cfg = loadConfig({ file, env });
          if (c.name === 'api') {
            assert.equal(cfg.nats.url, '', 'the API runs no engine of its own');
            assert.equal(list(c.ports).map(obj)[0].containerPort, cfg.api.port);
            assert.equal(cfg.api.host, '0.0.0.0');
            assert.equal(cfg.storage.kind, 'clickhouse');
          }
          if (c.name === 'engine' || c.name === 'probe') assert.equal(cfg.nats.jetstream, true, `${c.name}: JetStream`);
          if (c.name === 'engine') {
            assert.equal(cfg.probe.partitions, 6);
            assert.equal(cfg.engine.ops, '0.0.0.0:9470');
            assert.equal(cfg.storage.url, 'http://clickhouse:8123');
          }
        }
      }
      assert.deepEqual([...seen].sort(), ['api', 'engine', 'probe']);
      // An unknown key in values' config fails the same validation.
      const bad = named(helmTemplate({ ...SECRETS, config: { storage: { kindd: 'x' } } }).objects, 'ConfigMap', 'netspectra-config');
      writeFileSync(file, String(obj(bad.data)['netspectra.yaml']));
      assert.throws(() => loadConfig({ file, env: {} }), /kindd/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Every pod carries the config's checksum: the same for all, another one for another config.
    const checksums = (os: Obj[]) => new Set(os.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet').map((o) => String(obj(obj(obj(obj(o.spec).template).metadata).annotations)['checksum/config'])));
    const now = checksums(objects);
    assert.equal(now.size, 1, 'one checksum for every pod');
    assert.match([...now][0], /^[0-9a-f]{64}$/);
    const changed = checksums(helmTemplate({ ...SECRETS, config: { window: '20s' } }).objects);
    assert.equal(changed.size, 1);
    assert.notDeepEqual([...changed], [...now], 'a changed config changes the pods\' checksum');
  });

  test('options: the AI service, an existing Secret, no probe; tokens are required', () => {
    const ai = helmTemplate({ ...SECRETS, ai: { enabled: true } }).objects;
    const aiPod = named(ai, 'Deployment', 'netspectra-ai');
    named(ai, 'Service', 'netspectra-ai');
    const [ac] = containers(aiPod);
    const aiCm = obj(yaml(String(obj(named(ai, 'ConfigMap', 'netspectra-config').data)['netspectra.yaml'])));
    assert.equal(list(ac.ports).map(obj)[0].containerPort, obj(aiCm.ai).port, 'the AI port is config.ai.port');
    assert.equal(list(ac.env).map(obj).find((e) => e.name === 'NETSPECTRA_API_URL')?.value, 'http://netspectra-api:7070', 'the AI service asks the API\'s Service');

    const ext = helmTemplate({ secrets: { existingSecret: 'mine' }, probe: { enabled: false } }).objects;
    assert.ok(!ext.some((o) => o.kind === 'Secret' || o.kind === 'DaemonSet'));
    const refs = ext.flatMap((o) => containers(o).flatMap((c) => list(c.env).map((e) => obj(obj(obj(e).valueFrom).secretKeyRef).name).filter(Boolean)));
    assert.ok(refs.length > 0 && refs.every((n) => n === 'mine'));

    const none = helmTemplateRun();
    assert.notEqual(none.status, 0, 'rendered without secrets.apiTokens');
    assert.match(none.stderr, /secrets\.apiTokens is required/);
  });

  test('the README\'s install command renders: its image, interface, secrets and namespace; the scale command names the engines', () => {
    const install = readmeInstall();
    const r = runTool(helmBin(), ['template', ...install.args]);
    assert.equal(r.status, 0, `helm template ${install.args.join(' ')}: ${r.stderr}`);
    const objects = manifests(r.stdout);
    const repo = install.values['image.repository'];
    assert.ok(repo && repo !== obj(chartValues().image).repository, 'the README sets the image repository');
    for (const o of objects) for (const c of containers(o)) assert.equal(c.image, `${repo}:${pkg.version}`, `${o.__file}: the README's image`);
    const [pc] = containers(named(objects, 'DaemonSet', 'netspectra-probe'));
    assert.deepEqual(list(pc.args).slice(-2), ['--iface', install.values['probe.interface']]);
    const secret = obj(named(objects, 'Secret', 'netspectra-secrets').stringData);
    assert.match(String(secret['api-tokens']), /^[0-9a-f]{64}$/, 'the token openssl made');
    assert.equal(secret['clickhouse-password'], install.env.CLICKHOUSE_PASSWORD);
    const hosts = String(list(containers(named(objects, 'Deployment', 'netspectra-api'))[0].env).map(obj).find((e) => e.name === 'NETSPECTRA_API_ALLOWED_HOSTS')?.value);
    assert.ok(hosts.split(',').includes(`netspectra-api.${install.namespace}.svc`), hosts);
    // kubectl -n <ns> scale deployment <name>: the engines' Deployment, in the same namespace.
    assert.equal(install.scale.namespace, install.namespace);
    assert.equal(named(objects, 'Deployment', install.scale.deployment).kind, 'Deployment');
    assert.ok(containers(named(objects, 'Deployment', install.scale.deployment)).some((c) => list(c.args)[0] === 'engine'), 'the scaled Deployment runs engines');
  });

  test('the NOTES name the API Service and its port', () => {
    const r = runTool(helmBin(), ['install', RELEASE, chartDir, '-n', NAMESPACE, '--dry-run=client', '-o', 'json', ...setJson(SECRETS)]);
    assert.equal(r.status, 0, r.stderr);
    const release = JSON.parse(r.stdout) as { info: { notes: string }; manifest: string };
    const port = obj(obj(chartValues().api).service).port;
    assert.ok(release.info.notes.includes(`kubectl port-forward service/netspectra-api ${port}`), release.info.notes);
    assert.ok(release.info.notes.includes(`http://netspectra-api.${NAMESPACE}:${port}/grafana`), release.info.notes);
    assert.deepEqual(manifests(release.manifest).map((o) => o.kind).sort(), helmTemplate().objects.map((o) => o.kind).sort());
  });

  test('the rendered objects pass Kubernetes\' schemas (kubernetes-validate --strict, 1.25 and 1.37), and a wrong field does not', () => {
    const cases: [string, string][] = [
      ['default values', helmTemplate().text],
      ['the AI service', helmTemplate({ ...SECRETS, ai: { enabled: true } }).text],
      ['an existing Secret, no probe', helmTemplate({ secrets: { existingSecret: 'mine' }, probe: { enabled: false } }).text],
    ];
    for (const [where, text] of cases) validateManifests(where, text, ['1.25.0', '1.37.0']);
    // The validator does reject: a misspelt field, and a string where a number belongs.
    const text = helmTemplate().text;
    for (const bad of [text.replace('hostNetwork: true', 'hostNetwrk: true'), text.replace('terminationGracePeriodSeconds: 90', 'terminationGracePeriodSeconds: "90s"')]) {
      assert.notEqual(bad, text);
      assert.throws(() => validateManifests('a broken manifest', bad, ['1.37.0']), /did not validate/);
    }
  });
});

interface ReadmeInstall { args: string[]; set: string[]; values: Record<string, string>; env: Record<string, string>; namespace: string; scale: { namespace: string; deployment: string } }

/** deployments/README.md's `helm install` command (continuation lines joined, its shell
 * expansions done by bash: `$(openssl rand -hex 32)`, `$CLICKHOUSE_PASSWORD`), as arguments
 * for `helm template`, and its `kubectl scale` line. */
function readmeInstall(): ReadmeInstall {
  const text = read(join(deployments, 'README.md')).replace(/\\\n\s*/g, ' ');
  const line = /^helm install (.+)$/m.exec(text);
  assert.ok(line, 'deployments/README.md has a `helm install` command');
  const env = { CLICKHOUSE_PASSWORD: 'clickhouse-secret' };
  // bash does the README's quoting and expansions, and prints one argument per line.
  const sh = spawnSync('bash', ['-c', `printf '%s\\n' ${line[1]}`], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  assert.equal(sh.status, 0, sh.stderr);
  const words = sh.stdout.replace(/\n$/, '').split('\n');
  assert.equal(words[1], 'deployments/helm/netspectra', 'the README installs the chart of this repository');
  const args = words.map((w) => (w === 'deployments/helm/netspectra' ? chartDir : w));
  const set = args.flatMap((w, i) => (args[i - 1] === '--set' ? ['--set', w] : []));
  const values = Object.fromEntries(set.filter((w) => w !== '--set').map((w) => w.split(/=(.*)/s).slice(0, 2)));
  const ns = args[args.indexOf('-n') + 1];
  const scale = /^kubectl -n (\S+) scale deployment (\S+) --replicas=\d+$/m.exec(text);
  assert.ok(scale, 'deployments/README.md has a `kubectl scale` command for the engines');
  return { args, set, values, env, namespace: ns, scale: { namespace: scale[1], deployment: scale[2] } };
}

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
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'buf.gen.yaml', 'proto', 'ts', 'scripts/debian-rust.mjs', 'scripts/build-wasm.mjs']) {
      assert.ok(covered(f), `${f} is copied into the build`);
    }
    for (const f of pkg.files) assert.ok(covered(f), `the package's ${f} reaches the runtime`);
    // The embedded store is an optional dependency the build can leave out (WITH_EMBEDDED_STORE).
    assert.ok(pkg.optionalDependencies?.chdb && !pkg.dependencies.chdb, 'chdb is an optional dependency');
    const prune = at(build).find((i) => i.op === 'RUN' && i.args.includes('npm prune'))!.args;
    assert.match(prune, /WITH_EMBEDDED_STORE" = true \]; then npm prune --omit=dev [^;]*; *else npm prune --omit=dev --omit=optional/);
    assert.ok(at(build).some((i) => i.op === 'ARG' && /^WITH_EMBEDDED_STORE=/.test(i.args)), 'the build argument is declared');
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
    // The API's tokens as compose sets them (env.example as the env file), the header as
    // Grafana's datasource sends it: its secureJsonData, with Grafana's expansion of $VAR and
    // ${VAR} from the environment compose gives the grafana service.
    const services = composeServices();
    tokens = serviceEnv(services.api).NETSPECTRA_API_TOKENS.split(',');
    const grafanaEnv = serviceEnv(services.grafana);
    const ds = datasource();
    assert.equal(obj(ds.jsonData).httpHeaderName1, 'Authorization');
    header = String(obj(ds.secureJsonData).httpHeaderValue1).replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => grafanaEnv[(a ?? b)!] ?? m);
    assert.doesNotMatch(header, /\$/, 'every variable of the header is in Grafana\'s environment');
    const url = new URL(String(ds.url));
    path = url.pathname.replace(/\/$/, '');
    dashboard = JSON.parse(read(join(deployments, 'grafana', 'dashboards', 'netspectra.json')));
    // The tasks and window a deployed engine runs (the chart's ConfigMap), stored embedded here.
    dir = mkdtempSync(join(tmpdir(), 'netspectra-grafana-'));
    const cm = named(helmTemplate().objects, 'ConfigMap', 'netspectra-config');
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
    const services = composeServices();
    const api = obj(services[url.hostname]);
    assert.deepEqual(list(api.command).slice(0, 1), ['serve'], `${url.hostname} runs the API`);
    assert.equal(Number(url.port), loadConfig({ env: serviceEnv(api) }).api.port);
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
    const mount = list(services.grafana.volumes).map(obj).find((v) => v.type === 'bind' && v.source === join(deployments, 'grafana', 'dashboards'));
    assert.equal(mount?.target, obj(provider.options).path, 'the dashboards provider reads the mounted folder');
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
