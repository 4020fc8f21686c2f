// `netspectra extract`: packets back out of capture files, as a new capture.
import { createWriteStream, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { loadBackend } from '../backend/index.js';
import { parseBytes } from '../config/schema.js';
import { captureFiles, extractPackets, parseFlow, type ExtractOptions } from '../extract/index.js';
import { bytes, grouped } from '../report/units.js';
import { EXIT } from './exit-codes.js';
import { UsageError } from './usage.js';

type Values = Record<string, string | boolean | undefined>;

const DEFAULT_MAX = 1024 ** 3;

/** Epoch nanoseconds (decimal text) of an RFC 3339 time or epoch milliseconds. */
function nsOf(v: string | boolean | undefined, flag: string): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return (BigInt(v) * 1_000_000n).toString();
  // Date keeps milliseconds: the fraction past them is added back.
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(v);
  const ms = Date.parse(m ? `${m[1]}${m[3]}` : v);
  if (Number.isNaN(ms)) throw new UsageError(`--${flag}: "${v}" is not an RFC 3339 time or epoch milliseconds`);
  const fraction = m?.[2] ? BigInt(m[2].padEnd(9, '0').slice(0, 9)) : 0n;
  return (BigInt(ms) * 1_000_000n + fraction).toString();
}

/** The selection the flags ask for (usage errors name the flag). */
export function extractOptions(values: Values): ExtractOptions {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const o: ExtractOptions = {};
  const flow = str('flow');
  if (flow !== undefined) {
    try {
      Object.assign(o, parseFlow(flow));
    } catch (e) {
      throw new UsageError(`--flow: ${(e as Error).message}`);
    }
  }
  if (str('community-id') !== undefined) o.communityId = str('community-id');
  if (str('ip') !== undefined) o.networks = str('ip')!.split(',').map((n) => n.trim()).filter(Boolean);
  if (str('bpf') !== undefined) o.bpf = str('bpf');
  o.fromNs = nsOf(values.start, 'start');
  o.toNs = nsOf(values.end, 'end');
  const format = str('format');
  if (format !== undefined && format !== 'pcapng' && format !== 'pcap') throw new UsageError(`--format: "${format}" is not pcapng or pcap`);
  o.format = format;
  const max = str('max-size');
  const n = max === undefined ? DEFAULT_MAX : parseBytes(max);
  if (n === null || n <= 0) throw new UsageError(`--max-size: "${max}" is not a size such as 100MiB or 1GiB`);
  o.maxBytes = n;
  return o;
}

export async function extractCommand(positionals: string[], values: Values): Promise<number> {
  const target = typeof values.write === 'string' ? values.write : undefined;
  if (!target) throw new UsageError('say where the packets go: -w FILE (- for standard output)');
  if (!positionals.length) throw new UsageError('name the capture files or folders to read');
  const options = extractOptions(values);
  if (!options.aIp && !options.communityId && !options.networks?.length && !options.bpf && !options.fromNs && !options.toNs) {
    throw new UsageError('select something: --flow, --community-id, --ip, --bpf, --start or --end');
  }
  let files: string[];
  try {
    files = captureFiles(positionals);
  } catch (e) {
    process.stderr.write(`netspectra: extract: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
  const growing = positionals.some((p) => statSync(p).isDirectory());
  const backend = loadBackend();
  if (!backend.createPacketExtractor) {
    process.stderr.write(`netspectra: extract: extracting packets needs the native backend (this is the ${backend.name} backend)\n`);
    return EXIT.failed;
  }
  // Checked before the output file is made: a bad selection leaves nothing behind.
  try {
    backend.createPacketExtractor(options);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const out: WriteStream | NodeJS.WriteStream = target === '-' ? process.stdout : createWriteStream(target);
  const write = async (chunk: Uint8Array) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  let code: number = EXIT.ok;
  try {
    const run = await extractPackets(backend, files, options, write, { growing });
    const s = run.stats;
    process.stderr.write(
      `extract: ${grouped(s.framesWritten)} of ${grouped(s.framesRead)} packets from ${run.files.length} file(s), ${bytes(s.bytesWritten)} written to ${target === '-' ? 'standard output' : target}\n`,
    );
    for (const f of run.cutShort) process.stderr.write(`extract: ${f} ends inside a packet (being written, or cut by a crash): its whole packets were read\n`);
    if (s.otherLinkType) process.stderr.write(`extract: ${grouped(s.otherLinkType)} selected packet(s) of another link type than the pcap's first were left out (--format pcapng keeps them)\n`);
    if (s.limitReached) {
      process.stderr.write(`extract: stopped at the size limit (--max-size ${bytes(options.maxBytes ?? DEFAULT_MAX)}): later packets are not in the output; narrow the selection or raise the limit\n`);
      code = EXIT.failed;
    }
  } catch (e) {
    process.stderr.write(`netspectra: extract: ${(e as Error).message}\n`);
    code = EXIT.failed;
  } finally {
    if (out !== process.stdout) {
      (out as WriteStream).end();
      await once(out, 'close');
    }
  }
  return code;
}
