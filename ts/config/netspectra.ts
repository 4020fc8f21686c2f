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
    nats: {
      kind: 'object',
      doc: 'NATS between probes and engines (netspectra probe / engine)',
      fields: {
        url: { kind: 'string', default: '', doc: 'server URL(s), comma separated, e.g. nats://127.0.0.1:4222; empty: no NATS (probe --engine runs the engine in process)' },
        subject: { kind: 'string', default: 'netspectra.packets', pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, patternText: 'a NATS subject without wildcards', doc: 'subject prefix; batches go to <subject>.<partition>' },
        queueGroup: { kind: 'string', default: 'netspectra-engines', pattern: /^[A-Za-z0-9_-]+$/, patternText: 'letters, digits, _ and -', doc: 'queue group of the engines: each batch goes to one engine of the group' },
        jetstream: { kind: 'bool', default: false, doc: 'no-loss delivery through a JetStream stream and a durable consumer' },
        stream: { kind: 'string', default: 'NETSPECTRA_PACKETS', pattern: /^[A-Za-z0-9_-]+$/, patternText: 'letters, digits, _ and -', doc: 'JetStream stream name (created if missing)' },
        durable: { kind: 'string', default: 'netspectra-engine', pattern: /^[A-Za-z0-9_-]+$/, patternText: 'letters, digits, _ and -', doc: 'JetStream durable consumer shared by the engines' },
        ackWait: { kind: 'duration', default: 0, min: 0, max: 86_400, doc: 'JetStream: redelivery after this long without an ack; 0: twice (window + idleClose) plus 30 s' },
        maxAge: { kind: 'duration', default: 3600, min: 1, max: 365 * 86_400, doc: 'JetStream: how long unconsumed batches are kept' },
        duplicateWindow: { kind: 'duration', default: 120, min: 1, max: 86_400, doc: 'JetStream: window in which a re-sent batch (same probe and sequence) is dropped' },
        reconnectBuffer: { kind: 'bytes', default: 64 * 1024 * 1024, min: 0, max: 16 * 1024 ** 3, doc: 'probe: batches kept while NATS is unreachable; beyond this the oldest are dropped and counted' },
      },
    },
    probe: {
      kind: 'object',
      doc: 'live capture (netspectra probe)',
      fields: {
        id: { kind: 'string', default: '', doc: 'probe id in every batch; empty: the host name' },
        interface: { kind: 'string', default: '', doc: 'interface to capture on' },
        bpf: { kind: 'string', default: 'ip or ip6', doc: 'BPF filter (pcap-filter syntax)' },
        snaplen: { kind: 'int', default: 160, min: 16, max: 262_144, doc: 'bytes captured per packet (headers only by default)' },
        promiscuous: { kind: 'bool', default: true, doc: 'capture traffic not addressed to this host' },
        bufferSize: { kind: 'bytes', default: 32 * 1024 * 1024, min: 65_536, max: 2 * 1024 ** 3 - 1, doc: 'kernel capture buffer' },
        batchPackets: { kind: 'int', default: 1024, min: 1, max: 65_536, doc: 'a batch is sent when it holds this many packets...' },
        flushInterval: { kind: 'duration', default: 0.1, min: 0.001, max: 60, doc: '...or when it is this old, whichever comes first' },
        partitions: { kind: 'int', default: 1, min: 1, max: 1024, doc: 'subjects the stream is split into by address pair (conversations stay whole)' },
        persist: {
          kind: 'object',
          doc: 'raw packets also written to rotating pcap files, off the capture path',
          fields: {
            dir: { kind: 'string', default: '', doc: 'folder for the files; empty: off' },
            fileSize: { kind: 'bytes', default: 100 * 1024 * 1024, min: 4096, max: 1024 ** 4, doc: 'start a new file beyond this size' },
            files: { kind: 'int', default: 10, min: 1, max: 100_000, doc: 'files kept; the oldest is deleted' },
          },
        },
      },
    },
    engine: {
      kind: 'object',
      doc: 'the windowed engine (netspectra engine, probe --engine)',
      fields: {
        workers: { kind: 'int', default: 0, min: 0, max: 256, doc: 'worker threads; 0: one per core (at most one per group of tasks sharing a key), none on one core' },
        idleClose: { kind: 'duration', default: 2, min: 0.01, max: 3600, doc: 'close the open window when no batch came for this long and the clock is past its end' },
        output: { kind: 'string', default: '', doc: 'JSON Lines file of closed windows (appended); JetStream restarts resume after its last window' },
        top: { kind: 'int', default: 10, min: 1, max: 10000, doc: 'rows in each top-N list of a window' },
        maxQueued: { kind: 'bytes', default: 256 * 1024 * 1024, min: 1024 * 1024, max: 64 * 1024 ** 3, doc: 'batches waiting for the workers; beyond this new batches are dropped and counted (core NATS)' },
      },
    },
    storage: {
      kind: 'object',
      doc: 'where closed windows are stored (analyze, engine, probe --engine) and what serve queries',
      fields: {
        kind: { kind: 'enum', default: 'embedded', values: ['embedded', 'clickhouse', 'file', 'none'], doc: 'embedded: ClickHouse in process (chdb) in `path`; clickhouse: a server by `url`; file: JSON Lines in `path`; none: not stored' },
        path: { kind: 'string', default: '', doc: 'embedded: data folder; file: output folder; empty: $XDG_DATA_HOME/netspectra (~/.local/share/netspectra)' },
        url: { kind: 'string', default: 'http://127.0.0.1:8123', doc: 'clickhouse: server URL (HTTP interface)' },
        user: { kind: 'string', default: 'default', doc: 'clickhouse: user' },
        password: { kind: 'string', default: '', doc: 'clickhouse: password (prefer NETSPECTRA_STORAGE_PASSWORD)' },
        database: { kind: 'string', default: 'netspectra', pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternText: 'letters, digits and _', doc: 'database; created with its tables and migrated at start' },
        retention: { kind: 'duration', default: 30 * 86_400, min: 3600, max: 100 * 365 * 86_400, doc: 'rows are deleted this long after they were written (TTL)' },
        batchRows: { kind: 'int', default: 100_000, min: 1, max: 10_000_000, doc: 'rows sent in one insert...' },
        flushInterval: { kind: 'duration', default: 1, min: 0.01, max: 3600, doc: '...or after this long, whichever comes first' },
        retryMax: { kind: 'duration', default: 30, min: 0.01, max: 3600, doc: 'longest wait between retries (backoff doubles from 0.25 s)' },
        spillDir: { kind: 'string', default: '', doc: 'rows that cannot be written now go here and are replayed on recovery; empty: <path>/spill' },
        spillMax: { kind: 'bytes', default: 1024 ** 3, min: 0, max: 1024 ** 4, doc: 'spill size limit; rows beyond it are counted as lost and logged' },
        source: { kind: 'string', default: '', doc: 'name of this writer in every row; empty: the host name (analyze: analyze:<files>)' },
      },
    },
    api: {
      kind: 'object',
      doc: 'the query API (netspectra serve, netspectra query)',
      fields: {
        host: { kind: 'string', default: '127.0.0.1', doc: 'address to listen on (loopback by default)' },
        port: { kind: 'int', default: 7070, min: 0, max: 65_535, doc: 'port (0: any free port)' },
        url: { kind: 'string', default: '', doc: 'netspectra query: API URL; empty: http://<host>:<port>' },
        tokens: { kind: 'string', default: '', doc: 'bearer tokens, comma separated; when set every request needs one (prefer NETSPECTRA_API_TOKENS)' },
        maxLimit: { kind: 'int', default: 10_000, min: 1, max: 1_000_000, doc: 'largest number of rows one request may ask for' },
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
  nats: NatsConfig;
  probe: ProbeConfig;
  engine: EngineConfig;
  storage: StorageConfig;
  api: ApiConfig;
  tasks: TaskConfig[];
}

export interface StorageConfig {
  kind: 'embedded' | 'clickhouse' | 'file' | 'none';
  path: string;
  url: string;
  user: string;
  password: string;
  database: string;
  /** Seconds. */
  retention: number;
  batchRows: number;
  flushInterval: number;
  retryMax: number;
  spillDir: string;
  spillMax: number;
  source: string;
}

export interface ApiConfig {
  host: string;
  port: number;
  url: string;
  tokens: string;
  maxLimit: number;
}

export interface NatsConfig {
  url: string;
  subject: string;
  queueGroup: string;
  jetstream: boolean;
  stream: string;
  durable: string;
  /** Seconds. */
  ackWait: number;
  maxAge: number;
  duplicateWindow: number;
  reconnectBuffer: number;
}

export interface ProbeConfig {
  id: string;
  interface: string;
  bpf: string;
  snaplen: number;
  promiscuous: boolean;
  bufferSize: number;
  batchPackets: number;
  /** Seconds. */
  flushInterval: number;
  partitions: number;
  persist: { dir: string; fileSize: number; files: number };
}

export interface EngineConfig {
  workers: number;
  /** Seconds. */
  idleClose: number;
  output: string;
  top: number;
  maxQueued: number;
}
