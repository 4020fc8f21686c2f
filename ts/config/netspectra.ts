// The configuration of NetSpectra: every key, its default and its limits. configs/netspectra.yaml
// documents the same keys for users; a test keeps the two in step.
import type { Schema } from './schema.js';

export const KEY_FIELDS = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] as const;
export type KeyField = (typeof KEY_FIELDS)[number];

function fieldList(doc: string, minItems: number, dflt: KeyField[]): Schema {
  return { kind: 'list', item: { kind: 'enum', values: KEY_FIELDS, default: 'SrcIP', doc: 'a flow field' }, default: dflt, minItems, doc };
}

const common = {
  name: {
    kind: 'string',
    default: '',
    pattern: /^[a-z][a-z0-9_]{0,62}$/,
    patternText: 'a name of lower-case letters, digits and _ starting with a letter',
    doc: 'task name, unique',
  },
  key: fieldList('flow fields that make the key', 1, ['SrcIP']),
} satisfies Record<string, Schema>;

const exactTask: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'exact per-key packets and bytes (100% accurate, memory grows with the keys)',
  fields: {
    ...common,
    type: { kind: 'enum', values: ['exact'], default: 'exact', doc: 'task type' },
    distinct: fieldList('also count distinct values of these fields per key (the ground truth for spreads)', 0, []),
  },
};

const countMinTask: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'Count-Min sketch of packets and bytes per key with heavy-hitter candidates (fixed memory)',
  fields: {
    ...common,
    type: { kind: 'enum', values: ['countmin'], default: 'countmin', doc: 'task type' },
    depth: { kind: 'int', default: 4, min: 1, max: 16, doc: 'rows d; failure probability delta = e^-d' },
    width: { kind: 'int', default: 2048, min: 1, max: 1 << 26, doc: 'counters per row w; error eps = e/w of the window total' },
    conservative: { kind: 'bool', default: true, doc: 'conservative update (never worse, usually far better)' },
    heavyHitters: { kind: 'int', default: 20, min: 0, max: 100_000, doc: 'candidate keys kept per window, by packets and by bytes' },
  },
};

const superSpreadTask: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'SuperSpread sketch: distinct element values per key, keys above a threshold (fixed memory)',
  fields: {
    ...common,
    type: { kind: 'enum', values: ['superspread'], default: 'superspread', doc: 'task type' },
    element: fieldList('fields whose distinct values are counted per key', 1, ['DstIP']),
    depth: { kind: 'int', default: 2, min: 1, max: 8, doc: 'rows' },
    width: { kind: 'int', default: 8192, min: 1, max: 1 << 22, doc: 'buckets per row' },
    registers: { kind: 'powerOfTwo', default: 128, min: 8, max: 4096, doc: 'sampler registers per bucket' },
    registerBits: { kind: 'int', default: 5, min: 3, max: 8, doc: 'bits per register' },
    decayBase: { kind: 'float', default: 1.08, min: 1, max: 2, exclusiveMin: true, doc: 'HeavyKeeper decay base' },
    threshold: { kind: 'int', default: 64, min: 1, max: 2 ** 32, doc: 'report keys whose spread reaches this' },
  },
};

export const configSchema: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'NetSpectra configuration',
  fields: {
    seed: {
      kind: 'string',
      default: '7954892329472115572',
      pattern: /^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/,
      patternText: 'an unsigned 64-bit integer (decimal or 0x hex)',
      doc: 'hash seed shared by every engine, so their tables and sketches agree',
    },
    window: { kind: 'duration', default: 10, min: 0.001, max: 86_400, doc: 'tumbling window length of the live engine' },
    analyze: {
      kind: 'object',
      doc: 'offline analysis (netspectra analyze)',
      fields: {
        top: { kind: 'int', default: 10, min: 1, max: 10000, doc: 'rows in each top-N section of the report' },
        chunkSize: { kind: 'bytes', default: 4 * 1024 * 1024, min: 4096, max: 1024 * 1024 * 1024, doc: 'bytes read from the file per call into the engine' },
        window: { kind: 'duration', default: 0, min: 0, max: 86_400, doc: 'window length for offline analysis; 0 = the whole capture is one window' },
        exactBeside: { kind: 'bool', default: true, doc: 'run an exact task beside every sketch so the report shows the true value next to each estimate' },
      },
    },
    tasks: {
      kind: 'list',
      item: { kind: 'union', tag: 'type', variants: { exact: exactTask, countmin: countMinTask, superspread: superSpreadTask }, doc: 'an aggregation task' },
      default: [
        { name: 'src_ip', type: 'exact', key: ['SrcIP'], distinct: [] },
        { name: 'dst_port', type: 'exact', key: ['DstPort', 'Protocol'], distinct: [] },
        { name: 'heavy_flows', type: 'countmin', key: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], depth: 4, width: 2048, conservative: true, heavyHitters: 20 },
        { name: 'scanners', type: 'superspread', key: ['SrcIP'], element: ['DstIP'], depth: 2, width: 8192, registers: 128, registerBits: 5, decayBase: 1.08, threshold: 64 },
        { name: 'victims', type: 'superspread', key: ['DstIP'], element: ['SrcIP'], depth: 2, width: 8192, registers: 128, registerBits: 5, decayBase: 1.08, threshold: 64 },
      ],
      doc: 'aggregation tasks run over every packet',
    },
  },
};

export interface ExactTaskConfig {
  name: string;
  type: 'exact';
  key: KeyField[];
  distinct: KeyField[];
}

export interface CountMinTaskConfig {
  name: string;
  type: 'countmin';
  key: KeyField[];
  depth: number;
  width: number;
  conservative: boolean;
  heavyHitters: number;
}

export interface SuperSpreadTaskConfig {
  name: string;
  type: 'superspread';
  key: KeyField[];
  element: KeyField[];
  depth: number;
  width: number;
  registers: number;
  registerBits: number;
  decayBase: number;
  threshold: number;
}

export type TaskConfig = ExactTaskConfig | CountMinTaskConfig | SuperSpreadTaskConfig;

export interface NetspectraConfig {
  seed: string;
  /** Seconds. */
  window: number;
  analyze: { top: number; chunkSize: number; window: number; exactBeside: boolean };
  tasks: TaskConfig[];
}
