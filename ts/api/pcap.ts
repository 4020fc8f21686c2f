// Packets back over the API: GET /api/v1/pcap and the ExtractPackets stream cut the packets of a
// flow, addresses, a time range, a BPF filter or an alert (its key over its windows) out of the
// captures the server may read, and send them as a pcapng (or pcap) file. The files read are
// those `analyze` stored a source from (its statistics record where they were), or, for any
// other source, the folder `probe --persist` writes (probe.persist.dir of the server's config).
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { Hono } from 'hono';
import { loadBackend, type Backend } from '../backend/index.js';
import type { ExtractOptions } from '../backend/types.js';
import { captureFiles, extractPackets, selectionOf, type ExtractRun, type SelectionText } from '../extract/index.js';
import { alertScope, analyzedFiles, type Store } from '../storage/index.js';
import type { Env } from './http.js';

export const PCAP_PATH = '/api/v1/pcap';

/** Query parameters of GET /api/v1/pcap, as the selection names them. */
const PARAMS: Record<string, keyof SelectionText> = {
  src_ip: 'srcIp', src_port: 'srcPort', dst_ip: 'dstIp', dst_port: 'dstPort', protocol: 'protocol', community_id: 'communityId',
  ip: 'ip', bpf: 'bpf', start: 'start', end: 'end', format: 'format', max_size: 'maxSize',
};
const NAMES = Object.fromEntries(Object.entries(PARAMS).map(([k, v]) => [v, k])) as Record<keyof SelectionText, string>;

export interface PacketsOptions {
  store: Store;
  /** Folders of persisted captures (sources other than an analysis). */
  captures: string[];
  /** The largest download (api.maxPcapBytes); a request may ask for less. */
  maxBytes: number;
}

/** A request that cannot be answered, and why (the HTTP status and the Connect code follow). */
export class PacketsError extends Error {
  constructor(readonly code: 'InvalidArgument' | 'NotFound' | 'Unimplemented', message: string) {
    super(message);
  }
}

export interface PacketsPlan {
  options: ExtractOptions;
  files: string[];
  /** Persisted captures: a file may still be being written. */
  growing: boolean;
  backend: Backend;
}

/** What a request asks for and where its packets are; throws a PacketsError naming the part
 * at fault (as `name` writes it). */
export async function planPackets(
  opts: PacketsOptions,
  given: SelectionText,
  { source, alert }: { source?: string; alert?: string },
  name: (key: keyof SelectionText) => string,
): Promise<PacketsPlan> {
  const text: SelectionText = {};
  if (alert) {
    const scope = await alertScope(opts.store, alert);
    if (!scope) throw new PacketsError('NotFound', `alert "${alert}": no such alert is stored`);
    Object.assign(text, alertSelection(scope.key), { start: String(scope.startMs), end: String(scope.endMs) });
    source ||= scope.source;
    if (!text.srcIp && !text.ip) throw new PacketsError('InvalidArgument', `alert "${alert}": its key (${JSON.stringify(scope.key)}) names no address to select packets by`);
  }
  Object.assign(text, Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)));
  let options: ExtractOptions;
  try {
    options = selectionOf(text, name);
  } catch (e) {
    throw new PacketsError('InvalidArgument', (e as Error).message);
  }
  // The server's limit, or less when the request asks for less.
  options.maxBytes = given.maxSize === undefined ? opts.maxBytes : Math.min(options.maxBytes!, opts.maxBytes);
  let files: string[];
  const analysis = Boolean(source?.startsWith('analyze:'));
  if (analysis) {
    const analyzed = await analyzedFiles(opts.store, source!);
    if (analyzed === null) throw new PacketsError('NotFound', `source "${source}": no analyze run of it is stored`);
    if (!analyzed.length) throw new PacketsError('NotFound', `source "${source}": the store does not say where its files are (read from standard input, or stored by an earlier version of netspectra)`);
    const gone = analyzed.filter((f) => !existsSync(f));
    if (gone.length) throw new PacketsError('NotFound', `source "${source}": ${gone.join(', ')} no longer there`);
    files = analyzed;
  } else {
    const dirs = opts.captures.filter((d) => existsSync(d));
    if (!dirs.length) throw new PacketsError('NotFound', 'no persisted captures on this server (probe.persist.dir); name an analyzed source with source=analyze:<file>');
    try {
      files = captureFiles(dirs);
    } catch (e) {
      throw new PacketsError('NotFound', (e as Error).message);
    }
  }
  const backend = loadBackend();
  if (!backend.createPacketExtractor) throw new PacketsError('Unimplemented', `extracting packets needs the native backend (this server runs the ${backend.name} backend)`);
  try {
    backend.createPacketExtractor(options);
  } catch (e) {
    throw new PacketsError('InvalidArgument', (e as Error).message);
  }
  return { options, files, growing: !analysis, backend };
}

/** The plan's capture as chunks, then the run's summary; reading stops when the consumer does
 * (or `signal` aborts): at most a few chunks wait. */
export async function* packetChunks(plan: PacketsPlan, outer: AbortSignal): AsyncGenerator<Uint8Array | ExtractRun> {
  const stop = new AbortController();
  const signal = AbortSignal.any([outer, stop.signal]);
  const queue: Uint8Array[] = [];
  // Set by the callbacks below (an object: the closures' assignments stay visible here).
  const at: { wake: (() => void) | null; drained: (() => void) | null; end: { run?: ExtractRun; error?: Error } | null } = { wake: null, drained: null, end: null };
  const notify = () => {
    at.wake?.();
    at.wake = null;
  };
  const write = async (chunk: Uint8Array) => {
    queue.push(chunk);
    notify();
    while (queue.length > 4 && !signal.aborted) await new Promise<void>((r) => (at.drained = r));
  };
  void extractPackets(plan.backend, plan.files, plan.options, write, { signal, growing: plan.growing }).then(
    (run) => ((at.end = { run }), notify()),
    (error: Error) => ((at.end = { error }), notify()),
  );
  try {
    for (;;) {
      if (queue.length) {
        yield queue.shift()!;
        at.drained?.();
        at.drained = null;
        continue;
      }
      if (at.end) {
        if (at.end.error) throw at.end.error;
        yield at.end.run!;
        return;
      }
      await new Promise<void>((r) => (at.wake = r));
    }
  } finally {
    // Done, or the consumer went away: the reading stops too.
    stop.abort();
    at.drained?.();
  }
}

/** The selection of an alert's key: its flow when the key names its five fields, else the
 * addresses it names (from or to either). */
export function alertSelection(key: Record<string, string>): SelectionText {
  const { SrcIP: src, DstIP: dst, SrcPort: sp, DstPort: dp, Protocol: proto } = key;
  if (src && dst && proto && sp !== undefined && dp !== undefined) return { srcIp: src, dstIp: dst, protocol: proto, srcPort: sp, dstPort: dp };
  const ips = [src, dst].filter((a): a is string => Boolean(a) && a !== '-');
  return ips.length ? { ip: ips.join(',') } : {};
}

const STATUS = { InvalidArgument: 400, NotFound: 404, Unimplemented: 501 } as const;

export function mountPcap(app: Hono<Env>, opts: PacketsOptions & { log: (line: string) => void }): void {
  app.get(PCAP_PATH, async (c) => {
    const q = c.req.query();
    const unknown = Object.keys(q).filter((k) => k !== 'source' && k !== 'alert' && !(k in PARAMS));
    let plan: PacketsPlan;
    try {
      if (unknown.length) throw new PacketsError('InvalidArgument', `unknown parameter(s): ${unknown.join(', ')}`);
      const given: SelectionText = {};
      for (const [k, v] of Object.entries(q)) if (k in PARAMS) given[PARAMS[k]] = v;
      plan = await planPackets(opts, given, { source: q.source, alert: q.alert }, (k) => NAMES[k] ?? k);
    } catch (e) {
      if (!(e instanceof PacketsError)) throw e;
      return c.json({ error: e.message, code: e.code }, STATUS[e.code]);
    }
    const abort = new AbortController();
    c.req.raw.signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const maxBytes = plan.options.maxBytes;
    async function* body(): AsyncGenerator<Uint8Array> {
      for await (const part of packetChunks(plan, abort.signal)) {
        if (part instanceof Uint8Array) {
          yield part;
        } else if (part.stats.limitReached) {
          // HTTP cannot say it after the headers: the download ends without its last chunk, so
          // clients report it cut short (curl: "transfer closed"); what came is a valid capture.
          opts.log(`api: ${PCAP_PATH}: stopped at the size limit (${maxBytes} bytes) after ${part.stats.framesWritten} packets`);
          throw new Error(`the download reached its size limit of ${maxBytes} bytes; narrow the selection, or ask for more with max_size (at most api.maxPcapBytes)`);
        }
      }
    }
    const stream = Readable.from(body());
    stream.on('error', (e) => opts.log(`api: ${PCAP_PATH}: ${e.message}`));
    const pcapng = plan.options.format !== 'pcap';
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: {
        'Content-Type': pcapng ? 'application/x-pcapng' : 'application/vnd.tcpdump.pcap',
        'Content-Disposition': `attachment; filename="netspectra-packets.${pcapng ? 'pcapng' : 'pcap'}"`,
        'X-Netspectra-Max-Bytes': String(maxBytes),
        'X-Netspectra-Files': String(plan.files.length),
      },
    });
  });
}
