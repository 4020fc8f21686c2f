// `netspectra extract`: packets back out of capture files, as a new capture.
import { createWriteStream, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { loadBackend } from '../backend/index.js';
import { captureFiles, DEFAULT_MAX_BYTES, extractPackets, reindex, selectionOf, type ExtractOptions } from '../extract/index.js';
import { bytes, grouped } from '../report/units.js';
import { EXIT } from './exit-codes.js';
import { UsageError } from './usage.js';

type Values = Record<string, string | boolean | undefined>;

/** The selection the flags ask for (usage errors name the flag). */
export function extractOptions(values: Values): ExtractOptions {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  try {
    return selectionOf({
      flow: str('flow'), communityId: str('community-id'), ip: str('ip'), bpf: str('bpf'), start: str('start'), end: str('end'), format: str('format'), maxSize: str('max-size'),
    }, (k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--reindex`: the missing indexes of the folders' pcap files, built now. */
async function reindexCommand(positionals: string[]): Promise<number> {
  if (!positionals.length) throw new UsageError('name the folders (or files) to index');
  const backend = loadBackend();
  let run;
  try {
    run = await reindex(backend, positionals);
  } catch (e) {
    process.stderr.write(`netspectra: extract: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
  process.stderr.write(`extract: ${grouped(run.indexed.length)} file(s) indexed, ${grouped(run.current)} already indexed, ${grouped(run.skipped.length)} left without an index\n`);
  for (const s of run.skipped) process.stderr.write(`extract: ${s.file}: ${s.why}\n`);
  return EXIT.ok;
}

export async function extractCommand(positionals: string[], values: Values): Promise<number> {
  if (values.reindex) return reindexCommand(positionals);
  const target = typeof values.write === 'string' ? values.write : undefined;
  if (!target) throw new UsageError('say where the packets go: -w FILE (- for standard output)');
  if (!positionals.length) throw new UsageError('name the capture files or folders to read');
  const options = extractOptions(values);
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
  // The reader went away (wireshark closed: EPIPE) or the file cannot be written: stop reading.
  const stop = new AbortController();
  let outError: Error | null = null;
  out.on('error', (e: Error) => {
    outError ??= e;
    stop.abort();
  });
  const write = async (chunk: Uint8Array) => {
    if (outError) return;
    if (!out.write(chunk)) await Promise.race([once(out, 'drain').catch(() => {}), new Promise((r) => stop.signal.addEventListener('abort', r, { once: true }))]);
  };
  let code: number = EXIT.ok;
  try {
    const run = await extractPackets(backend, files, options, write, { growing, useIndex: !values['no-index'], signal: stop.signal });
    if (outError) throw new Error(`${target === '-' ? 'standard output' : target}: ${(outError as Error).message}`);
    const s = run.stats;
    process.stderr.write(
      `extract: ${grouped(s.framesWritten)} of ${grouped(s.framesRead)} packets from ${run.files.length} file(s), ${bytes(s.bytesWritten)} written to ${target === '-' ? 'standard output' : target}\n`,
    );
    if (run.skippedByIndex || run.readByIndex) {
      process.stderr.write(`extract: by their indexes, ${grouped(run.skippedByIndex)} file(s) not read and ${grouped(run.readByIndex)} read only where the selection is\n`);
    }
    for (const u of run.unusableIndexes) process.stderr.write(`extract: ${u.file} read whole: ${u.why} (extract --reindex rebuilds it)\n`);
    for (const f of run.cutShort) process.stderr.write(`extract: ${f} ends inside a packet (being written, or cut by a crash): its whole packets were read\n`);
    if (s.otherLinkType) process.stderr.write(`extract: ${grouped(s.otherLinkType)} selected packet(s) of another link type than the pcap's first were left out (--format pcapng keeps them)\n`);
    if (s.limitReached) {
      process.stderr.write(`extract: stopped at the size limit (--max-size ${bytes(options.maxBytes ?? DEFAULT_MAX_BYTES)}): later packets are not in the output; narrow the selection or raise the limit\n`);
      code = EXIT.failed;
    }
  } catch (e) {
    process.stderr.write(`netspectra: extract: ${(e as Error).message}\n`);
    code = EXIT.failed;
  } finally {
    if (out !== process.stdout && !outError) {
      (out as WriteStream).end();
      await once(out, 'close');
    }
  }
  return code;
}
