// What every command shares: the configuration from flags, the log, usage errors, interrupts.
import { rulesProblems } from '../alert/rules.js';
import { clusterProblems } from '../cluster/run.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { UsageError } from './usage.js';

export { UsageError };

export function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

export type Values = Record<string, string | boolean | undefined>;

export function config(values: Values, live = false, extra: Record<string, unknown> = {}): NetspectraConfig {
  const overrides: Record<string, unknown> = { ...extra };
  const names: Record<string, string> = {};
  const str = (flag: string, key: string) => {
    if (typeof values[flag] !== 'string') return;
    overrides[key] = values[flag];
    names[key] = `--${flag} ${values[flag]}`;
  };
  const int = (flag: string, key: string) => {
    if (typeof values[flag] !== 'string') return;
    overrides[key] = positiveInt(`--${flag}`, values[flag] as string, 1);
    names[key] = `--${flag} ${values[flag]}`;
  };
  int('top', 'analyze.top');
  str('window', live ? 'window' : 'analyze.window');
  str('nats', 'nats.url');
  if (values.jetstream) overrides['nats.jetstream'] = true;
  str('iface', 'probe.interface');
  str('bpf', live ? 'probe.bpf' : 'analyze.bpf');
  int('snaplen', 'probe.snaplen');
  int('partitions', 'probe.partitions');
  str('persist', 'probe.persist.dir');
  str('output', 'engine.output');
  int('threads', live ? 'engine.threads' : 'analyze.threads');
  str('store', 'storage.kind');
  str('data', 'storage.path');
  str('host', 'api.host');
  if (typeof values.port === 'string') {
    overrides['api.port'] = /^\d+$/.test(values.port) ? Number(values.port) : values.port;
    names['api.port'] = `--port ${values.port}`;
  }
  if (values.insecure) overrides['api.insecure'] = true;
  return loadConfig({ file: values.config as string | undefined, overrides, overrideNames: names, checks: [rulesProblems, clusterProblems] });
}

export const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

/** Resolves on the first SIGINT or SIGTERM. */
export function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
