#!/usr/bin/env node
// The netspectra command line. Each command's modules are loaded when it runs: `--help` loads
// nothing but the usage text.
import { parseArgs } from 'node:util';
import { USAGE, UsageError } from './usage.js';

export async function main(argv: string[]): Promise<number> {
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
        notify: { type: 'boolean' },
        packets: { type: 'string' },
        seed: { type: 'string' },
        iface: { type: 'string' },
        read: { type: 'string' },
        bpf: { type: 'string' },
        snaplen: { type: 'string' },
        nats: { type: 'string' },
        jetstream: { type: 'boolean' },
        partitions: { type: 'string' },
        persist: { type: 'string' },
        engine: { type: 'boolean' },
        output: { type: 'string' },
        threads: { type: 'string' },
        store: { type: 'string' },
        data: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        task: { type: 'string' },
        start: { type: 'string' },
        end: { type: 'string' },
        ip: { type: 'string' },
        'src-ip': { type: 'string' },
        rule: { type: 'string' },
        state: { type: 'string' },
        severity: { type: 'string' },
        'dst-ip': { type: 'string' },
        'src-port': { type: 'string' },
        'dst-port': { type: 'string' },
        protocol: { type: 'string' },
        'group-by': { type: 'string' },
        'order-by': { type: 'string' },
        asc: { type: 'boolean' },
        limit: { type: 'string' },
        'page-token': { type: 'string' },
        'community-id': { type: 'string' },
        serve: { type: 'boolean' },
        insecure: { type: 'boolean' },
        direction: { type: 'string' },
        source: { type: 'string' },
        live: { type: 'boolean' },
        by: { type: 'string' },
        both: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    }
    const common = await import('./common.js');
    const withConfig = (v: Record<string, string | boolean | undefined>) => common.config(v, true);
    switch (command) {
      case 'analyze':
        return await (await import('./analyze.js')).analyze(positionals, values);
      case 'generate':
        return (await import('./analyze.js')).generate(positionals[0], values);
      case 'demo':
        return await (await import('./analyze.js')).demo(values);
      case 'serve':
        return await (await import('./serve.js')).serveCommand(withConfig(values), common.log, common.interrupted());
      case 'query':
        return await (await import('./query.js')).queryCommand(positionals[0], values, common.config({ config: values.config }));
      case 'ai':
        return await (await import('./ai.js')).aiCommand(values, common.log, common.interrupted());
      case 'ask':
        return await (await import('./ai.js')).askCommand(positionals, values, common.config({ config: values.config }));
      case 'probe':
        return await (await import('./live.js')).probe(positionals, values);
      case 'engine':
        return await (await import('./live.js')).engineCommand(values);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'ConfigError') {
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

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Long-running commands leave NATS sockets and timers behind once they are done.
if (['probe', 'engine', 'serve', 'analyze', 'demo'].includes(process.argv[2])) process.exit(code);
