// The WebAssembly backend: the same Rust core as the native addon, compiled to
// wasm32-unknown-unknown by `npm run build:wasm` (crates/wasm) and instantiated synchronously.
// The calling convention (inputs in a reused buffer, results as (pointer, length) in a slot,
// handles freed explicitly) is documented in crates/wasm/src/lib.rs; the options text in
// crates/wasm/src/wire.rs.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzerOptions, refuseBpf, expectBool, expectBytes, expectString, expectU32, flowOptions, trafficOptions } from './arguments.js';
import type {
  Analyzer, AnalyzerOptions, ApplyResult, Backend, BatchEngine, CaptureStats, FlowOptions, PacketBatcher,
  PacketBatcherOptions, SealedBatch, TakenFlows, TrafficOptions, TrafficSource,
} from './types.js';

interface Exports {
  memory: WebAssembly.Memory;
  ns_init(): void;
  ns_result_slot(): number;
  ns_alloc(len: number): number;
  ns_free(ptr: number, len: number): void;
  ns_panic_message(): number;
  ns_analyzer_new(opts: number, len: number): number;
  ns_analyzer_free(h: number): void;
  ns_analyzer_begin_file(h: number, name: number, len: number): void;
  ns_analyzer_feed(h: number, chunk: number, len: number): number;
  ns_analyzer_end_file(h: number): number;
  ns_analyzer_close_window(h: number): void;
  ns_analyzer_take_windows(h: number): number;
  ns_analyzer_take_flow_rows(h: number, flush: number): number;
  ns_analyzer_flow_summary_json(h: number): number;
  ns_analyzer_packets(h: number): number;
  ns_analyzer_report_json(h: number, topN: number): void;
  ns_analyzer_export_conversations(h: number, ipPairs: number): void;
  ns_analyzer_take_flows(h: number, flush: number): number;
  ns_analyzer_flow_stats_json(h: number): number;
  ns_traffic_new(opts: number, len: number): number;
  ns_traffic_free(h: number): void;
  ns_traffic_next_chunk(h: number, maxPackets: number): void;
  ns_batcher_new(opts: number, len: number): number;
  ns_batcher_free(h: number): void;
  ns_batcher_add_frames(h: number, frames: number, len: number, linkType: number, iface: number): number;
  ns_batcher_begin_capture(h: number): void;
  ns_batcher_add_capture(h: number, chunk: number, len: number): number;
  ns_batcher_end_capture(h: number): number;
  ns_batcher_count(h: number, pending: number): number;
  ns_batcher_take(h: number, all: number, captured: number, kernelDropped: number, interfaceDropped: number, probeDropped: number, sentMs: number): number;
  ns_engine_new(opts: number, len: number): number;
  ns_engine_free(h: number): void;
  ns_engine_apply(h: number, message: number, len: number): void;
  ns_engine_skip_before(h: number, ms: number): void;
  ns_engine_close_window(h: number): void;
  ns_engine_take_windows(h: number): number;
  ns_engine_open_window(h: number): number;
  ns_engine_stats_json(h: number): void;
  ns_engine_peek_window(h: number): number;
  ns_engine_take_flows(h: number, flush: number, json: number): number;
  ns_engine_flows_idle(h: number, ms: number): void;
  ns_engine_query_flows(h: number, q: number, len: number): number;
  ns_engine_seconds_json(h: number, fromMs: number, toMs: number): number;
  ns_storage_rows(data: number, len: number): number;
  ns_tables_json(): void;
}

/** The input buffer's size is a multiple of this (it is reused for every call, and grown to the
 * largest input so far: chunks of a capture are all one size). */
const MIN_INPUT = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One instance of the module: its memory views, its reused input buffer, and whether it trapped
 * (after a trap its memory may be inconsistent, so it is never called again). */
class Runtime {
  private view = new Uint8Array(0);
  private input = 0;
  private inputCap = 0;
  private readonly slot: number;
  broken: string | undefined;

  constructor(readonly x: Exports) {
    x.ns_init();
    this.slot = x.ns_result_slot() >>> 0;
  }

  /** The memory as bytes; a call that grew the memory detached the previous view. */
  bytes(): Uint8Array {
    const buffer = this.x.memory.buffer;
    if (this.view.buffer !== buffer) this.view = new Uint8Array(buffer);
    return this.view;
  }

  /** Runs one export; a trap becomes an Error naming the call, and retires this instance. */
  call<T>(name: string, f: () => T): T {
    if (this.broken !== undefined) {
      throw new Error(`wasm backend: cannot ${name}: this instance trapped earlier (${this.broken})`);
    }
    try {
      return f();
    } catch (e) {
      // Nothing here calls back into JavaScript: what is thrown is a trap, or a stack overflow.
      if (!(e instanceof WebAssembly.RuntimeError || e instanceof RangeError)) throw e;
      const why = this.panicMessage();
      this.broken = `${name}: ${e.message}${why ? `: ${why}` : ''}`;
      throw new Error(`wasm backend: ${name} trapped: ${e.message}${why ? ` (${why})` : ''}`, { cause: e });
    }
  }

  /** The message the module recorded before it trapped (a panic or a failed allocation). */
  private panicMessage(): string {
    try {
      const len = this.x.ns_panic_message() >>> 0;
      if (len === 0) return '';
      const [ptr] = this.resultSlot();
      return decoder.decode(this.bytes().subarray(ptr, ptr + len));
    } catch {
      return '';
    }
  }

  private resultSlot(): [number, number] {
    const view = new DataView(this.x.memory.buffer);
    return [view.getUint32(this.slot, true), view.getUint32(this.slot + 4, true)];
  }

  /** Copies `data` into the input buffer (grown when too small); returns its address. */
  write(name: string, data: Uint8Array): number {
    if (data.length > this.inputCap) {
      const cap = Math.ceil(Math.max(MIN_INPUT, data.length) / MIN_INPUT) * MIN_INPUT;
      if (this.inputCap > 0) {
        const [old, oldCap] = [this.input, this.inputCap];
        this.inputCap = 0;
        this.call(name, () => this.x.ns_free(old, oldCap));
      }
      this.input = this.call(name, () => this.x.ns_alloc(cap)) >>> 0;
      this.inputCap = cap;
    }
    this.bytes().set(data, this.input);
    return this.input;
  }

  /** The result the last call left in the slot, copied out; its memory is freed. */
  takeBytes(name: string): Buffer {
    const [ptr, len] = this.resultSlot();
    return this.takeBytesAt(name, ptr, len);
  }

  /** A result at (`ptr`, `len`), copied out; its memory is freed. */
  takeBytesAt(name: string, ptr: number, len: number): Buffer {
    const out = Buffer.from(this.bytes().subarray(ptr, ptr + len));
    this.call(name, () => this.x.ns_free(ptr, len));
    return out;
  }

  takeText(name: string): string {
    const [ptr, len] = this.resultSlot();
    const text = decoder.decode(this.bytes().subarray(ptr, ptr + len));
    this.call(name, () => this.x.ns_free(ptr, len));
    return text;
  }

  /** Builds an object from an options text: its handle, or the error the module reported. */
  create(name: string, make: (ptr: number, len: number) => number, text: Uint8Array): number {
    const ptr = this.write(name, text);
    const handle = this.call(name, () => make(ptr, text.length)) >>> 0;
    if (handle === 0) throw Object.assign(new Error(this.takeText(name)), { code: 'InvalidArg' });
    return handle;
  }
}

interface Held {
  rt: Runtime;
  handle: number;
  free: 'ns_analyzer_free' | 'ns_traffic_free' | 'ns_batcher_free' | 'ns_engine_free';
}

/** Frees the handles of objects collected without `free()`. */
const registry = new FinalizationRegistry<Held>((h) => {
  if (h.rt.broken !== undefined) return;
  try {
    h.rt.call('free', () => h.rt.x[h.free](h.handle));
  } catch {
    // Nobody is left to tell; the instance is retired and new objects get a fresh one.
  }
});

/** A handle owned by a JavaScript object: freed by `free()` or, as a backstop, by the collector. */
class Owned {
  private readonly held: Held;

  constructor(owner: object, rt: Runtime, handle: number, free: Held['free']) {
    this.held = { rt, handle, free };
    registry.register(owner, this.held, this);
  }

  get rt(): Runtime {
    return this.held.rt;
  }

  /** The live handle, for a call named `name`. */
  handle(name: string): number {
    if (this.held.handle === 0) throw new Error(`wasm backend: cannot ${name}: the object was freed`);
    return this.held.handle;
  }

  free(): void {
    const { rt, handle, free } = this.held;
    if (handle === 0) return;
    registry.unregister(this);
    this.held.handle = 0;
    if (rt.broken === undefined) rt.call('free', () => rt.x[free](handle));
  }
}

type Field = (name: string, value: string) => void;

/** The options text: fields `<name> <byte length>:<value>\n` (crates/wasm/src/wire.rs). Numbers
 * as JS prints them, which round-trips exactly (and -0 kept). */
function optionsText(write: (put: Field) => void): Uint8Array {
  const parts: Uint8Array[] = [];
  write((name, value) => {
    const v = encoder.encode(value);
    parts.push(encoder.encode(`${name} ${v.length}:`), v, encoder.encode('\n'));
  });
  return Buffer.concat(parts);
}

/** Puts every defined entry of `values` under the wire name given in `names`. */
function putAll(put: Field, values: object, names: Record<string, string>): void {
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || !(k in names)) continue;
    put(names[k], Object.is(v, -0) ? '-0' : String(v));
  }
}

const ANALYZER_FIELDS = { seed: 'seed', windowSeconds: 'window_seconds', top: 'top', keepWindows: 'keep_windows', snapshots: 'snapshots', seconds: 'seconds', source: 'source', run: 'run', threads: 'threads' };
const FLOW_FIELDS: Record<keyof FlowOptions, string> = {
  idleTcp: 'flows.idle_tcp', idleUdp: 'flows.idle_udp', idleIcmp: 'flows.idle_icmp', idleOther: 'flows.idle_other',
  activeTimeout: 'flows.active_timeout', closedLinger: 'flows.closed_linger', maxFlows: 'flows.max_flows',
  localNetworks: 'flows.local_networks', probe: 'flows.probe', names: 'flows.names',
};
const TASK_FIELDS = {
  name: 'task', type: 'type', key: 'key', distinct: 'distinct', element: 'element', depth: 'depth', width: 'width',
  conservative: 'conservative', heavyHitters: 'heavy_hitters', registers: 'registers', registerBits: 'register_bits',
  decayBase: 'decay_base', threshold: 'threshold',
};
const TRAFFIC_FIELDS = { seed: 'seed', packets: 'packets', hosts: 'hosts', durationSeconds: 'duration_seconds', startMs: 'start_ms' };

function analyzerOptionsText(options: unknown): Uint8Array {
  const o = analyzerOptions(options);
  refuseBpf(o, 'wasm');
  return optionsText((put) => {
    if (!o) return;
    putAll(put, o, ANALYZER_FIELDS);
    if (o.flows) {
      put('flows', 'true');
      putAll(put, o.flows, FLOW_FIELDS);
    }
    // `task` opens each task: the fields after it belong to it.
    for (const t of o.tasks ?? []) putAll(put, t, TASK_FIELDS);
  });
}

function trafficOptionsText(options: unknown): Uint8Array {
  const o = trafficOptions(options);
  return optionsText((put) => {
    if (o) putAll(put, o, TRAFFIC_FIELDS);
  });
}

/** An analyzer in wasm memory. `free()` releases it at once; otherwise the collector does. */
export class WasmAnalyzer implements Analyzer {
  private readonly own: Owned;

  constructor(rt: Runtime, options?: AnalyzerOptions) {
    const handle = rt.create('createAnalyzer', (p, n) => rt.x.ns_analyzer_new(p, n), analyzerOptionsText(options));
    this.own = new Owned(this, rt, handle, 'ns_analyzer_free');
  }

  beginFile(name: string): void {
    expectString(name, 'beginFile: name');
    const h = this.own.handle('beginFile');
    const rt = this.own.rt;
    const bytes = encoder.encode(name);
    const ptr = rt.write('beginFile', bytes);
    rt.call('beginFile', () => rt.x.ns_analyzer_begin_file(h, ptr, bytes.length));
  }

  feed(chunk: Uint8Array): string | null {
    expectBytes(chunk, 'feed: chunk');
    const h = this.own.handle('feed');
    const rt = this.own.rt;
    const ptr = rt.write('feed', chunk);
    return rt.call('feed', () => rt.x.ns_analyzer_feed(h, ptr, chunk.length)) ? rt.takeText('feed') : null;
  }

  endFile(): string | null {
    const h = this.own.handle('endFile');
    const rt = this.own.rt;
    return rt.call('endFile', () => rt.x.ns_analyzer_end_file(h)) ? rt.takeText('endFile') : null;
  }

  closeWindow(): void {
    const h = this.own.handle('closeWindow');
    const rt = this.own.rt;
    rt.call('closeWindow', () => rt.x.ns_analyzer_close_window(h));
  }

  takeWindows(): Uint8Array[] {
    const [h, rt] = [this.own.handle('takeWindows'), this.own.rt];
    return takeBuffers(rt, 'takeWindows', rt.call('takeWindows', () => rt.x.ns_analyzer_take_windows(h)));
  }

  packets(): number {
    const h = this.own.handle('packets');
    const rt = this.own.rt;
    return rt.call('packets', () => rt.x.ns_analyzer_packets(h));
  }

  reportJson(topN: number): string {
    const top = expectU32(topN, 'reportJson: topN');
    const h = this.own.handle('reportJson');
    const rt = this.own.rt;
    rt.call('reportJson', () => rt.x.ns_analyzer_report_json(h, top));
    return rt.takeText('reportJson');
  }

  exportConversations(ipPairs: boolean): Uint8Array {
    expectBool(ipPairs, 'exportConversations: ipPairs');
    const h = this.own.handle('exportConversations');
    const rt = this.own.rt;
    rt.call('exportConversations', () => rt.x.ns_analyzer_export_conversations(h, ipPairs ? 1 : 0));
    return rt.takeBytes('exportConversations');
  }

  takeFlows(flush: boolean): string | null {
    expectBool(flush, 'takeFlows: flush');
    const [h, rt] = [this.own.handle('takeFlows'), this.own.rt];
    return rt.call('takeFlows', () => rt.x.ns_analyzer_take_flows(h, flush ? 1 : 0)) ? rt.takeText('takeFlows') : null;
  }

  takeFlowRows(flush: boolean): Uint8Array | null {
    expectBool(flush, 'takeFlowRows: flush');
    const [h, rt] = [this.own.handle('takeFlowRows'), this.own.rt];
    return rt.call('takeFlowRows', () => rt.x.ns_analyzer_take_flow_rows(h, flush ? 1 : 0)) ? rt.takeBytes('takeFlowRows') : null;
  }

  flowSummaryJson(): string | null {
    const [h, rt] = [this.own.handle('flowSummaryJson'), this.own.rt];
    return rt.call('flowSummaryJson', () => rt.x.ns_analyzer_flow_summary_json(h)) ? rt.takeText('flowSummaryJson') : null;
  }

  flowStatsJson(): string | null {
    const [h, rt] = [this.own.handle('flowStatsJson'), this.own.rt];
    return rt.call('flowStatsJson', () => rt.x.ns_analyzer_flow_stats_json(h)) ? rt.takeText('flowStatsJson') : null;
  }

  /** Releases the analyzer's memory now; the analyzer cannot be used afterwards. */
  free(): void {
    this.own.free();
  }
}

/** The synthetic traffic generator in wasm memory. */
export class WasmTrafficSource implements TrafficSource {
  private readonly own: Owned;

  constructor(rt: Runtime, options?: TrafficOptions) {
    const handle = rt.create('createTrafficSource', (p, n) => rt.x.ns_traffic_new(p, n), trafficOptionsText(options));
    this.own = new Owned(this, rt, handle, 'ns_traffic_free');
  }

  nextChunk(maxPackets: number): Uint8Array {
    const max = expectU32(maxPackets, 'nextChunk: maxPackets');
    const h = this.own.handle('nextChunk');
    const rt = this.own.rt;
    rt.call('nextChunk', () => rt.x.ns_traffic_next_chunk(h, max));
    return rt.takeBytes('nextChunk');
  }

  free(): void {
    this.own.free();
  }
}

/** Reads a table of little-endian u64 words (the slot's result) as numbers. */
function words(table: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 8 <= table.length; i += 8) out.push(Number(table.readBigUInt64LE(i)));
  return out;
}

/** `count` buffers whose (pointer, length) pairs the slot holds, each a result of its own. */
function takeBuffers(rt: Runtime, name: string, count: number): Buffer[] {
  const w = words(rt.takeBytes(name));
  const out: Buffer[] = [];
  for (let i = 0; i < count >>> 0; i++) out.push(rt.takeBytesAt(name, w[2 * i], w[2 * i + 1]));
  return out;
}

/** A missing part of a table is one of length u64::MAX. */
const MISSING = 2 ** 64;

const BATCHER_FIELDS = { probeId: 'probe_id', interface: 'interface', partitions: 'partitions', batchPackets: 'batch_packets', seed: 'seed' };

/** A probe's batcher in wasm memory. */
export class WasmPacketBatcher implements PacketBatcher {
  private readonly own: Owned;

  constructor(rt: Runtime, options: PacketBatcherOptions) {
    if (typeof options !== 'object' || options === null) throw Object.assign(new TypeError('createPacketBatcher: options must be an object'), { code: 'ObjectExpected' });
    expectString(options.probeId, 'createPacketBatcher: probeId');
    expectString(options.interface, 'createPacketBatcher: interface');
    const o = {
      ...options,
      partitions: expectU32(options.partitions, 'createPacketBatcher: partitions'),
      batchPackets: expectU32(options.batchPackets, 'createPacketBatcher: batchPackets'),
      flows: options.flows === undefined ? undefined : flowOptions(options.flows, 'createPacketBatcher: flows'),
    };
    const text = optionsText((put) => {
      putAll(put, o, BATCHER_FIELDS);
      if (o.flows) putAll(put, o.flows, FLOW_FIELDS);
    });
    this.own = new Owned(this, rt, rt.create('createPacketBatcher', (p, n) => rt.x.ns_batcher_new(p, n), text), 'ns_batcher_free');
  }

  addFrames(frames: Uint8Array, linkType: number, interfaceIndex: number): number {
    expectBytes(frames, 'addFrames: frames');
    const [h, rt] = [this.own.handle('addFrames'), this.own.rt];
    const ptr = rt.write('addFrames', frames);
    const n = rt.call('addFrames', () => rt.x.ns_batcher_add_frames(h, ptr, frames.length, expectU32(linkType, 'addFrames: linkType'), expectU32(interfaceIndex, 'addFrames: interfaceIndex')));
    if (n < 0) throw Object.assign(new Error(rt.takeText('addFrames')), { code: 'InvalidArg' });
    return n;
  }

  beginCapture(): void {
    const [h, rt] = [this.own.handle('beginCapture'), this.own.rt];
    rt.call('beginCapture', () => rt.x.ns_batcher_begin_capture(h));
  }

  addCapture(chunk: Uint8Array): string | null {
    expectBytes(chunk, 'addCapture: chunk');
    const [h, rt] = [this.own.handle('addCapture'), this.own.rt];
    const ptr = rt.write('addCapture', chunk);
    return rt.call('addCapture', () => rt.x.ns_batcher_add_capture(h, ptr, chunk.length)) ? rt.takeText('addCapture') : null;
  }

  endCapture(): string | null {
    const [h, rt] = [this.own.handle('endCapture'), this.own.rt];
    return rt.call('endCapture', () => rt.x.ns_batcher_end_capture(h)) ? rt.takeText('endCapture') : null;
  }

  packets(): number {
    const [h, rt] = [this.own.handle('packets'), this.own.rt];
    return rt.call('packets', () => rt.x.ns_batcher_count(h, 0));
  }

  pending(): number {
    const [h, rt] = [this.own.handle('pending'), this.own.rt];
    return rt.call('pending', () => rt.x.ns_batcher_count(h, 1));
  }

  take(all: boolean, stats: CaptureStats, sentMs: number): SealedBatch[] {
    expectBool(all, 'take: all');
    const [h, rt] = [this.own.handle('take'), this.own.rt];
    const count = rt.call('take', () => rt.x.ns_batcher_take(h, all ? 1 : 0, stats.captured, stats.kernelDropped, stats.interfaceDropped, stats.probeDropped, sentMs)) >>> 0;
    const w = words(rt.takeBytes('take'));
    const out: SealedBatch[] = [];
    for (let i = 0; i < count; i++) {
      const [partition, packets, sequence, ptr, len] = w.slice(5 * i, 5 * i + 5);
      out.push({ partition, packets, sequence, message: rt.takeBytesAt('take', ptr, len) });
    }
    return out;
  }

  free(): void {
    this.own.free();
  }
}

/** The engine side of the transport in wasm memory. */
export class WasmBatchEngine implements BatchEngine {
  private readonly own: Owned;

  constructor(rt: Runtime, options?: AnalyzerOptions) {
    this.own = new Owned(this, rt, rt.create('createBatchEngine', (p, n) => rt.x.ns_engine_new(p, n), analyzerOptionsText(options)), 'ns_engine_free');
  }

  apply(message: Uint8Array): ApplyResult {
    expectBytes(message, 'apply: message');
    const [h, rt] = [this.own.handle('apply'), this.own.rt];
    const ptr = rt.write('apply', message);
    rt.call('apply', () => rt.x.ns_engine_apply(h, ptr, message.length));
    return JSON.parse(rt.takeText('apply')) as ApplyResult;
  }

  skipBefore(ms: number): void {
    const [h, rt] = [this.own.handle('skipBefore'), this.own.rt];
    rt.call('skipBefore', () => rt.x.ns_engine_skip_before(h, ms));
  }

  closeWindow(): void {
    const [h, rt] = [this.own.handle('closeWindow'), this.own.rt];
    rt.call('closeWindow', () => rt.x.ns_engine_close_window(h));
  }

  takeWindows(): Uint8Array[] {
    const [h, rt] = [this.own.handle('takeWindows'), this.own.rt];
    return takeBuffers(rt, 'takeWindows', rt.call('takeWindows', () => rt.x.ns_engine_take_windows(h)));
  }

  openWindow(): { startMs: number; endMs: number } | null {
    const [h, rt] = [this.own.handle('openWindow'), this.own.rt];
    if (!rt.call('openWindow', () => rt.x.ns_engine_open_window(h))) return null;
    const [start, end] = words(rt.takeBytes('openWindow'));
    return { startMs: start / 1e6, endMs: end / 1e6 };
  }

  peekWindow(): Uint8Array | null {
    const [h, rt] = [this.own.handle('peekWindow'), this.own.rt];
    return rt.call('peekWindow', () => rt.x.ns_engine_peek_window(h)) ? rt.takeBytes('peekWindow') : null;
  }

  takeFlows(flush: boolean, json: boolean): TakenFlows | null {
    expectBool(flush, 'takeFlows: flush');
    expectBool(json, 'takeFlows: json');
    const [h, rt] = [this.own.handle('takeFlows'), this.own.rt];
    if (!rt.call('takeFlows', () => rt.x.ns_engine_take_flows(h, flush ? 1 : 0, json ? 1 : 0))) return null;
    const [rowsPtr, rowsLen, jsonPtr, jsonLen] = words(rt.takeBytes('takeFlows'));
    return {
      rows: rowsLen === MISSING ? null : rt.takeBytesAt('takeFlows', rowsPtr, rowsLen),
      json: jsonLen === MISSING ? null : decoder.decode(rt.takeBytesAt('takeFlows', jsonPtr, jsonLen)),
    };
  }

  flowsIdle(ms: number): void {
    const [h, rt] = [this.own.handle('flowsIdle'), this.own.rt];
    rt.call('flowsIdle', () => rt.x.ns_engine_flows_idle(h, ms));
  }

  queryFlows(query: string): string | null {
    expectString(query, 'queryFlows: query');
    const [h, rt] = [this.own.handle('queryFlows'), this.own.rt];
    const bytes = encoder.encode(query);
    const ptr = rt.write('queryFlows', bytes);
    const r = rt.call('queryFlows', () => rt.x.ns_engine_query_flows(h, ptr, bytes.length));
    if (r === 2) return null;
    const text = rt.takeText('queryFlows');
    if (r === 1) throw new Error(text);
    return text;
  }

  secondsJson(fromMs: number, toMs: number): string | null {
    const [h, rt] = [this.own.handle('secondsJson'), this.own.rt];
    return rt.call('secondsJson', () => rt.x.ns_engine_seconds_json(h, fromMs, toMs)) ? rt.takeText('secondsJson') : null;
  }

  statsJson(): string {
    const [h, rt] = [this.own.handle('statsJson'), this.own.rt];
    rt.call('statsJson', () => rt.x.ns_engine_stats_json(h));
    return rt.takeText('statsJson');
  }

  free(): void {
    this.own.free();
  }
}

/** The package root: two levels above dist/ts/backend. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function wasmPath(): string {
  return join(packageRoot(), 'wasm', 'netspectra.wasm');
}

/** The wasm backend; its objects also have `free()`. */
export interface WasmBackend extends Backend {
  name: 'wasm';
  createAnalyzer(options?: AnalyzerOptions): WasmAnalyzer;
  createTrafficSource(options?: TrafficOptions): WasmTrafficSource;
  createPacketBatcher(options: PacketBatcherOptions): WasmPacketBatcher;
  createBatchEngine(options?: AnalyzerOptions): WasmBatchEngine;
  storageRows(snapshot: Uint8Array, source: string, run: string): Uint8Array;
  tablesJson(): string;
}

/** Loads wasm/netspectra.wasm (built by `npm run build:wasm`); throws with the path it tried.
 * Objects share one instance; after a trap, new objects get a fresh one. */
export function loadWasm(): WasmBackend {
  const file = wasmPath();
  if (!existsSync(file)) throw new Error(`wasm backend not found at ${file} (build it with \`npm run build:wasm\`)`);
  const module = new WebAssembly.Module(readFileSync(file));
  let rt: Runtime | undefined;
  const runtime = (): Runtime => {
    if (rt === undefined || rt.broken !== undefined) {
      rt = new Runtime(new WebAssembly.Instance(module, {}).exports as unknown as Exports);
    }
    return rt;
  };
  return {
    name: 'wasm',
    createAnalyzer: (options) => new WasmAnalyzer(runtime(), options),
    createTrafficSource: (options) => new WasmTrafficSource(runtime(), options),
    createPacketBatcher: (options) => new WasmPacketBatcher(runtime(), options),
    createBatchEngine: (options) => new WasmBatchEngine(runtime(), options),
    storageRows: (snapshot, source, run) => storageRows(runtime(), snapshot, source, run),
    tablesJson: () => {
      const rt = runtime();
      rt.call('tablesJson', () => rt.x.ns_tables_json());
      return rt.takeText('tablesJson');
    },
  };
}

function storageRows(rt: Runtime, snapshot: Uint8Array, source: string, run: string): Uint8Array {
  expectBytes(snapshot, 'storageRows: snapshot');
  expectString(source, 'storageRows: source');
  expectString(run, 'storageRows: run');
  const name = encoder.encode(source);
  const id = encoder.encode(run);
  const input = new Uint8Array(8 + name.length + id.length + snapshot.length);
  const view = new DataView(input.buffer);
  view.setUint32(0, name.length, true);
  input.set(name, 4);
  view.setUint32(4 + name.length, id.length, true);
  input.set(id, 8 + name.length);
  input.set(snapshot, 8 + name.length + id.length);
  const ptr = rt.write('storageRows', input);
  const failed = rt.call('storageRows', () => rt.x.ns_storage_rows(ptr, input.length));
  if (failed) throw Object.assign(new Error(rt.takeText('storageRows')), { code: 'InvalidArg' });
  return rt.takeBytes('storageRows');
}
