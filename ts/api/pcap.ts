// GET /api/v1/pcap: the packets of a flow, addresses, a time range, a BPF filter or an alert
// (its key over its windows), streamed as a pcapng (or pcap) download. The files read are the ones the server may read and no others:
// those `analyze` stored a source from (its runs record where they were), or, for a live
// source, the folder `probe --persist` writes (probe.persist.dir of the server's config).
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import type { Hono } from 'hono';
import type { Env } from './http.js';
import { loadBackend } from '../backend/index.js';
import { captureFiles, extractPackets, selectionOf, type SelectionText } from '../extract/index.js';
import { alertScope, analyzedFiles, type Store } from '../storage/index.js';

export const PCAP_PATH = '/api/v1/pcap';

const PARAMS: Record<string, keyof SelectionText> = {
  src_ip: 'srcIp', src_port: 'srcPort', dst_ip: 'dstIp', dst_port: 'dstPort', protocol: 'protocol', community_id: 'communityId',
  ip: 'ip', bpf: 'bpf', start: 'start', end: 'end', format: 'format', max_size: 'maxSize',
};
const NAMES = Object.fromEntries(Object.entries(PARAMS).map(([k, v]) => [v, k])) as Record<keyof SelectionText, string>;

export interface PcapRouteOptions {
  store: Store;
  /** Folders of persisted captures (live sources). */
  captures: string[];
  /** The largest download (api.maxPcapBytes); a request may ask for less with max_size. */
  maxBytes: number;
  log: (line: string) => void;
}

export function mountPcap(app: Hono<Env>, opts: PcapRouteOptions): void {
  app.get(PCAP_PATH, async (c) => {
    const bad = (message: string, status: 400 | 404 = 400) => c.json({ error: message, code: status === 400 ? 'InvalidArgument' : 'NotFound' }, status);
    const q = { ...c.req.query() };
    const unknown = Object.keys(q).filter((k) => k !== 'source' && k !== 'alert' && !(k in PARAMS));
    if (unknown.length) return bad(`unknown parameter(s): ${unknown.join(', ')}`);
    const text: SelectionText = {};
    if (q.alert !== undefined) {
      // An alert's packets: its key (a flow when the key names one, else its addresses) over
      // its windows, from the captures of the source that raised it.
      const scope = await alertScope(opts.store, q.alert);
      if (!scope) return bad(`alert "${q.alert}": no such alert is stored`, 404);
      Object.assign(text, alertSelection(scope.key), { start: String(scope.startMs), end: String(scope.endMs) });
      q.source ??= scope.source;
      if (!text.srcIp && !text.ip) return bad(`alert "${q.alert}": its key (${JSON.stringify(scope.key)}) names no address to select packets by`);
    }
    for (const [k, v] of Object.entries(q)) if (k in PARAMS) text[PARAMS[k]] = v;
    let options;
    try {
      options = selectionOf(text, (k) => NAMES[k] ?? k);
    } catch (e) {
      return bad((e as Error).message);
    }
    options.maxBytes = Math.min(options.maxBytes ?? opts.maxBytes, opts.maxBytes);
    const source = q.source;
    let files: string[];
    if (source?.startsWith('analyze:')) {
      const analyzed = await analyzedFiles(opts.store, source);
      if (analyzed === null) return bad(`source "${source}": no analyze run of it is stored`, 404);
      if (!analyzed.length) return bad(`source "${source}": the store does not say where its files are (read from standard input, or stored by an earlier version of netspectra)`, 404);
      files = analyzed.filter((f) => existsSync(f));
      if (files.length < analyzed.length) return bad(`source "${source}": ${analyzed.filter((f) => !existsSync(f)).join(', ')} no longer there`, 404);
    } else {
      const dirs = opts.captures.filter((d) => existsSync(d));
      if (!dirs.length) return bad('no persisted captures on this server (probe.persist.dir); name an analyzed source with source=analyze:<file>', 404);
      try {
        files = captureFiles(dirs);
      } catch (e) {
        return bad((e as Error).message, 404);
      }
    }
    const backend = loadBackend();
    if (!backend.createPacketExtractor) return c.json({ error: `extracting packets needs the native backend (this server runs the ${backend.name} backend)`, code: 'Unimplemented' }, 501);
    try {
      backend.createPacketExtractor(options);
    } catch (e) {
      return bad((e as Error).message);
    }
    const body = new PassThrough();
    const abort = new AbortController();
    c.req.raw.signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const write = async (chunk: Uint8Array) => {
      if (!body.write(chunk)) await Promise.race([once(body, 'drain'), once(body, 'close')]);
    };
    void extractPackets(backend, files, options, write, { signal: abort.signal, growing: !source?.startsWith('analyze:') })
      .then((run) => {
        if (run.stats.limitReached) {
          // The download ends without its last chunk: clients report it cut short (curl: "transfer
          // closed"), and what came is a valid capture up to the limit.
          opts.log(`api: ${PCAP_PATH}: stopped at the size limit (${options.maxBytes} bytes) after ${run.stats.framesWritten} packets`);
          body.destroy(new Error(`the download reached its size limit of ${options.maxBytes} bytes; narrow the selection or ask for more with max_size (at most api.maxPcapBytes)`));
        } else body.end();
      })
      .catch((e: Error) => {
        opts.log(`api: ${PCAP_PATH}: ${e.message}`);
        body.destroy(e);
      });
    const pcapng = options.format !== 'pcap';
    return new Response(Readable.toWeb(body) as ReadableStream, {
      headers: {
        'Content-Type': pcapng ? 'application/x-pcapng' : 'application/vnd.tcpdump.pcap',
        'Content-Disposition': `attachment; filename="netspectra-packets.${pcapng ? 'pcapng' : 'pcap'}"`,
        'X-Netspectra-Max-Bytes': String(options.maxBytes),
        'X-Netspectra-Files': String(files.length),
      },
    });
  });
}

/** The selection of an alert's key: its flow when the key names its five fields,
 * else the addresses it names (from or to either). */
export function alertSelection(key: Record<string, string>): SelectionText {
  const { SrcIP: src, DstIP: dst, SrcPort: sp, DstPort: dp, Protocol: proto } = key;
  if (src && dst && proto && sp !== undefined && dp !== undefined) return { srcIp: src, dstIp: dst, protocol: proto, srcPort: sp, dstPort: dp };
  const ips = [src, dst].filter((a): a is string => Boolean(a) && a !== '-');
  return ips.length ? { ip: ips.join(',') } : {};
}
