// Arguments of the non-native backends (wasm, js), checked for their JavaScript types as strictly
// as the napi binding converts them: an absent option is undefined, null is a wrong type, counts
// are cut to 32 bits as napi_get_value_uint32 does, and a refusal is a TypeError carrying the
// same `code` as napi's. The values' meaning (seed text, window range, task shapes) is the core's
// to judge, with its own messages.
import type { AnalyzerOptions, FlowOptions, TaskOptions, TrafficOptions } from './types.js';

type Kind = 'string' | 'number' | 'boolean';
const CODES: Record<Kind, string> = { string: 'StringExpected', number: 'NumberExpected', boolean: 'BooleanExpected' };

function refuse(path: string, message: string, code: string): TypeError {
  return Object.assign(new TypeError(`${path} ${message}`), { code });
}

function expect(kind: Kind, v: unknown, path: string): void {
  if (typeof v !== kind) throw refuse(path, `must be a ${kind}, got ${v === null ? 'null' : typeof v}`, CODES[kind]);
}

export function expectString(v: unknown, path: string): string {
  expect('string', v, path);
  return v as string;
}

export function expectNumber(v: unknown, path: string): number {
  expect('number', v, path);
  return v as number;
}

/** A u32 argument: the low 32 bits of the truncated number, as napi_get_value_uint32 gives. */
export function expectU32(v: unknown, path: string): number {
  return expectNumber(v, path) >>> 0;
}

export function expectBool(v: unknown, path: string): boolean {
  expect('boolean', v, path);
  return v as boolean;
}

/** A byte chunk: a Uint8Array (a Buffer is one). */
export function expectBytes(v: unknown, path: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw refuse(path, `must be a Uint8Array, got ${v === null ? 'null' : typeof v}`, 'InvalidArg');
  return v;
}

/** Options that are not an object are no options (as in the native addon). */
function fieldsOf(o: unknown): Record<string, unknown> | undefined {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : undefined;
}

function optional<T>(o: Record<string, unknown>, name: string, convert: (v: unknown, path: string) => T, at: string): T | undefined {
  const v = o[name];
  return v === undefined ? undefined : convert(v, `${at}.${name}`);
}

/** Copies the defined entries of `from` (so absent options stay absent). */
function defined<T extends object>(from: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(from).filter(([, v]) => v !== undefined)) as T;
}

function taskOptions(task: unknown, at: string): TaskOptions {
  const t = fieldsOf(task);
  if (!t) throw refuse(at, `must be an object, got ${task === null ? 'null' : typeof task}`, 'ObjectExpected');
  const required = (name: string) => {
    if (t[name] === undefined) throw refuse(`${at}.${name}`, 'is missing', 'InvalidArg');
    return expectString(t[name], `${at}.${name}`);
  };
  return defined<TaskOptions>({
    name: required('name'),
    type: required('type') as TaskOptions['type'],
    key: required('key'),
    distinct: optional(t, 'distinct', expectString, at),
    element: optional(t, 'element', expectString, at),
    depth: optional(t, 'depth', expectU32, at),
    width: optional(t, 'width', expectU32, at),
    conservative: optional(t, 'conservative', expectBool, at),
    heavyHitters: optional(t, 'heavyHitters', expectU32, at),
    registers: optional(t, 'registers', expectU32, at),
    registerBits: optional(t, 'registerBits', expectU32, at),
    decayBase: optional(t, 'decayBase', expectNumber, at),
    threshold: optional(t, 'threshold', expectNumber, at),
  });
}

/** AnalyzerOptions with every type checked before any value is used (a type error anywhere wins
 * over a bad value); undefined when no options were given. */
export function analyzerOptions(options: unknown): AnalyzerOptions | undefined {
  const o = fieldsOf(options);
  if (!o) return undefined;
  const at = 'AnalyzerOptions';
  if (o.tasks !== undefined && !Array.isArray(o.tasks)) throw refuse(`${at}.tasks`, `must be an array, got ${o.tasks === null ? 'null' : typeof o.tasks}`, 'ArrayExpected');
  return defined<AnalyzerOptions>({
    seed: optional(o, 'seed', expectString, at),
    windowSeconds: optional(o, 'windowSeconds', expectNumber, at),
    top: optional(o, 'top', expectU32, at),
    keepWindows: optional(o, 'keepWindows', expectBool, at),
    snapshots: optional(o, 'snapshots', expectBool, at),
    tasks: (o.tasks as unknown[] | undefined)?.map((t, i) => taskOptions(t, `${at}.tasks[${i}]`)),
    flows: o.flows === undefined ? undefined : flowOptions(o.flows, `${at}.flows`),
    seconds: optional(o, 'seconds', expectU32, at),
    source: optional(o, 'source', expectString, at),
    run: optional(o, 'run', expectString, at),
    threads: optional(o, 'threads', expectU32, at),
    bpf: optional(o, 'bpf', expectString, at),
  });
}

/** Refuses a filter in a backend without libpcap (wasm, js): never an unfiltered count. */
export function refuseBpf(o: AnalyzerOptions | undefined, backend: string): void {
  if (o?.bpf?.trim()) throw new Error(`--bpf "${o.bpf}" needs the native backend (libpcap's filter compiler); this run uses the ${backend} backend`);
}

export function flowOptions(options: unknown, at: string): FlowOptions {
  const o = fieldsOf(options) ?? {};
  return defined<FlowOptions>({
    idleTcp: optional(o, 'idleTcp', expectNumber, at),
    idleUdp: optional(o, 'idleUdp', expectNumber, at),
    idleIcmp: optional(o, 'idleIcmp', expectNumber, at),
    idleOther: optional(o, 'idleOther', expectNumber, at),
    activeTimeout: optional(o, 'activeTimeout', expectNumber, at),
    closedLinger: optional(o, 'closedLinger', expectNumber, at),
    maxFlows: optional(o, 'maxFlows', expectU32, at),
    localNetworks: optional(o, 'localNetworks', expectString, at),
    probe: optional(o, 'probe', expectString, at),
    names: optional(o, 'names', expectBool, at),
  });
}

export function trafficOptions(options: unknown): TrafficOptions | undefined {
  const o = fieldsOf(options);
  if (!o) return undefined;
  const at = 'TrafficOptions';
  return defined<TrafficOptions>({
    seed: optional(o, 'seed', expectU32, at),
    packets: optional(o, 'packets', expectU32, at),
    hosts: optional(o, 'hosts', expectU32, at),
    durationSeconds: optional(o, 'durationSeconds', expectNumber, at),
    startMs: optional(o, 'startMs', expectNumber, at),
  });
}
