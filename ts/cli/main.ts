#!/usr/bin/env node
// The netspectra command line.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend, loadFailures, type Backend } from '../backend/index.js';
import { ConfigError, loadConfig, type NetspectraConfig } from '../config/index.js';
import { writeSyntheticCapture } from '../generate/write-capture.js';
import { formatText } from '../report/format-text.js';
import { bytes, grouped } from '../report/units.js';

const USAGE = `usage: netspectra <command> [options]

commands:
  analyze <file...>   analyse pcap/pcapng files and print a report
      --json            print the report as JSON
      --top N           rows in each top-N section (config analyze.top)
      --window DURATION windows of this length (e.g. 10s) instead of one for the capture
      --config FILE     YAML configuration (see configs/netspectra.yaml)
      --print-config    print the effective configuration and exit
  generate <file>     write a synthetic capture made by NetSpectra's traffic generator
      --packets N       packets to write (default 200000)
      --seed N          generator seed (default 1)
  demo                generate a synthetic capture and analyse it
      --packets N       packets in the capture (default 200000)
      --json            print the report as JSON

environment: NETSPECTRA_BACKEND forces a backend; NETSPECTRA_<KEY> overrides a config key
(for example NETSPECTRA_ANALYZE_TOP=20).`;

class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

function config(values: { config?: string; top?: string; window?: string }): NetspectraConfig {
  const overrides: Record<string, unknown> = {};
  if (values.top !== undefined) overrides['analyze.top'] = positiveInt('--top', values.top, 10);
  if (values.window !== undefined) overrides['analyze.window'] = values.window;
  return loadConfig({ file: values.config, overrides });
}

/** The engine backend; says on stderr why a faster one was passed over. */
function engine(): Backend {
  const backend = loadBackend();
  for (const [name, why] of Object.entries(loadFailures)) {
    process.stderr.write(`netspectra: using the ${backend.name} backend; ${name} did not load: ${why}\n`);
  }
  return backend;
}

function analyze(files: string[], values: { json?: boolean; top?: string; window?: string; config?: string; 'print-config'?: boolean }): number {
  const cfg = config(values);
  if (values['print-config']) {
    process.stdout.write(JSON.stringify(cfg, null, 2) + '\n');
    return 0;
  }
  if (files.length === 0) throw new UsageError('analyze needs at least one capture file');
  const backend = engine();
  const { report, outcomes } = analyzeFiles(files, { backend, config: cfg, progress: !values.json });
  for (const o of outcomes) {
    if (o.error) process.stderr.write(`netspectra: ${o.file}: ${o.error}${o.unreadable ? '' : ' (packets before this point were analysed)'}\n`);
  }
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatText(report));
  return outcomes.some((o) => o.unreadable) ? 1 : 0;
}

function generate(file: string | undefined, values: { packets?: string; seed?: string }): number {
  if (!file) throw new UsageError('generate needs an output file');
  const packets = positiveInt('--packets', values.packets, 200_000);
  const n = writeSyntheticCapture(loadBackend(), file, { packets, seed: positiveInt('--seed', values.seed, 1) });
  process.stderr.write(`wrote ${file}: ${grouped(packets)} packets, ${bytes(n)}\n`);
  return 0;
}

function demo(values: { packets?: string; json?: boolean; config?: string }): number {
  const file = join('.netspectra', 'demo.pcap');
  const packets = positiveInt('--packets', values.packets, 200_000);
  const cfg = config(values);
  const backend = engine();
  const size = writeSyntheticCapture(backend, file, { packets, seed: 1 });
  process.stderr.write(`generated ${file}: ${grouped(packets)} packets, ${bytes(size)} (synthetic traffic: TCP/UDP/ICMP over IPv4 and IPv6, a scan, a heavy flow)\n`);
  const { report } = analyzeFiles([file], { backend, config: cfg, progress: !values.json });
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatText(report));
  return 0;
}

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        top: { type: 'string' },
        window: { type: 'string' },
        config: { type: 'string' },
        'print-config': { type: 'boolean' },
        packets: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    }
    switch (command) {
      case 'analyze':
        return analyze(positionals, values);
      case 'generate':
        return generate(positionals[0], values);
      case 'demo':
        return demo(values);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`netspectra: ${e.message}\n`);
      return 2;
    }
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`netspectra: ${(e as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`netspectra: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
