// The argument checks the napi binding does before the core sees a value (napi-rs conversions in
// crates/napi), with the same texts and codes, so a wrong call fails alike in every backend.
import type { AnalyzerOptions, TaskOptions } from '../types.js';

/** An Error as napi-rs throws it: the message, and the status name as `code`. */
export function bindingError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** napi-rs's short description of a JS value in a failed String conversion. */
function describe(v: unknown): string {
  switch (typeof v) {
    case 'undefined':
      return 'Undefined';
    case 'boolean':
      return `Boolean ${v} `;
    case 'number':
      return `Number ${v} `;
    case 'symbol':
      return 'Symbol';
    case 'bigint':
      return 'Unknown';
    case 'function':
      return `function ${(v as { name?: string }).name || 'anonymous'}(..) `;
    default:
      if (v === null) return 'Null';
      try {
        return `Object ${JSON.stringify(v)}`;
      } catch {
        return 'Object';
      }
  }
}

/** The napi value type name used by number conversions. */
function typeName(v: unknown): string {
  if (v === null) return 'Null';
  switch (typeof v) {
    case 'undefined':
      return 'Undefined';
    case 'boolean':
      return 'Boolean';
    case 'number':
      return 'Number';
    case 'string':
      return 'String';
    case 'symbol':
      return 'Symbol';
    case 'function':
      return 'Function';
    case 'object':
      return 'Object';
    default:
      return 'Unknown';
  }
}

export function expectString(v: unknown, where = ''): string {
  if (typeof v !== 'string') throw bindingError(`Failed to convert JavaScript value \`${describe(v)}\` into rust type \`String\`${where}`, 'StringExpected');
  return v;
}

export function expectNumber(v: unknown, rustType: 'f64' | 'u32', where = ''): number {
  if (typeof v !== 'number') throw bindingError(`Failed to convert napi value ${typeName(v)} into rust type \`${rustType}\`${where}`, 'NumberExpected');
  return v;
}

/** A u32 argument: napi_get_value_uint32 keeps the low 32 bits of the truncated number. */
export function expectU32(v: unknown, where = ''): number {
  return expectNumber(v, 'u32', where) >>> 0;
}

export function expectBool(v: unknown, where = ''): boolean {
  if (typeof v !== 'boolean') throw bindingError(`Failed to convert napi value into rust type \`bool\`${where}`, 'BooleanExpected');
  return v;
}

const TYPED_ARRAY_TYPES: [new (...a: never[]) => unknown, number][] = [
  [Int8Array, 0],
  [Uint8Array, 1],
  [Uint8ClampedArray, 2],
  [Int16Array, 3],
  [Uint16Array, 4],
  [Int32Array, 5],
  [Uint32Array, 6],
  [Float32Array, 7],
  [Float64Array, 8],
  [BigInt64Array, 9],
  [BigUint64Array, 10],
];

/** A `&[u8]` argument: a Uint8Array (a Buffer is one). */
export function expectBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  for (const [type, code] of TYPED_ARRAY_TYPES) {
    if (v instanceof type) throw bindingError(`Expected $name, got ${code}`, 'InvalidArg');
  }
  throw bindingError('Get TypedArray info failed', 'InvalidArg');
}

/** A field of an options object, read as napi does (primitives have no fields of their own). */
function field(o: unknown, name: string): unknown {
  return (o as Record<string, unknown>)[name];
}

function optional<T>(o: unknown, name: string, convert: (v: unknown, where: string) => T, where: string): T | undefined {
  const v = field(o, name);
  return v === undefined ? undefined : convert(v, ` on ${where}.${name}`);
}

const TASKS_WHERE = ' on AnalyzerOptions.tasks';

function required(o: unknown, name: string): string {
  const v = field(o, name);
  if (v === undefined) throw bindingError(`Missing field \`${name}\`${TASKS_WHERE}`, 'InvalidArg');
  return expectString(v, ` on TaskOptions.${name}${TASKS_WHERE}`);
}

/** One TaskOptions object as the binding converts it (u32 fields cut to 32 bits). */
function convertTask(t: unknown): TaskOptions {
  if (t === null || t === undefined) throw new TypeError('Cannot convert undefined or null to object');
  const w = `TaskOptions`;
  const str = (v: unknown, where: string) => expectString(v, `${where}${TASKS_WHERE}`);
  const u32 = (v: unknown, where: string) => expectU32(v, `${where}${TASKS_WHERE}`);
  const f64 = (v: unknown, where: string) => expectNumber(v, 'f64', `${where}${TASKS_WHERE}`);
  const bool = (v: unknown, where: string) => expectBool(v, `${where}${TASKS_WHERE}`);
  const out: TaskOptions = { name: required(t, 'name'), type: required(t, 'type') as TaskOptions['type'], key: required(t, 'key') };
  const set = <K extends keyof TaskOptions>(k: K, v: TaskOptions[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('distinct', optional(t, 'distinct', str, w));
  set('element', optional(t, 'element', str, w));
  set('depth', optional(t, 'depth', u32, w));
  set('width', optional(t, 'width', u32, w));
  set('conservative', optional(t, 'conservative', bool, w));
  set('heavyHitters', optional(t, 'heavyHitters', u32, w));
  set('registers', optional(t, 'registers', u32, w));
  set('registerBits', optional(t, 'registerBits', u32, w));
  set('decayBase', optional(t, 'decayBase', f64, w));
  set('threshold', optional(t, 'threshold', f64, w));
  return out;
}

/**
 * AnalyzerOptions as the binding converts them, every field before any is used (so a type error
 * anywhere wins over a bad value); undefined when no options were given.
 */
export function convertOptions(o: unknown): AnalyzerOptions | undefined {
  if (o === undefined || o === null) return undefined;
  const w = 'AnalyzerOptions';
  const out: AnalyzerOptions = {};
  const seed = optional(o, 'seed', expectString, w);
  const windowSeconds = optional(o, 'windowSeconds', (v, where) => expectNumber(v, 'f64', where), w);
  const top = optional(o, 'top', expectU32, w);
  const keepSnapshots = optional(o, 'keepSnapshots', expectBool, w);
  const tasks = field(o, 'tasks');
  if (tasks !== undefined && !Array.isArray(tasks)) throw bindingError(`Failed to get Array length${TASKS_WHERE}`, 'ArrayExpected');
  if (seed !== undefined) out.seed = seed;
  if (windowSeconds !== undefined) out.windowSeconds = windowSeconds;
  if (top !== undefined) out.top = top;
  if (keepSnapshots !== undefined) out.keepSnapshots = keepSnapshots;
  if (tasks !== undefined) out.tasks = Array.from(tasks as unknown[], (t) => convertTask(t));
  return out;
}
