// TaskOptions -> TaskSpec, as the compiled backends map them (crates/core/src/options.rs
// TaskOptions::spec, behind crates/napi and crates/wasm): the same defaults, conversions (napi's
// u32 from a JS number) and error texts.

import type { TaskOptions } from '../../types.js';
import { parseKeyFields } from './key-fields.js';
import type { TaskSpec } from './task.js';

const U64_MAX = (1n << 64n) - 1n;

/** napi's u32 conversion of a JS number (ToUint32: truncate, modulo 2^32). */
function u32(v: number | undefined | null, fallback: number): number {
  return v === undefined || v === null ? fallback : v >>> 0;
}

/** Rust's `f64::max(v, 1.0) as u64`: NaN gives 1, saturating at 0 and 2^64 - 1. */
function thresholdU64(v: number): bigint {
  const x = Number.isNaN(v) ? 1 : Math.max(v, 1);
  if (x >= 18446744073709551616) return U64_MAX;
  return BigInt(Math.trunc(x));
}

function fields(task: string, what: string, list: string | undefined | null): number {
  if (list === undefined || list === null || list === '') return 0;
  try {
    return parseKeyFields(list);
  } catch (e) {
    throw new Error(`task "${task}": ${what}: ${(e as Error).message}`);
  }
}

function taskSpec(t: TaskOptions, seed: bigint): TaskSpec {
  let key: number;
  try {
    key = parseKeyFields(t.key);
  } catch (e) {
    throw new Error(`task "${t.name}": key: ${(e as Error).message}`);
  }
  switch (t.type as string) {
    case 'exact':
      return { name: t.name, key, kind: { type: 'exact', distinct: fields(t.name, 'distinct', t.distinct) } };
    case 'countmin':
      return {
        name: t.name,
        key,
        kind: {
          type: 'countmin',
          config: {
            depth: u32(t.depth, 4),
            width: u32(t.width, 2048),
            conservative: t.conservative ?? true,
            heavyHitters: u32(t.heavyHitters, 20),
            seed,
          },
        },
      };
    case 'superspread':
      return {
        name: t.name,
        key,
        kind: {
          type: 'superspread',
          element: fields(t.name, 'element', t.element),
          config: {
            depth: u32(t.depth, 2),
            width: u32(t.width, 8192),
            registers: u32(t.registers, 128),
            registerBits: u32(t.registerBits, 5),
            decayBase: t.decayBase ?? 1.08,
            threshold: thresholdU64(t.threshold ?? 64),
            seed,
          },
        },
      };
    default:
      throw new Error(`task "${t.name}": unknown type "${t.type}"`);
  }
}

/** The engine's task specs for the analyzer's task options (none when undefined). */
export function taskSpecs(tasks: TaskOptions[] | undefined, seed: bigint): TaskSpec[] {
  return (tasks ?? []).map((t) => taskSpec(t, BigInt.asUintN(64, seed)));
}
