// The configuration of NetSpectra: every key, its default and its limits. configs/netspectra.yaml
// documents the same keys for users; a test keeps the two in step.
import type { Schema } from './schema.js';

/** Key fields in key order (crates/core/src/key.rs). */
export const KEY_FIELDS = [
  'SrcIP', 'DstIP', 'SrcPrefix', 'DstPrefix', 'SrcAS', 'DstAS', 'SrcCountry', 'DstCountry', 'App', 'ServerName', 'SrcPort', 'DstPort', 'Protocol', 'ICMPType', 'ICMPCode',
  'TCPFlags', 'DSCP', 'VLAN', 'Direction', 'Interface',
] as const;
export type KeyField = (typeof KEY_FIELDS)[number];
/** A key field as configured: a prefix may give its IPv4 and IPv6 lengths ("SrcPrefix/24/48"). */
export type KeyFieldSpec = KeyField | `${'SrcPrefix' | 'DstPrefix'}/${string}`;

/** The field a configured one names ("SrcPrefix/24/48" -> "SrcPrefix"). */
export function keyFieldName(spec: string): KeyField {
  return spec.split('/')[0] as KeyField;
}

/** Every field a task names: its key, and its distinct or element fields. */
export function taskFields(t: TaskConfig): KeyField[] {
  return [...(t.key ?? []), ...('distinct' in t ? (t.distinct ?? []) : []), ...('element' in t ? (t.element ?? []) : [])].map(keyFieldName);
}

const FIELD_PATTERN = new RegExp(`^(${KEY_FIELDS.join('|')}|(Src|Dst)Prefix/\\d{1,2}(/\\d{1,3})?)$`);

function fieldList(doc: string, minItems: number, dflt: KeyField[], lengths = true): Schema {
  const item: Schema = lengths
    ? { kind: 'string', pattern: FIELD_PATTERN, patternText: `one of ${KEY_FIELDS.join(', ')} (a prefix may give its lengths: SrcPrefix/24/48)`, default: 'SrcIP', doc: 'a flow field' }
    : { kind: 'enum', values: KEY_FIELDS, default: 'SrcIP', doc: 'a flow field' };
  return { kind: 'list', item, default: dflt, minItems, doc };
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

const ruleName = {
  kind: 'string',
  default: '',
  pattern: /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/,
  patternText: 'a name of letters, digits, _, . and - starting with a letter',
  doc: 'unique name',
} satisfies Schema;

export const ALERT_METRICS = ['packets', 'bytes', 'pps', 'bps', 'flows', 'distinct', 'spread', 'protocol_share', 'new_conversations', 'drops'] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];
export const ALERT_OPS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type AlertOp = (typeof ALERT_OPS)[number];

const alertRule: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'a rule evaluated at every window close',
  fields: {
    name: ruleName,
    task: { kind: 'string', default: '', doc: 'the task whose values the rule reads; empty: the whole window (packets, bytes, pps, bps, new_conversations, drops)' },
    metric: { kind: 'enum', default: 'pps', values: ALERT_METRICS, doc: 'what is compared: packets, bytes, pps, bps (exact and countmin), flows (exact: keys), distinct (exact with distinct), spread (superspread), protocol_share (exact with Protocol in the key), new_conversations (TCP SYN without ACK per second), drops (packets lost by capture or transport)' },
    per: { kind: 'enum', default: 'key', values: ['key', 'total'], doc: 'key: one alert per key (or group); total: one value for the task' },
    groupBy: fieldList('per key: sum the values over these key fields (a subset of the task key); empty: the whole key', 0, [], false),
    protocol: { kind: 'string', default: '', doc: 'protocol_share: the protocol (tcp, udp, icmp, icmpv6, sctp, or a number)' },
    op: { kind: 'enum', default: '>', values: ALERT_OPS, doc: 'comparison of value against threshold' },
    threshold: { kind: 'quantity', default: '0', doc: 'with units: 1GB, 50kpps, 10Mbps, 80%, 2k, 500/s' },
    for: { kind: 'int', default: 1, min: 1, max: 10_000, doc: 'consecutive windows the condition must hold before the alert fires (pending until then)' },
    cooldown: { kind: 'duration', default: 300, min: 0, max: 30 * 86_400, doc: 'a persisting alert is notified again after this long (window time)' },
    severity: { kind: 'enum', default: 'warning', values: ['info', 'warning', 'critical'], doc: 'severity' },
    labels: { kind: 'map', default: {}, doc: 'labels copied into every notification' },
    description: { kind: 'string', default: '', doc: 'text for the notification' },
    notify: { kind: 'list', item: { ...ruleName, doc: 'a notifier name' }, default: [], doc: 'notifiers by name; empty: all of them' },
  },
};

const notifierCommon = {
  name: ruleName,
  minSeverity: { kind: 'enum', default: 'info', values: ['info', 'warning', 'critical'], doc: 'alerts below this severity are not sent here' },
  timeout: { kind: 'duration', default: 10, min: 0.01, max: 600, doc: 'one attempt gives up after this long' },
  retries: { kind: 'int', default: 3, min: 0, max: 100, doc: 'attempts after the first one fails' },
  backoff: { kind: 'duration', default: 1, min: 0.001, max: 3600, doc: 'wait before the first retry; doubles every retry' },
} satisfies Record<string, Schema>;

const webhookNotifier: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'POSTs the alert as JSON',
  fields: {
    ...notifierCommon,
    type: { kind: 'enum', values: ['webhook'], default: 'webhook', doc: 'notifier type' },
    url: { kind: 'string', default: '', pattern: /^https?:\/\/\S+$/, patternText: 'an http:// or https:// URL', doc: 'where the JSON is POSTed' },
    secretEnv: { kind: 'string', default: '', pattern: /^([A-Za-z_][A-Za-z0-9_]*)?$/, patternText: 'an environment variable name', doc: 'environment variable holding the HMAC-SHA256 key; empty: unsigned' },
    signatureHeader: { kind: 'string', default: 'X-NetSpectra-Signature', doc: 'header carrying sha256=<hex HMAC of the body>' },
  },
};

const emailNotifier: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'sends the alert by e-mail over SMTP',
  fields: {
    ...notifierCommon,
    type: { kind: 'enum', values: ['email'], default: 'email', doc: 'notifier type' },
    host: { kind: 'string', default: '127.0.0.1', doc: 'SMTP server' },
    port: { kind: 'int', default: 587, min: 1, max: 65_535, doc: 'SMTP port (587 STARTTLS, 465 implicit TLS, 25 plain)' },
    tls: { kind: 'enum', default: 'starttls', values: ['starttls', 'implicit', 'none'], doc: 'starttls: upgrade, required; implicit: TLS from the first byte; none: plain text' },
    rejectUnauthorized: { kind: 'bool', default: true, doc: 'verify the server certificate' },
    caFile: { kind: 'string', default: '', doc: 'PEM file of CA certificates trusted besides the system ones (an internal CA)' },
    user: { kind: 'string', default: '', doc: 'SMTP user; empty: no authentication' },
    passwordEnv: { kind: 'string', default: 'NETSPECTRA_SMTP_PASSWORD', pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternText: 'an environment variable name', doc: 'environment variable holding the SMTP password' },
    from: { kind: 'string', default: 'netspectra@localhost', doc: 'sender address' },
    to: { kind: 'list', item: { kind: 'string', default: '', pattern: /^[^\s@]+@[^\s@]+$/, patternText: 'an e-mail address', doc: 'a recipient' }, default: [], minItems: 1, doc: 'recipients' },
  },
};

const logNotifier: Schema & { kind: 'object' } = {
  kind: 'object',
  doc: 'writes the alert to the process log',
  fields: {
    ...notifierCommon,
    type: { kind: 'enum', values: ['log'], default: 'log', doc: 'notifier type' },
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
        bpf: { kind: 'string', default: '', doc: 'pcap-filter expression: only the packets it matches are analysed, as tcpdump -r FILE EXPR reads them (native backend, libpcap); empty: every packet' },
        exactBeside: { kind: 'bool', default: true, doc: 'run an exact task beside every sketch so the report shows the true value next to each estimate' },
        threads: { kind: 'int', default: 0, min: 0, max: 2, doc: 'threads of the core engine: 1, or 2 (its sketches and the making of windows and flow records on a second core; the same results); 0: 2 on a machine with two or more cores' },
      },
    },
    nats: {
      kind: 'object',
      doc: 'NATS between probes and engines (netspectra probe / engine)',
      fields: {
        url: { kind: 'string', default: '', doc: 'server URL(s), comma separated, e.g. nats://127.0.0.1:4222; empty: no NATS (probe --engine runs the engine in process)' },
        subject: { kind: 'string', default: 'netspectra.packets', pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, patternText: 'a NATS subject without wildcards', doc: 'subject prefix; batches go to <subject>.<partition>' },
        queueGroup: { kind: 'string', default: 'netspectra-engines', pattern: /^[A-Za-z0-9_-]+$/, patternText: 'letters, digits, _ and -', doc: 'queue group of the engines: each batch goes to one engine of the group' },
        jetstream: { kind: 'bool', default: false, doc: 'no-loss delivery through a JetStream stream; engines form a cluster (see cluster)' },
        stream: { kind: 'string', default: 'NETSPECTRA_PACKETS', pattern: /^[A-Za-z0-9_-]+$/, patternText: 'letters, digits, _ and -', doc: 'JetStream stream name (created if missing)' },
        maxAge: { kind: 'duration', default: 3600, min: 1, max: 365 * 86_400, doc: 'JetStream: how long batches are kept (an engine down longer than this loses the batches of its open windows)' },
        duplicateWindow: { kind: 'duration', default: 120, min: 1, max: 86_400, doc: 'JetStream: window in which a re-sent batch (same probe and sequence) is dropped' },
        reconnectBuffer: { kind: 'bytes', default: 64 * 1024 * 1024, min: 0, max: 16 * 1024 ** 3, doc: 'probe: batches kept while NATS is unreachable; beyond this the oldest are dropped and counted' },
      },
    },
    cluster: {
      kind: 'object',
      doc: 'engines in JetStream mode: partitions and the alerter leased in NATS key-value buckets, closed windows published once per partition',
      fields: {
        name: { kind: 'string', default: 'netspectra', doc: 'the source the cluster\'s windows, flows and alerts are stored and raised as, whichever engine made them' },
        leaseTtl: { kind: 'duration', default: 5, min: 1, max: 600, doc: 'a lease not renewed for this long is free: failover takes about this long plus the replay of the open windows' },
        windowSubject: { kind: 'string', default: 'netspectra.windows', pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, patternText: 'a NATS subject without wildcards', doc: 'closed windows of each partition go to <windowSubject>.<partition> (must not be under nats.subject)' },
        windowStream: { kind: 'string', default: 'NETSPECTRA_WINDOWS', pattern: /^[A-Za-z0-9_-]+$/, patternText: 'letters, digits, _ and -', doc: 'JetStream stream of closed windows (created if missing); a window re-published after a failover is stored once' },
        mergeWait: { kind: 'duration', default: 0, min: 0, max: 3600, doc: 'the alerter evaluates a window once every partition sent its part, or this long after the first part came; 0: two lease TTLs plus idleClose' },
      },
    },
    probe: {
      kind: 'object',
      doc: 'live capture (netspectra probe)',
      fields: {
        ops: { kind: 'string', default: '', doc: 'host:port of the ops port: /metrics, /healthz, /readyz (no token: keep it on loopback or a private network); empty: none' },
        id: { kind: 'string', default: '', doc: 'probe id in every batch; empty: the host name' },
        interface: { kind: 'string', default: '', doc: 'interface to capture on' },
        bpf: { kind: 'string', default: 'ip or ip6', doc: 'BPF filter (pcap-filter syntax)' },
        snaplen: { kind: 'int', default: 65_535, min: 16, max: 262_144, doc: 'bytes captured per packet: whole packets by default (names are read from payloads; 160 keeps headers only, for less probe CPU)' },
        promiscuous: { kind: 'bool', default: true, doc: 'capture traffic not addressed to this host' },
        bufferSize: { kind: 'bytes', default: 128 * 1024 * 1024, min: 65_536, max: 2 * 1024 ** 3 - 1, doc: 'kernel capture buffer (whole packets need a large one not to drop at line rate)' },
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
        ops: { kind: 'string', default: '', doc: 'host:port of the ops port: /metrics, /healthz, /readyz (no token: keep it on loopback or a private network); empty: none' },
        threads: { kind: 'int', default: 0, min: 0, max: 2, doc: 'threads of the core engine: 1, or 2 (its sketches and the making of windows and flow records on a second core; the same results); 0: 2 on a machine with two or more cores' },
        idleClose: { kind: 'duration', default: 2, min: 0.01, max: 3600, doc: 'close the open window when no batch came for this long and the clock is past its end' },
        output: { kind: 'string', default: '', doc: 'JSON Lines file of closed windows (appended); in JetStream mode, of the partitions this engine held' },
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
        insecure: { kind: 'bool', default: false, doc: 'allow listening on a non-loopback address with no tokens (anyone who reaches the port reads the data)' },
        allowedHosts: { kind: 'string', default: '', doc: 'host names requests may name (Host header), comma separated, besides loopback names and the listen address (a wildcard listen address: also this machine\'s name and addresses); * : any' },
        allowedOrigins: { kind: 'string', default: '', doc: 'origins of other sites whose pages may call the API (e.g. https://grafana.example.com), comma separated; the server\'s own origin always may' },
        tlsCert: { kind: 'string', default: '', doc: 'PEM certificate file: the API and console speak TLS (with tlsKey)' },
        tlsKey: { kind: 'string', default: '', doc: 'PEM private key file of tlsCert' },
        maxBodyBytes: { kind: 'bytes', default: 1024 ** 2, min: 1024, max: 1024 ** 3, doc: 'largest request body (413 / ResourceExhausted beyond); /api/v1/ingest takes whole blocks' },
        maxPcapBytes: { kind: 'bytes', default: 256 * 1024 ** 2, min: 4096, max: 1024 ** 4, doc: 'largest download of /api/v1/pcap (a request may ask for less with max_size)' },
        maxConnections: { kind: 'int', default: 1024, min: 1, max: 1_000_000, doc: 'connections open at once; beyond, new ones are closed' },
        headersTimeout: { kind: 'duration', default: 10, min: 0.1, max: 3600, doc: 'a connection sends its first bytes, and a request its headers, within this long' },
        requestTimeout: { kind: 'duration', default: 60, min: 0.1, max: 86_400, doc: 'a request is received whole within this long' },
        idleTimeout: { kind: 'duration', default: 60, min: 0.1, max: 86_400, doc: 'a connection with no bytes either way for this long is closed' },
        maxQueries: { kind: 'int', default: 8, min: 1, max: 1024, doc: 'store queries run at once; up to 16 per slot wait (at most queryTimeout), beyond that requests get 429 / ResourceExhausted' },
        queryTimeout: { kind: 'duration', default: 30, min: 0.1, max: 86_400, doc: 'a store query runs at most this long (504 / DeadlineExceeded)' },
        queryMemory: { kind: 'bytes', default: 2 * 1024 ** 3, min: 16 * 1024 ** 2, max: 1024 ** 4, doc: 'memory one store query may hold (429 / ResourceExhausted beyond)' },
      },
    },
    alerts: {
      kind: 'object',
      doc: 'alert rules over closed windows, and where notifications go',
      fields: {
        rules: { kind: 'list', item: alertRule, default: [], doc: 'alert rules' },
        notifiers: {
          kind: 'list',
          item: { kind: 'union', tag: 'type', variants: { webhook: webhookNotifier, email: emailNotifier, log: logNotifier }, doc: 'a notifier' },
          default: [],
          doc: 'where notifications go; none configured: the log',
        },
        subject: { kind: 'string', default: 'netspectra.alerts', pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, patternText: 'a NATS subject without wildcards', doc: 'NATS subject alerts are published on (when nats.url is set)' },
        maxActive: { kind: 'int', default: 1000, min: 1, max: 1_000_000, doc: 'alerts one rule may hold open (pending or firing); keys beyond it are counted and logged' },
        queue: { kind: 'int', default: 1000, min: 1, max: 1_000_000, doc: 'notifications waiting per notifier; beyond this the oldest are dropped and counted' },
      },
    },
    ai: {
      kind: 'object',
      doc: 'AI enrichment of alerts and `netspectra ai` / `netspectra ask` (any OpenAI-compatible chat-completions endpoint)',
      fields: {
        baseUrl: { kind: 'string', default: '', doc: 'endpoint base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1; empty: no AI' },
        model: { kind: 'string', default: '', doc: 'model name' },
        keyEnv: { kind: 'string', default: 'NETSPECTRA_AI_KEY', pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternText: 'an environment variable name', doc: 'environment variable holding the API key (never put the key in this file)' },
        timeout: { kind: 'duration', default: 60, min: 0.1, max: 3600, doc: 'a question (ask) gives up after this long' },
        enrichTimeout: { kind: 'duration', default: 5, min: 0.01, max: 600, doc: 'an alert waits at most this long for its enrichment, then goes out without it' },
        enrich: { kind: 'bool', default: true, doc: 'enrich firing alerts when baseUrl is set' },
        maxTokens: { kind: 'int', default: 800, min: 16, max: 100_000, doc: 'longest answer' },
        host: { kind: 'string', default: '127.0.0.1', doc: 'netspectra ai: address to listen on' },
        port: { kind: 'int', default: 7071, min: 0, max: 65_535, doc: 'netspectra ai: port (0: any free port)' },
        url: { kind: 'string', default: '', doc: 'netspectra ask: AI service URL; empty: http://<host>:<port>' },
      },
    },
    flows: {
      kind: 'object',
      doc: 'flow records: bidirectional flows that end on FIN/RST, idle and active timeouts, exported with their Community ID',
      fields: {
        enabled: { kind: 'bool', default: true, doc: 'keep a flow cache and export finished flows' },
        idleTcp: { kind: 'duration', default: 120, min: 0.001, max: 86_400, doc: 'a TCP flow without packets for this long ends' },
        idleUdp: { kind: 'duration', default: 30, min: 0.001, max: 86_400, doc: 'a UDP flow without packets for this long ends' },
        idleIcmp: { kind: 'duration', default: 10, min: 0.001, max: 86_400, doc: 'an ICMP flow without packets for this long ends' },
        idleOther: { kind: 'duration', default: 30, min: 0.001, max: 86_400, doc: 'a flow of any other protocol without packets for this long ends' },
        activeTimeout: { kind: 'duration', default: 1800, min: 1, max: 7 * 86_400, doc: 'a longer flow is exported in records of this length' },
        closedLinger: { kind: 'duration', default: 5, min: 0, max: 3600, doc: 'a TCP flow closed by FIN or RST is kept this long for its last ACKs and retransmissions' },
        asnDatabase: { kind: 'string', default: '', doc: 'MMDB file of autonomous systems (MaxMind GeoLite2-ASN, or @ip-location-db\'s asn mmdb) for the AS of each flow\'s endpoints; empty: none' },
        countryDatabase: { kind: 'string', default: '', doc: 'MMDB file of countries (MaxMind GeoLite2-Country, or @ip-location-db\'s country mmdb) for the country of each flow\'s endpoints; empty: none' },
        geoOptional: { kind: 'bool', default: false, doc: 'a database that cannot be read is a warning and no enrichment, instead of an error at start' },
        names: { kind: 'bool', default: true, doc: 'read the first payloads of each flow for its application and server name (DNS, TLS SNI, HTTP Host, QUIC; analyze)' },
        maxFlows: { kind: 'int', default: 262_144, min: 16, max: 16_777_216, doc: 'flows held at once; beyond this a lingering closed flow, else the least recently seen one, is ended (counted)' },
        localNetworks: {
          kind: 'list',
          item: { kind: 'string', default: '', doc: 'a network in CIDR notation' },
          default: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'],
          doc: 'networks that are "local": a record is inbound, outbound, local or external by its endpoints',
        },
        subject: { kind: 'string', default: 'netspectra.flows', pattern: /^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$/, patternText: 'a NATS subject without wildcards', doc: 'NATS subject finished flows are published on as JSON arrays (when nats.url is set); empty: not published' },
        httpUrl: { kind: 'string', default: '', pattern: /^(https?:\/\/\S+)?$/, patternText: 'an http:// or https:// URL', doc: 'finished flows are POSTed here as JSON arrays; empty: off' },
        httpTokenEnv: { kind: 'string', default: '', pattern: /^([A-Za-z_][A-Za-z0-9_]*)?$/, patternText: 'an environment variable name', doc: 'environment variable holding a bearer token for httpUrl' },
        httpBatch: { kind: 'int', default: 1000, min: 1, max: 100_000, doc: 'records per POST' },
        httpTimeout: { kind: 'duration', default: 10, min: 0.01, max: 600, doc: 'one POST gives up after this long' },
        httpRetries: { kind: 'int', default: 5, min: 0, max: 100, doc: 'attempts after the first one fails' },
        httpBackoff: { kind: 'duration', default: 1, min: 0.001, max: 3600, doc: 'wait before the first retry; doubles every retry' },
        httpQueue: { kind: 'int', default: 100_000, min: 1, max: 10_000_000, doc: 'records waiting for the HTTP sink; beyond this the oldest are dropped and counted' },
      },
    },
    console: {
      kind: 'object',
      doc: 'the live web console (netspectra serve, probe --engine --console, analyze --serve)',
      fields: {
        enabled: { kind: 'bool', default: true, doc: 'serve the console page, /ws, /api/flows, /api/counters, /api/stats and /metrics beside the API' },
        history: { kind: 'duration', default: 3600, min: 60, max: 7 * 86_400, doc: 'per-second counters kept in memory' },
        top: { kind: 'int', default: 10, min: 1, max: 1000, doc: 'rows in each top list pushed to the page' },
        maxClients: { kind: 'int', default: 64, min: 1, max: 10_000, doc: 'WebSocket clients at once; more are refused' },
        maxBuffered: { kind: 'bytes', default: 4 * 1024 * 1024, min: 65_536, max: 1024 ** 3, doc: 'a client with more unsent bytes than this is skipped, and dropped after 10 s behind' },
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
  key: KeyFieldSpec[];
  distinct: KeyFieldSpec[];
}

export interface CountMinTaskConfig {
  name: string;
  type: 'countmin';
  key: KeyFieldSpec[];
  depth: number;
  width: number;
  conservative: boolean;
  heavyHitters: number;
}

export interface SuperSpreadTaskConfig {
  name: string;
  type: 'superspread';
  key: KeyFieldSpec[];
  element: KeyFieldSpec[];
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
  analyze: { top: number; chunkSize: number; window: number; exactBeside: boolean; threads: number; bpf: string };
  nats: NatsConfig;
  cluster: ClusterConfig;
  probe: ProbeConfig;
  engine: EngineConfig;
  storage: StorageConfig;
  api: ApiConfig;
  alerts: AlertsConfig;
  ai: AiConfig;
  flows: FlowsConfig;
  console: ConsoleConfig;
  tasks: TaskConfig[];
}

export interface AlertRuleConfig {
  name: string;
  task: string;
  metric: AlertMetric;
  per: 'key' | 'total';
  groupBy: KeyField[];
  protocol: string;
  op: AlertOp;
  threshold: string;
  for: number;
  /** Seconds. */
  cooldown: number;
  severity: 'info' | 'warning' | 'critical';
  labels: Record<string, string>;
  description: string;
  notify: string[];
}

interface NotifierCommon {
  name: string;
  minSeverity: 'info' | 'warning' | 'critical';
  /** Seconds. */
  timeout: number;
  retries: number;
  backoff: number;
}

export interface WebhookNotifierConfig extends NotifierCommon {
  type: 'webhook';
  url: string;
  secretEnv: string;
  signatureHeader: string;
}

export interface EmailNotifierConfig extends NotifierCommon {
  type: 'email';
  host: string;
  port: number;
  tls: 'starttls' | 'implicit' | 'none';
  rejectUnauthorized: boolean;
  caFile: string;
  user: string;
  passwordEnv: string;
  from: string;
  to: string[];
}

export interface LogNotifierConfig extends NotifierCommon {
  type: 'log';
}

export type NotifierConfig = WebhookNotifierConfig | EmailNotifierConfig | LogNotifierConfig;

export interface AlertsConfig {
  rules: AlertRuleConfig[];
  notifiers: NotifierConfig[];
  subject: string;
  maxActive: number;
  queue: number;
}

export interface FlowsConfig {
  enabled: boolean;
  /** Seconds. */
  idleTcp: number;
  idleUdp: number;
  idleIcmp: number;
  idleOther: number;
  activeTimeout: number;
  closedLinger: number;
  maxFlows: number;
  asnDatabase: string;
  countryDatabase: string;
  geoOptional: boolean;
  names: boolean;
  localNetworks: string[];
  subject: string;
  httpUrl: string;
  httpTokenEnv: string;
  httpBatch: number;
  httpTimeout: number;
  httpRetries: number;
  httpBackoff: number;
  httpQueue: number;
}

export interface ConsoleConfig {
  enabled: boolean;
  /** Seconds of per-second counters kept. */
  history: number;
  top: number;
  maxClients: number;
  maxBuffered: number;
}

export interface AiConfig {
  baseUrl: string;
  model: string;
  keyEnv: string;
  /** Seconds. */
  timeout: number;
  enrichTimeout: number;
  enrich: boolean;
  maxTokens: number;
  host: string;
  port: number;
  url: string;
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
  insecure: boolean;
  allowedHosts: string;
  allowedOrigins: string;
  tlsCert: string;
  tlsKey: string;
  maxBodyBytes: number;
  maxPcapBytes: number;
  maxConnections: number;
  headersTimeout: number;
  requestTimeout: number;
  idleTimeout: number;
  maxQueries: number;
  queryTimeout: number;
  queryMemory: number;
}

export interface NatsConfig {
  url: string;
  subject: string;
  queueGroup: string;
  jetstream: boolean;
  stream: string;
  maxAge: number;
  duplicateWindow: number;
  reconnectBuffer: number;
}

export interface ClusterConfig {
  name: string;
  /** Seconds. */
  leaseTtl: number;
  windowSubject: string;
  windowStream: string;
  /** Seconds; 0: derived. */
  mergeWait: number;
}

export interface ProbeConfig {
  ops: string;
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
  ops: string;
  /** 0: chosen by the machine's cores (coreThreads). */
  threads: number;
  /** Seconds. */
  idleClose: number;
  output: string;
  top: number;
  maxQueued: number;
}
