// Loads the configuration once: defaults <- YAML file <- NETSPECTRA_* environment <- flags.
// Every problem is reported together, each with its key path.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { configSchema, taskFields, type NetspectraConfig } from './netspectra.js';
import { ConfigError, defaults, envPaths, parseBytes, validate, type Schema } from './schema.js';

export { ConfigError } from './schema.js';
export { configSchema, KEY_FIELDS, type CountMinTaskConfig, type EngineConfig, type ExactTaskConfig, type NatsConfig, type ProbeConfig, type StorageConfig, type ApiConfig, type AlertsConfig, type AlertRuleConfig, type NotifierConfig, type WebhookNotifierConfig, type EmailNotifierConfig, type AiConfig, type FlowsConfig, type ConsoleConfig, type AlertMetric, type AlertOp, ALERT_METRICS, ALERT_OPS, type KeyField, type KeyFieldSpec, keyFieldName, taskFields, type NetspectraConfig, type SuperSpreadTaskConfig, type TaskConfig } from './netspectra.js';

export function defaultConfig(): NetspectraConfig {
  return defaults(configSchema) as NetspectraConfig;
}

/** Parses YAML text into a raw document; errors name the source and line. */
export function parseConfigText(text: string, source: string): unknown {
  // Loaded on first use: most runs have no config file, and the parser costs start-up time.
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  try {
    return yaml.parse(text) ?? {};
  } catch (e) {
    if (e instanceof yaml.YAMLParseError) {
      const pos = e.linePos?.[0];
      // The parser's first line ends "at line L, column C:" before an excerpt of the text: the
      // position goes first, the excerpt below.
      const [head, ...excerpt] = e.message.split('\n');
      const what = head.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
      const shown = excerpt.filter((l) => l.trim()).map((l) => `      ${l}`).join('\n');
      throw new ConfigError([`${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${what}${shown ? `\n${shown}` : ''}`], source);
    }
    throw e;
  }
}

function envValue(s: Schema, raw: string): unknown {
  switch (s.kind) {
    case 'int':
    case 'powerOfTwo':
      return /^-?\d+$/.test(raw) ? Number(raw) : raw;
    case 'float':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'bytes':
      return parseBytes(raw) ?? raw;
    case 'bool':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    default:
      return raw;
  }
}

function setPath(doc: Record<string, unknown>, path: string[], value: unknown): void {
  let node = doc;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

export interface LoadOptions {
  /** A YAML file; without one the defaults apply. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted key -> value overrides from flags, applied last. */
  overrides?: Record<string, unknown>;
  /** Dotted key -> what set it (a flag such as --window), named in its problems. */
  overrideNames?: Record<string, string>;
  /** Checks of the whole configuration by the components that own a section (the alert rules:
   * ts/alert's `rulesProblems`), run once the schema holds, their problems reported with it. */
  checks?: ((cfg: NetspectraConfig) => string[])[];
}

/** Each problem ("key: message") with what set the key: a flag or an environment variable. */
function attributed(problems: string[], origins: Map<string, string>): string[] {
  if (!origins.size) return problems;
  return problems.map((p) => {
    const key = p.slice(0, p.indexOf(':'));
    let best = '';
    for (const k of origins.keys()) if ((key === k || key.startsWith(`${k}.`) || key.startsWith(`${k}[`)) && k.length > best.length) best = k;
    return best ? `${p} (set by ${origins.get(best)})` : p;
  });
}

export function loadConfig(opts: LoadOptions = {}): NetspectraConfig {
  let source = 'configuration';
  let doc: unknown = {};
  if (opts.file) {
    source = opts.file;
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError([`cannot read the file: ${(e as Error).message}`], source);
    }
    doc = parseConfigText(text, source);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(['(root): expected a mapping of keys'], source);
  }
  const raw = structuredClone(doc) as Record<string, unknown>;
  const origins = new Map<string, string>();
  for (const { env, path, schema } of envPaths(configSchema)) {
    const v = (opts.env ?? process.env)[env];
    if (v !== undefined && v !== '') {
      setPath(raw, path, envValue(schema, v));
      origins.set(path.join('.'), `${env}=${v}`);
    }
  }
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(raw, key.split('.'), value);
    const name = opts.overrideNames?.[key];
    if (name) origins.set(key, name);
  }
  const problems: string[] = [];
  const cfg = validate(configSchema, raw, '', problems) as NetspectraConfig;
  const names = new Set<string>();
  cfg.tasks?.forEach((t, i) => {
    if (!t) return;
    if (names.has(t.name)) problems.push(`tasks[${i}].name: "${t.name}" is used by an earlier task`);
    names.add(t.name);
    // Fields looked up in a database or the local networks: without them every key would be
    // the same unknown value.
    const fields = taskFields(t);
    for (const [field, needs, have] of [
      ['SrcAS', 'flows.asnDatabase (an MMDB file of autonomous systems)', cfg.flows?.asnDatabase],
      ['DstAS', 'flows.asnDatabase (an MMDB file of autonomous systems)', cfg.flows?.asnDatabase],
      ['SrcCountry', 'flows.countryDatabase (an MMDB file of countries)', cfg.flows?.countryDatabase],
      ['DstCountry', 'flows.countryDatabase (an MMDB file of countries)', cfg.flows?.countryDatabase],
      ['Direction', 'flows.localNetworks (the networks that are yours)', cfg.flows?.localNetworks?.length],
      ['App', 'flow records with names (flows.enabled and flows.names)', cfg.flows?.enabled && cfg.flows.names],
      ['ServerName', 'flow records with names (flows.enabled and flows.names)', cfg.flows?.enabled && cfg.flows.names],
    ] as const) {
      if (fields.includes(field) && !have) problems.push(`tasks[${i}]: the key field ${field} needs ${needs}`);
    }
  });
  // Every problem at once: the checks run on what the schema could read, even beside its problems.
  for (const check of opts.checks ?? []) {
    try {
      problems.push(...check(cfg));
    } catch {
      // A section the schema refused can leave a check nothing to read: its problem is listed.
    }
  }
  if (problems.length) throw new ConfigError(attributed(problems, origins), source);
  cfg.seed = BigInt(cfg.seed).toString();
  if (BigInt(cfg.seed) >= 1n << 64n) throw new ConfigError([`seed: ${cfg.seed} does not fit in 64 bits`], source);
  return cfg;
}
