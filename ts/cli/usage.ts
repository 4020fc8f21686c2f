// The command line's grammar and usage text: loaded alone for --help (no command's modules).
// Each command takes only its own flags; `netspectra <command> --help` shows them with examples.

type Flag = { type: 'string' | 'boolean'; short?: string };

/** Every flag of every command, by name (a command lists the ones it takes). */
const FLAGS: Record<string, Flag> = {
  json: { type: 'boolean' }, top: { type: 'string' }, window: { type: 'string' }, config: { type: 'string' },
  'print-config': { type: 'boolean' }, notify: { type: 'boolean' }, packets: { type: 'string' }, seed: { type: 'string' },
  iface: { type: 'string' }, read: { type: 'string' }, bpf: { type: 'string' }, snaplen: { type: 'string' },
  nats: { type: 'string' }, jetstream: { type: 'boolean' }, partitions: { type: 'string' }, persist: { type: 'string' },
  engine: { type: 'boolean' }, output: { type: 'string' }, threads: { type: 'string' }, store: { type: 'string' },
  data: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' },
  task: { type: 'string' }, start: { type: 'string' }, end: { type: 'string' }, ip: { type: 'string' }, 'src-ip': { type: 'string' },
  'dst-ip': { type: 'string' }, 'src-port': { type: 'string' }, 'dst-port': { type: 'string' }, protocol: { type: 'string' },
  'group-by': { type: 'string' }, 'order-by': { type: 'string' }, asc: { type: 'boolean' }, limit: { type: 'string' },
  'page-token': { type: 'string' }, 'community-id': { type: 'string' }, 'server-name': { type: 'string' }, serve: { type: 'boolean' }, insecure: { type: 'boolean' },
  direction: { type: 'string' }, source: { type: 'string' }, live: { type: 'boolean' }, by: { type: 'string' }, both: { type: 'boolean' },
  rule: { type: 'string' }, state: { type: 'string' }, severity: { type: 'string' },
  write: { type: 'string', short: 'w' }, flow: { type: 'string' }, format: { type: 'string' }, 'max-size': { type: 'string' },
  reindex: { type: 'boolean' }, 'no-index': { type: 'boolean' },
};

interface Command {
  /** Positional arguments, as the usage shows them. */
  args: string;
  summary: string;
  flags: string[];
  /** The option lines of the command's help. */
  options: string;
  examples: string[];
}

const STORE_FLAGS = ['store', 'data', 'config'];

export const COMMANDS: Record<string, Command> = {
  analyze: {
    args: '<file...>',
    summary: 'analyse pcap/pcapng files (- for standard input) and print a report',
    flags: ['json', 'top', 'window', 'bpf', 'print-config', 'threads', 'notify', 'serve', 'host', 'port', 'insecure', ...STORE_FLAGS],
    options: `  --json            print the report as JSON
  --top N           rows in each top-N section (config analyze.top)
  --window DURATION windows of this length (e.g. 10s) instead of one for the capture
  --bpf EXPR        only packets this pcap-filter expression matches, as tcpdump -r FILE EXPR
                    (config analyze.bpf; the native backend)
  --config FILE     YAML configuration (see configs/netspectra.yaml)
  --print-config    print the effective configuration (YAML; --json: JSON) and exit
  --store KIND      where windows are stored: embedded (default), clickhouse, file, none
  --data DIR        data folder of the store (config storage.path)
  --threads N       threads of the core engine: 1 or 2 (config analyze.threads; default 2 on two cores)
  --notify          send alerts the rules raise to the notifiers (otherwise only reported and stored)
  --serve           then serve the API and the web console over what was stored (until Ctrl-C)
  --host ADDR  --port N  --insecure   where --serve listens (config api.*)`,
    examples: ['netspectra analyze capture.pcap', 'netspectra analyze --window 10s --json a.pcapng b.pcap > report.json', 'netspectra analyze --bpf "tcp port 443" capture.pcap', 'tcpdump -w - -c 1000 | netspectra analyze --store none -', 'netspectra analyze --serve capture.pcap'],
  },
  generate: {
    args: '<file>',
    summary: "write a synthetic capture made by NetSpectra's traffic generator",
    flags: ['packets', 'seed'],
    options: `  --packets N       packets to write (default 200000)
  --seed N          generator seed (default 1)`,
    examples: ['netspectra generate traffic.pcap --packets 1000000 --seed 7'],
  },
  demo: {
    args: '',
    summary: 'generate a synthetic capture and analyse it',
    flags: ['packets', 'json', 'threads', ...STORE_FLAGS],
    options: `  --packets N       packets in the capture (default 200000)
  --json            print the report as JSON
  --store KIND  --data DIR  --config FILE  --threads N   as for analyze`,
    examples: ['netspectra demo', 'netspectra demo --packets 1000000 --store none'],
  },
  extract: {
    args: '<file|folder...>',
    summary: 'write the packets of a flow, addresses, a time range or a filter as a new capture',
    flags: ['write', 'flow', 'community-id', 'ip', 'bpf', 'start', 'end', 'format', 'max-size', 'reindex', 'no-index'],
    options: `  -w, --write FILE  the capture to write (- for standard output, e.g. into wireshark -k -i -)
  --flow "A B PROTO"    one flow, both directions: "10.0.0.1:5000 10.0.0.2:53 udp",
                    "[2001:db8::1]:443 [2001:db8::2]:50000 tcp", "10.0.0.1 10.0.0.2 icmp"
  --community-id ID one flow by its Community ID v1 (seed 0, as flow records carry it)
  --ip LIST         packets from or to these addresses or networks (comma-separated)
  --bpf EXPR        packets this pcap-filter expression matches (libpcap, as tcpdump -r)
  --start TIME  --end TIME   packets in [start, end): RFC 3339 or epoch milliseconds
  --format FORMAT   pcapng (default: one interface per input interface) or pcap
  --max-size SIZE   stop before the output grows past this (e.g. 100MiB; default 1GiB)
  --reindex         index the pcap files of the folders that have no index that fits (the
                    probe indexes each file it closes; a crash can leave the last one without)
  --no-index        read every file whole, even where an index says where the packets are
  A folder is read as the capture files in it, oldest first (probe --persist writes one);
  files of a folder may end inside a packet (one being written): their whole packets count.
  A file with an index (<file>.nsidx) is read only where the selection's flows are, and not
  at all outside its time range. Every selection given must hold; the native backend does it.`,
    examples: [
      'netspectra extract capture.pcap --flow "10.0.254.40:55088 198.51.100.200:873 tcp" -w flow.pcapng',
      'netspectra extract /var/lib/netspectra/pcap --ip 203.0.113.250 --start 2026-01-01T00:00:00Z --end 2026-01-01T00:05:00Z -w scan.pcapng',
      'netspectra extract capture.pcap --community-id "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" -w - | wireshark -k -i -',
      'netspectra extract --reindex /var/lib/netspectra/pcap',
    ],
  },
  probe: {
    args: '',
    summary: 'capture live traffic, decode it in batches, publish PacketBatch messages',
    flags: ['iface', 'read', 'bpf', 'snaplen', 'nats', 'jetstream', 'partitions', 'persist', 'engine', 'output', 'serve', 'window', 'threads', 'notify', 'host', 'port', 'insecure', ...STORE_FLAGS],
    options: `  --iface NAME      interface (config probe.interface)
  --read FILE...    send capture files instead of capturing (as fast as the transport takes)
  --bpf EXPR        BPF filter (default "ip or ip6")   --snaplen N  (default 65535)
  --nats URL        NATS server(s) (config nats.url)   --jetstream  no-loss mode
  --partitions N    subjects by address pair            --persist DIR  rotating pcap files
  --engine          no NATS: run the engine in this process
  --output FILE     (with --engine) closed windows as JSON Lines
  --serve           (with --engine) serve the API and the live web console (api.host:api.port)
  --window DURATION  --threads N  --store KIND  --data DIR  --config FILE  --notify
  --host ADDR  --port N  --insecure   where --serve listens`,
    examples: ['netspectra probe --iface eth0 --nats nats://127.0.0.1:4222 --jetstream', 'netspectra probe --iface eth0 --engine --serve', 'netspectra probe --read capture.pcap --nats nats://127.0.0.1:4222'],
  },
  engine: {
    args: '',
    summary: 'run the tasks over batches from NATS, in windows; stores them',
    flags: ['nats', 'jetstream', 'threads', 'output', 'window', 'notify', ...STORE_FLAGS],
    options: `  --nats URL  --threads N  --output FILE  --window DURATION
  --jetstream       join the engines' cluster: partitions leased, taken over when an engine dies
  --store KIND  --data DIR  --config FILE  --notify`,
    examples: ['netspectra engine --nats nats://127.0.0.1:4222 --jetstream --store clickhouse'],
  },
  serve: {
    args: '',
    summary: 'the query API over the store (Connect, gRPC, gRPC-web, HTTP/JSON, Grafana) and the web console',
    flags: ['host', 'port', 'insecure', 'nats', 'jetstream', 'window', 'threads', 'notify', 'output', ...STORE_FLAGS],
    options: `  --port N  --host ADDR   where to listen (default 127.0.0.1:7070)
  --insecure        allow a non-loopback --host with no tokens (NETSPECTRA_API_TOKENS); TLS: api.tlsCert/tlsKey
  --nats URL        also run an engine (live queries)   --window DURATION  --threads N
  --jetstream       with --nats: store the windows of the engines' cluster (no engine here)
  --store KIND  --data DIR  --config FILE
  the web console: http://127.0.0.1:7070/console/ (live with an engine, else the stored windows)`,
    examples: ['netspectra serve', 'NETSPECTRA_API_TOKENS=$(openssl rand -hex 16) netspectra serve --host 0.0.0.0'],
  },
  query: {
    args: '<what>',
    summary: 'ask the API (netspectra serve): health | tasks | aggregate | trace | top | spreaders | alerts | flow-records',
    flags: ['url', 'token', 'task', 'start', 'end', 'live', 'ip', 'src-ip', 'dst-ip', 'port', 'src-port', 'dst-port', 'protocol', 'group-by', 'order-by', 'asc', 'limit', 'page-token', 'by', 'both', 'json', 'rule', 'state', 'severity', 'community-id', 'server-name', 'direction', 'source', 'config'],
    options: `  --url URL         API (config api.url)   --token T  bearer token (NETSPECTRA_API_TOKEN)
  --task NAME       task   --start/--end TIME  RFC 3339 or epoch ms   --live  the open window
  --ip/--src-ip/--dst-ip IP|CIDR   --port/--src-port/--dst-port N   --protocol tcp|udp|N
  --group-by F,..   --order-by packets|bytes|distinct|FIELD  --asc  --limit N  --page-token T
  --by packets|bytes (top)   --both (trace: both directions)   --json
  --rule NAME  --state firing|resolved  --severity info|warning|critical (alerts: at least)
  flow-records: --order-by bytes|packets|first|last|duration (largest first; --asc)
                --community-id ID  --direction inbound|outbound|local|external  --source NAME
                --server-name NAME|*.DOMAIN (SNI, HTTP Host or DNS query)`,
    examples: ['netspectra query tasks', 'netspectra query aggregate --task src_ip --group-by SrcIP --order-by bytes --limit 5', 'netspectra query flow-records --ip 10.0.0.0/8 --protocol tcp --order-by duration'],
  },
  ai: {
    args: '',
    summary: 'the AI service (Connect, gRPC, gRPC-web): alert analysis, questions',
    flags: ['host', 'port', 'insecure', 'config'],
    options: `  --port N  --host ADDR  (default 127.0.0.1:7071)   --insecure   --config FILE
  model: ai.baseUrl, ai.model, key in $NETSPECTRA_AI_KEY`,
    examples: ['NETSPECTRA_AI_BASE_URL=http://127.0.0.1:11434/v1 NETSPECTRA_AI_MODEL=llama3.1 netspectra ai'],
  },
  ask: {
    args: '<question>',
    summary: 'ask netspectra ai about the traffic; the answer streams to stdout',
    flags: ['url', 'token', 'start', 'end', 'json', 'config'],
    options: `  --url URL  (config ai.url)   --token T  (NETSPECTRA_API_TOKEN)   --start/--end TIME   --json`,
    examples: ['netspectra ask "which host sends the most bytes?"'],
  },
};

const TAIL = `environment: NETSPECTRA_BACKEND forces a backend; NETSPECTRA_<KEY> overrides a config key
(for example NETSPECTRA_ANALYZE_TOP=20).`;

/** The overall usage: the commands, one line each. */
export const USAGE = `usage: netspectra <command> [options]        netspectra <command> --help: its options and examples

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${`${name} ${c.args}`.padEnd(20)}${c.summary}`).join('\n')}
  help <command>      this text, or a command's
  version             the version (also --version)

exit status: 0 done, 1 failed, 2 usage or configuration error, 3 stored with rows quarantined,
4 not stored (README, "Exit status")

${TAIL}`;

/** One command's usage: its arguments, options and examples. */
export function commandUsage(name: string): string {
  const c = COMMANDS[name];
  return `usage: netspectra ${name}${c.args ? ` ${c.args}` : ''} [options]\n\n${c.summary}\n\noptions:\n${c.options}\n  --help, -h        this text\n\nexamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n\n${TAIL}`;
}

/** The parseArgs options of a command: its flags and --help. */
export function commandOptions(name: string): Record<string, Flag> {
  const out: Record<string, Flag> = { help: { type: 'boolean', short: 'h' } };
  for (const f of COMMANDS[name].flags) out[f] = FLAGS[f];
  return out;
}

/** A command line mistake: said with the usage text, exit status 2. */
export class UsageError extends Error {}
