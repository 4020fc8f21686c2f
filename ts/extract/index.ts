// Packets back: the frames of a flow, of addresses, of a time range or a BPF filter, cut out of
// capture files (offline captures, or the folder `probe --persist` writes) by the core
// (crates/core/src/extract/) and written as one pcapng or pcap, streaming; the indexes beside
// persisted pcap files let it read only what a selection needs.
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backend/index.js';
import type { ExtractOptions, ExtractStats, IndexCandidates } from '../backend/types.js';
import { parseBytes } from '../config/schema.js';
import { ipProtoOf } from '../shared/index.js';

export type { ExtractOptions, ExtractStats };

const CAPTURE_FILE = /\.(pcap|pcapng|cap)$/i;
const CHUNK = 1 << 20;

/** The capture files of the paths given: files as they are, folders as the capture files in
 * them, oldest first (by modification time: a rotating writer's order). */
export function captureFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new Error(`${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}`);
    }
    if (!st.isDirectory()) {
      out.push(p);
      continue;
    }
    const files = readdirSync(p)
      .filter((f) => CAPTURE_FILE.test(f))
      .map((f) => ({ path: join(p, f), mtime: statSync(join(p, f)).mtimeMs }))
      .sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path));
    if (!files.length) throw new Error(`${p}: no capture files (.pcap, .pcapng, .cap) in this folder`);
    out.push(...files.map((f) => f.path));
  }
  return out;
}

/** A flow as people copy it from a report: "10.0.0.1:5000 10.0.0.2:53 udp" (IPv6 in brackets,
 * "[2001:db8::1]:443"; no ports for protocols without them: "10.0.0.1 10.0.0.2 icmp"). */
export function parseFlow(text: string): Pick<ExtractOptions, 'aIp' | 'aPort' | 'bIp' | 'bPort' | 'protocol'> {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 3) throw new Error(`flow "${text}": write it as "ADDR[:PORT] ADDR[:PORT] PROTOCOL", e.g. "10.0.0.1:5000 10.0.0.2:53 udp"`);
  const endpoint = (t: string) => {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+)(?::(\d+))?$/.exec(t) ?? /^([0-9a-fA-F:]+)$/.exec(t);
    if (!m) throw new Error(`flow "${text}": "${t}" is not ADDR or ADDR:PORT ([ADDR]:PORT for IPv6)`);
    return { ip: m[1], port: m[2] === undefined ? undefined : Number(m[2]) };
  };
  const [a, b] = [endpoint(parts[0]), endpoint(parts[1])];
  const protocol = ipProtoOf(parts[2]);
  if (protocol === undefined) throw new Error(`flow "${text}": "${parts[2]}" is not a protocol name or number`);
  return { aIp: a.ip, aPort: a.port, bIp: b.ip, bPort: b.port, protocol };
}

/** The output size limit when none is given. */
export const DEFAULT_MAX_BYTES = 1024 ** 3;

/** A selection as text, from flags or a query string. */
export interface SelectionText {
  /** "A[:PORT] B[:PORT] PROTO" (the CLI), or the fields below (the API). */
  flow?: string;
  srcIp?: string;
  srcPort?: string;
  dstIp?: string;
  dstPort?: string;
  protocol?: string;
  communityId?: string;
  /** Addresses or networks, comma-separated. */
  ip?: string;
  bpf?: string;
  /** RFC 3339 (nanoseconds kept) or epoch milliseconds. */
  start?: string;
  end?: string;
  format?: string;
  maxSize?: string;
}

/**
 * The extraction options of a selection written as text; throws naming the part at fault as
 * `name` writes it (a flag, a query parameter). The core checks the values again.
 */
export function selectionOf(t: SelectionText, name: (key: keyof SelectionText) => string): ExtractOptions {
  const o: ExtractOptions = {};
  if (t.flow !== undefined) {
    try {
      Object.assign(o, parseFlow(t.flow));
    } catch (e) {
      throw new Error(`${name('flow')}: ${(e as Error).message}`);
    }
  }
  const port = (key: 'srcPort' | 'dstPort') => {
    const v = t[key];
    if (v === undefined) return undefined;
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65_535) throw new Error(`${name(key)}: "${v}" is not a port (0 to 65535)`);
    return Number(v);
  };
  if (t.srcIp !== undefined || t.dstIp !== undefined || t.protocol !== undefined) {
    if (t.srcIp === undefined || t.dstIp === undefined || t.protocol === undefined) {
      throw new Error(`a flow needs ${name('srcIp')}, ${name('dstIp')} and ${name('protocol')} (and the ports for TCP, UDP and SCTP)`);
    }
    const protocol = ipProtoOf(t.protocol);
    if (protocol === undefined) throw new Error(`${name('protocol')}: "${t.protocol}" is not a protocol name or number`);
    Object.assign(o, { aIp: t.srcIp, aPort: port('srcPort'), bIp: t.dstIp, bPort: port('dstPort'), protocol });
  }
  if (t.communityId !== undefined) o.communityId = t.communityId;
  if (t.ip !== undefined) o.networks = t.ip.split(',').map((n) => n.trim()).filter(Boolean);
  if (t.bpf !== undefined) o.bpf = t.bpf;
  o.fromNs = nsOf(t.start, name('start'));
  o.toNs = nsOf(t.end, name('end'));
  if (t.format !== undefined && t.format !== 'pcapng' && t.format !== 'pcap') throw new Error(`${name('format')}: "${t.format}" is not pcapng or pcap`);
  o.format = t.format as ExtractOptions['format'];
  const max = t.maxSize === undefined ? DEFAULT_MAX_BYTES : parseBytes(t.maxSize);
  if (max === null || max <= 0) throw new Error(`${name('maxSize')}: "${t.maxSize}" is not a size such as 100MiB or 1GiB`);
  o.maxBytes = max;
  if (!o.aIp && !o.communityId && !o.networks?.length && !o.bpf && !o.fromNs && !o.toNs) {
    throw new Error(`select something: ${(['flow', 'communityId', 'ip', 'bpf', 'start', 'end'] as const).map(name).join(', ')}`);
  }
  return o;
}

/** Epoch nanoseconds (decimal text) of an RFC 3339 time or epoch milliseconds. */
function nsOf(v: string | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return (BigInt(v) * 1_000_000n).toString();
  // Date keeps milliseconds: the fraction past them is added back.
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(v);
  const ms = Date.parse(m ? `${m[1]}${m[3]}` : v);
  if (Number.isNaN(ms)) throw new Error(`${what}: "${v}" is not an RFC 3339 time or epoch milliseconds`);
  const fraction = m?.[2] ? BigInt(m[2].padEnd(9, '0').slice(0, 9)) : 0n;
  return (BigInt(ms) * 1_000_000n + fraction).toString();
}

/** The index of a pcap file is kept beside it, with this suffix. */
export const INDEX_SUFFIX = '.nsidx';
export const indexPathOf = (file: string) => `${file}${INDEX_SUFFIX}`;

/** Builds a pcap file's index beside it (written whole, then renamed into place: a reader never
 * sees half of one). Throws when the file is not a whole pcap. */
export async function indexFile(backend: Backend, file: string): Promise<void> {
  if (!backend.createPcapIndexer) throw new Error(`indexing captures needs the native backend (this is the ${backend.name} backend)`);
  const x = backend.createPcapIndexer();
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) x.feed(chunk as Buffer);
  const index = x.finish();
  const tmp = `${indexPathOf(file)}.${process.pid}.tmp`;
  await writeFile(tmp, index);
  await rename(tmp, indexPathOf(file));
  // Rotated away while it was read: no index outlives its file.
  if (!statSync(file, { throwIfNoEntry: false })) await rm(indexPathOf(file), { force: true });
}

/** What a file's index says for a selection, when it has one that fits it (made from a file of
 * its size, parsed where the selection needs it); else null and why. One parse per file. */
async function indexLookup(backend: Backend, file: string, options: ExtractOptions): Promise<{ candidates: IndexCandidates | null; why: string }> {
  let index: Uint8Array;
  try {
    index = await readFile(indexPathOf(file));
  } catch {
    return { candidates: null, why: 'no index' };
  }
  try {
    const c = backend.indexCandidates!(index, options);
    if (c.indexedSize !== statSync(file).size) return { candidates: null, why: `its index is of a file of ${c.indexedSize} bytes` };
    return { candidates: c, why: '' };
  } catch (e) {
    return { candidates: null, why: `its index is damaged (${(e as Error).message})` };
  }
}

/** A selection by flow that names none: the lookup reads every flow of the index (a damaged
 * one is found). */
const EVERY_FLOW_READ: ExtractOptions = { networks: ['0.0.0.0/32'] };

export interface ReindexRun {
  /** Files indexed now. */
  indexed: string[];
  /** Files whose index already fitted. */
  current: number;
  /** Files left without one, and why (a file being written, not a pcap, ...). */
  skipped: { file: string; why: string }[];
}

/** Indexes the pcap files of the paths that have no index that fits them (none, of another
 * size, damaged); an index without its file is removed. */
export async function reindex(backend: Backend, paths: string[]): Promise<ReindexRun> {
  const run: ReindexRun = { indexed: [], current: 0, skipped: [] };
  for (const file of captureFiles(paths)) {
    if ((await indexLookup(backend, file, EVERY_FLOW_READ)).candidates) {
      run.current++;
      continue;
    }
    try {
      await indexFile(backend, file);
      run.indexed.push(file);
    } catch (e) {
      run.skipped.push({ file, why: (e as Error).message });
    }
  }
  for (const p of paths) {
    if (!statSync(p).isDirectory()) continue;
    for (const f of readdirSync(p).filter((n) => n.endsWith(INDEX_SUFFIX))) {
      const capture = join(p, f.slice(0, -INDEX_SUFFIX.length));
      if (!CAPTURE_FILE.test(capture) || !statSync(capture, { throwIfNoEntry: false })) await rm(join(p, f), { force: true });
    }
  }
  return run;
}

export interface ExtractRun {
  stats: ExtractStats;
  /** Files read, in order. */
  files: string[];
  /** Files that ended inside a record (being written, or left by a crash), with `growing`:
   * their whole records were read. */
  cutShort: string[];
  /** Files whose index said none of their packets answer: not read. */
  skippedByIndex: number;
  /** Files of which only the records their index names were read. */
  readByIndex: number;
  /** Files with an index that did not fit them (read whole), and why. */
  unusableIndexes: { file: string; why: string }[];
}

/** Largest read when gathering the records an index names (nearby records are read at once). */
const GATHER = 1 << 20;
const RECORD_HEADER = 16;
const PCAP_HEADER = 24;

/** The records at `offsets` of a pcap file, after its file header, in chunks: a pcap stream of
 * just those records. */
async function* indexedRecords(file: string, offsets: Uint32Array, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const fd = await open(file, 'r');
  try {
    const size = (await fd.stat()).size;
    const header = Buffer.alloc(PCAP_HEADER);
    await fd.read(header, 0, PCAP_HEADER, 0);
    yield header;
    let i = 0;
    while (i < offsets.length) {
      if (signal?.aborted) return;
      // The records from offsets[i] that fit in one read.
      const start = offsets[i];
      const end = Math.min(size, start + GATHER);
      const buf = Buffer.alloc(end - start);
      const { bytesRead } = await fd.read(buf, 0, buf.length, start);
      const parts: Buffer[] = [];
      for (; i < offsets.length; i++) {
        const at = offsets[i] - start;
        if (at + RECORD_HEADER > bytesRead) break;
        const len = RECORD_HEADER + buf.readUInt32LE(at + 8);
        if (at + len > bytesRead) {
          if (at === 0) throw new Error(`the record at offset ${offsets[i]} runs past the end of the file: the index does not fit it`);
          break;
        }
        parts.push(buf.subarray(at, at + len));
      }
      yield Buffer.concat(parts);
    }
  } finally {
    await fd.close();
  }
}

/**
 * Cuts the selected frames out of the files, in file order, into one capture handed to
 * `write` chunk by chunk (awaited: a slow reader slows the reading). Stops reading once the
 * size limit is reached. Throws, naming the file, when one cannot be read or is damaged; what
 * was written before stays a valid capture up to that point. With `growing` (a folder a probe
 * writes), a file may end inside a record (the one being written, one a crash cut): its whole
 * records are read. A file with an index that fits it is read only where the index says the
 * selection may be (`useIndex`, default on).
 */
export async function extractPackets(
  backend: Backend,
  files: string[],
  options: ExtractOptions,
  write: (chunk: Uint8Array) => Promise<void> | void,
  { signal, growing = false, useIndex = true }: { signal?: AbortSignal; growing?: boolean; useIndex?: boolean } = {},
): Promise<ExtractRun> {
  if (!backend.createPacketExtractor) throw new Error(`extracting packets needs the native backend (this is the ${backend.name} backend)`);
  const x = backend.createPacketExtractor(options);
  const run: ExtractRun = { stats: x.stats(), files, cutShort: [], skippedByIndex: 0, readByIndex: 0, unusableIndexes: [] };
  for (const file of files) {
    if (x.stats().limitReached || signal?.aborted) break;
    try {
      let chunks: AsyncIterable<Buffer | string> = createReadStream(file, { highWaterMark: CHUNK, signal });
      if (useIndex && backend.indexCandidates) {
        const { candidates: c, why } = await indexLookup(backend, file, options);
        if (c) {
          if (c.kind === 'none') {
            run.skippedByIndex++;
            continue;
          }
          if (c.kind === 'records') {
            run.readByIndex++;
            chunks = indexedRecords(file, new Uint32Array(c.offsets.buffer.slice(c.offsets.byteOffset, c.offsets.byteOffset + c.offsets.byteLength)), signal);
          }
        } else if (why !== 'no index') run.unusableIndexes.push({ file, why });
      }
      for await (const chunk of chunks) {
        const out = x.feed(chunk as Buffer);
        if (out.length) await write(out);
        if (x.stats().limitReached) break;
      }
      if (x.stats().limitReached) break;
      try {
        x.nextFile();
      } catch (e) {
        if (!(growing && /cut short/.test((e as Error).message))) throw e;
        run.cutShort.push(file);
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError') break;
      throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  const rest = x.finish();
  if (rest.length) await write(rest);
  run.stats = x.stats();
  return run;
}
