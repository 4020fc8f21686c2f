// The configuration of NetSpectra: every key, its default and its limits. configs/netspectra.yaml
// documents the same keys for users; a test keeps the two in step.
import type { Schema } from './schema.js';

export const KEY_FIELDS = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] as const;
export type KeyField = (typeof KEY_FIELDS)[number];

const keyList: Schema = {
  kind: 'list',
  item: { kind: 'enum', values: KEY_FIELDS, default: 'SrcIP', doc: 'a flow field' },
  default: ['SrcIP'],
  minItems: 1,
  doc: 'flow fields that make the key',
};

const exactTask: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'exact per-key packets and bytes',
  fields: {
    name: { kind: 'string', default: '', pattern: /^[a-z][a-z0-9_]{0,62}$/, patternText: 'a name of lower-case letters, digits and _ starting with a letter', doc: 'task name' },
    type: { kind: 'enum', values: ['exact'], default: 'exact', doc: 'task type' },
    key: keyList,
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
    analyze: {
      kind: 'object',
      doc: 'offline analysis (netspectra analyze)',
      fields: {
        top: { kind: 'int', default: 10, min: 1, max: 10000, doc: 'rows in each top-N section of the report' },
        chunkSize: { kind: 'bytes', default: 4 * 1024 * 1024, min: 4096, max: 1024 * 1024 * 1024, doc: 'bytes read from the file per call into the engine' },
      },
    },
    tasks: {
      kind: 'list',
      item: { kind: 'union', tag: 'type', variants: { exact: exactTask }, doc: 'an aggregation task' },
      default: [
        { name: 'src_ip', type: 'exact', key: ['SrcIP'] },
        { name: 'dst_port', type: 'exact', key: ['DstPort', 'Protocol'] },
      ],
      doc: 'aggregation tasks run over every packet',
    },
  },
};

export interface ExactTaskConfig {
  name: string;
  type: 'exact';
  key: KeyField[];
}

export type TaskConfig = ExactTaskConfig;

export interface NetspectraConfig {
  seed: string;
  analyze: { top: number; chunkSize: number };
  tasks: TaskConfig[];
}
