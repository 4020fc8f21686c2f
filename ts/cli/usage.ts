// The command line's usage text: loaded alone for --help (no command's modules).
export const USAGE = `usage: netspectra <command> [options]

commands:
  analyze <file...>   analyse pcap/pcapng files and print a report
      --json            print the report as JSON
      --top N           rows in each top-N section (config analyze.top)
      --window DURATION windows of this length (e.g. 10s) instead of one for the capture
      --config FILE     YAML configuration (see configs/netspectra.yaml)
      --print-config    print the effective configuration and exit
      --store KIND      where windows are stored: embedded (default), clickhouse, file, none
      --data DIR        data folder of the store (config storage.path)
      --threads N       threads of the core engine: 1 or 2 (config analyze.threads; default 2 on two cores)
      --notify          send alerts the rules raise to the notifiers (otherwise only reported and stored)
      --serve           then serve the API and the web console over what was stored (until Ctrl-C)
  generate <file>     write a synthetic capture made by NetSpectra's traffic generator
      --packets N       packets to write (default 200000)
      --seed N          generator seed (default 1)
  demo                generate a synthetic capture and analyse it
      --packets N       packets in the capture (default 200000)
      --json            print the report as JSON

  probe               capture live traffic, decode it in batches, publish PacketBatch messages
      --iface NAME      interface (config probe.interface)
      --read FILE...    send capture files instead of capturing (as fast as the transport takes)
      --bpf EXPR        BPF filter (default "ip or ip6")   --snaplen N  (default 160)
      --nats URL        NATS server(s) (config nats.url)   --jetstream  no-loss mode
      --partitions N    subjects by address pair            --persist DIR  rotating pcap files
      --engine          no NATS: run the engine in this process
      --output FILE     (with --engine) closed windows as JSON Lines
      --serve           (with --engine) serve the API and the live web console (api.host:api.port)
  engine              run the tasks over batches from NATS, in windows; stores them
      --nats URL  --jetstream  --threads N  --output FILE  --window DURATION  --store KIND

  serve               the query API over the store (Connect, gRPC, gRPC-web, HTTP/JSON, Grafana)
      --port N  --host ADDR  (default 127.0.0.1:7070)   --nats URL  also run an engine (live queries)
      --insecure  allow a non-loopback --host with no tokens (NETSPECTRA_API_TOKENS); TLS: api.tlsCert/tlsKey
      the web console: http://127.0.0.1:7070/console/ (live with an engine, else the stored windows)
  query <what>        ask the API (netspectra serve): health | tasks | aggregate | trace | top | spreaders | alerts | flow-records
      --url URL         API (config api.url)   --token T  bearer token (NETSPECTRA_API_TOKEN)
      --task NAME       task   --start/--end TIME  RFC 3339 or epoch ms   --live  the open window
      --ip/--src-ip/--dst-ip IP|CIDR   --port/--src-port/--dst-port N   --protocol tcp|udp|N
      --group-by F,..   --order-by packets|bytes|distinct|FIELD  --asc  --limit N  --page-token T
      --by packets|bytes (top)   --both (trace: both directions)   --json
      --rule NAME  --state firing|resolved  --severity info|warning|critical (alerts: at least)
      flow-records: --order-by bytes|packets|first|last|duration (largest first; --asc)
                    --community-id ID  --direction inbound|outbound|local|external  --source NAME
  ai                  the AI service (Connect, gRPC, gRPC-web): alert analysis, questions
      --port N  --host ADDR  (default 127.0.0.1:7071)   model: ai.baseUrl, ai.model, key in $NETSPECTRA_AI_KEY
  ask <question>      ask netspectra ai about the traffic; the answer streams to stdout
      --url URL  (config ai.url)   --token T  (NETSPECTRA_API_TOKEN)   --start/--end TIME   --json

environment: NETSPECTRA_BACKEND forces a backend; NETSPECTRA_<KEY> overrides a config key
(for example NETSPECTRA_ANALYZE_TOP=20).`;


/** A command line mistake: said with the usage text, exit status 2. */
export class UsageError extends Error {}
