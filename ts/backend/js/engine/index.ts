// The engine of the pure TypeScript backend: tasks (exact, Count-Min, SuperSpread) over the
// packet records in tumbling windows, byte for byte as the core's engine (crates/core/src/engine,
// sketch/, table/exact.rs, hash.rs): same hashes, seeds, snapshot bytes and window JSON.
//
// Codemap (each file names its Rust original):
//   engine, task, snapshot   Engine, Task/TaskSpec, WindowSnapshot (NSWS encode, window JSON)
//   task-specs               the binding's TaskOptions -> TaskSpec mapping (crates/napi)
//   exact-table, key-index   ExactTable over an insert-only byte-key index; hashbrown capacities
//                            (hashbrown.ts) for bytesPerKey
//   count-min, super-spread  the sketches, per their module docs (NSCM, NSSS encodings)
//   hash, counter-rng        murmur3_32 / fmix32 / derived_seed, CounterRng (32-bit limbs)
//   packed-key, key-fields   PackedKey bytes, text and order; KeyFields parse and text
//
// Numbers: packet and byte counts (windows, exact tables, Count-Min counters and totals) are JS
// numbers, exact below 2^53 (9 PB per window), so the core's u64 saturation never applies.
// Everything u64 that can pass 2^53 is exact: times, seeds and the SuperSpread threshold are
// bigints, generator draws use 32-bit limbs, and a SuperSpread counter past 2^53 turns into a
// bigint. Nothing is allocated per packet except table growth.

export { Engine, type EngineConfig } from './engine.js';
export { WindowSnapshot, type WindowCounters } from './snapshot.js';
export { type TaskKind, type TaskSnapshot, type TaskSpec } from './task.js';
export { type CountMinConfig } from './count-min.js';
export { type SuperSpreadConfig } from './super-spread.js';
export { taskSpecs } from './task-specs.js';
