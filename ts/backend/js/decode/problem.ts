// Why a frame could not be decoded to the end, and the counters of those reasons
// (crates/core/src/decode/problem.rs). Enum values are the core's declaration order, which is
// also the order the report sorts them in.

/** The protocol layer where decoding stopped. */
export const enum Proto {
  LinkType,
  Ethernet,
  Vlan,
  Mpls,
  Pppoe,
  Ppp,
  LinuxSll,
  Null,
  Ipv4,
  Ipv6,
  Ipv6Ext,
  Tcp,
  Udp,
  Sctp,
  Icmp,
  Icmpv6,
  Gre,
  Vxlan,
  Geneve,
  Teredo,
  GtpU,
  Tunnel,
}

const PROTO_NAMES = [
  'link type',
  'Ethernet',
  '802.1Q/802.1ad',
  'MPLS',
  'PPPoE',
  'PPP',
  'Linux cooked',
  'BSD loopback',
  'IPv4',
  'IPv6',
  'IPv6 extension header',
  'TCP',
  'UDP',
  'SCTP',
  'ICMP',
  'ICMPv6',
  'GRE',
  'VXLAN',
  'Geneve',
  'Teredo',
  'GTP-U',
  'tunnel',
];

export const enum ProblemKind {
  /** The captured bytes end inside a header (snaplen or a cut frame). */
  Truncated,
  /** A header breaks its protocol's rules. */
  Malformed,
  /** A link type or encapsulation this decoder does not read. */
  Unsupported,
}

const KIND_NAMES = ['truncated', 'malformed', 'unsupported'];

export function protoName(p: Proto): string {
  return PROTO_NAMES[p];
}

export function kindName(k: ProblemKind): string {
  return KIND_NAMES[k];
}

/** Immutable once made: the decoder shares the common ones between frames. */
export interface Problem {
  readonly kind: ProblemKind;
  readonly proto: Proto;
  /** The rule that was broken, e.g. "header length under 20 bytes". */
  readonly reason: string;
  /** The offending value where there is one (a link type, a length), else 0. */
  readonly value: number;
}

const TRUNCATED: Problem[] = PROTO_NAMES.map((_, proto) => ({ kind: ProblemKind.Truncated, proto, reason: 'header cut short', value: 0 }));

export function truncated(proto: Proto): Problem {
  return TRUNCATED[proto];
}

export function malformed(proto: Proto, reason: string, value = 0): Problem {
  return { kind: ProblemKind.Malformed, proto, reason, value };
}

export function unsupported(proto: Proto, reason: string, value: number): Problem {
  return { kind: ProblemKind.Unsupported, proto, reason, value };
}

export function problemText(p: Problem): string {
  let s = `${KIND_NAMES[p.kind]} ${PROTO_NAMES[p.proto]}: ${p.reason}`;
  if (p.value !== 0 || p.kind === ProblemKind.Unsupported) s += ` (${p.value})`;
  return s;
}

function same(p: Problem, q: Problem): boolean {
  return p === q || (p.kind === q.kind && p.proto === q.proto && p.reason === q.reason && p.value === q.value);
}

/** The core's derived Ord: kind, layer, reason (byte order; all reasons are ASCII), value. */
export function compareProblems(p: Problem, q: Problem): number {
  if (p.kind !== q.kind) return p.kind - q.kind;
  if (p.proto !== q.proto) return p.proto - q.proto;
  if (p.reason !== q.reason) return p.reason < q.reason ? -1 : 1;
  return p.value - q.value;
}

/**
 * Counts of decode problems by kind, layer, reason and value. Problems are rare, so a short list
 * searched linearly is enough and keeps first-seen order.
 */
export class DecodeStats {
  readonly entries: { problem: Problem; count: number }[] = [];

  count(p: Problem): void {
    for (const e of this.entries) {
      if (same(e.problem, p)) {
        e.count++;
        return;
      }
    }
    this.entries.push({ problem: p, count: 1 });
  }

  total(kind: ProblemKind): number {
    let n = 0;
    for (const e of this.entries) if (e.problem.kind === kind) n += e.count;
    return n;
  }
}
