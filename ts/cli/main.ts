#!/usr/bin/env node
// The netspectra command line. Each command's modules are loaded when it runs: `--help` loads
// nothing but the usage text.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { COMMANDS, commandOptions, commandUsage, USAGE, UsageError } from './usage.js';

/** Usage and configuration errors (exit-codes.ts's `usage`, not imported: --help loads nothing). */
const EXIT_USAGE = 2;

/** The package's version, read when asked for. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `netspectra ${pkg.version}`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(USAGE + '\n');
    return EXIT_USAGE;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(version() + '\n');
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    const about = rest[0];
    if (about === undefined) process.stdout.write(USAGE + '\n');
    else if (about in COMMANDS) process.stdout.write(commandUsage(about) + '\n');
    else return usageError(`help: unknown command "${about}"`);
    return 0;
  }
  if (!(command in COMMANDS)) return usageError(`unknown command "${command}"`);
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, allowPositionals: true, strict: true, options: commandOptions(command) });
    } catch (e) {
      // Node's message names the flag; ours names the command and where its flags are listed.
      const m = (e as Error).message.split('. ')[0];
      return usageError(`${command}: ${m.replace(/^Unknown option/, 'unknown option')}`, command);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    const { positionals } = parsed;
    if (values.help) {
      process.stdout.write(commandUsage(command) + '\n');
      return 0;
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
      case 'extract':
        return await (await import('./extract.js')).extractCommand(positionals, values);
      default:
        return await (await import('./live.js')).engineCommand(values);
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'ConfigError') {
      process.stderr.write(`netspectra: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) return usageError(`${command}: ${e.message}`, command);
    process.stderr.write(`netspectra: ${(e as Error).message}\n`);
    return 1;
  }
}

/** A usage error on stderr, with where to read the usage; exit status 2. */
function usageError(message: string, command?: string): number {
  process.stderr.write(`netspectra: ${message}\n(netspectra ${command ? `${command} ` : ''}--help shows the usage)\n`);
  return EXIT_USAGE;
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Long-running commands leave NATS sockets and timers behind once they are done; what is still
// queued for a pipe (a report piped to jq) is written out first.
if (['probe', 'engine', 'serve', 'analyze', 'demo'].includes(process.argv[2])) {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
