// PacketBatch as any protobuf client sees it: decoded here with @bufbuild/protobuf's wire reader,
// field by field as proto/netspectra/v1/packet.proto declares them, not with our own parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { transportBackend } from '../backend/index.js';

const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');

interface Batch {
  version: number; probeId: string; sequence: bigint; partition: number; partitions: number; iface: string;
  records: Uint8Array; stats: Record<string, bigint>; sentNs: bigint;
  names: { index: number; app: number; serverName: string; alpn: string }[];
}

function decode(bytes: Uint8Array): Batch {
  const r = new BinaryReader(bytes);
  const b: Batch = { version: 0, probeId: '', sequence: 0n, partition: 0, partitions: 0, iface: '', records: new Uint8Array(), stats: {}, sentNs: 0n, names: [] };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1: b.version = r.uint32(); break;
      case 2: b.probeId = r.string(); break;
      case 3: b.sequence = BigInt(r.uint64()); break;
      case 4: b.partition = r.uint32(); break;
      case 5: b.partitions = r.uint32(); break;
      case 6: b.iface = r.string(); break;
      case 7: b.records = r.bytes(); break;
      case 8: {
        const s = new BinaryReader(r.bytes());
        const names = ['', 'captured', 'kernelDropped', 'interfaceDropped', 'probeDropped'];
        while (s.pos < s.len) {
          const [f] = s.tag();
          b.stats[names[f]] = BigInt(s.uint64());
        }
        break;
      }
      case 9: b.sentNs = BigInt(r.uint64()); break;
      case 10: {
        const s = new BinaryReader(r.bytes());
        const n = { index: 0, app: 0, serverName: '', alpn: '' };
        while (s.pos < s.len) {
          const [f, w] = s.tag();
          if (f === 1) n.index = s.uint32();
          else if (f === 2) n.app = s.uint32();
          else if (f === 3) n.serverName = s.string();
          else if (f === 4) n.alpn = s.string();
          else s.skip(w as WireType, f);
        }
        b.names.push(n);
        break;
      }
      default: r.skip(wire as WireType, field);
    }
  }
  return b;
}

test('batches decode with an independent protobuf reader, as packet.proto documents them', () => {
  const batcher = transportBackend().createPacketBatcher({ probeId: 'probe-α', interface: 'eth0', partitions: 4, batchPackets: 1000, flows: {} });
  assert.equal(batcher.addCapture(readFileSync(CAPTURE)), null);
  assert.equal(batcher.endCapture(), null);
  const stats = { captured: 62_781, kernelDropped: 5, interfaceDropped: 1, probeDropped: 7 };
  const batches = batcher.take(true, stats, 1_700_000_000_123);
  const decoded = batches.map((b) => decode(b.message));
  assert.equal(decoded.reduce((s, b) => s + b.records.length / 64, 0), 62_781);
  decoded.forEach((b, i) => {
    assert.equal(b.version, 1);
    assert.equal(b.probeId, 'probe-α');
    assert.equal(b.iface, 'eth0');
    assert.equal(b.sequence, BigInt(i + 1));
    assert.equal(b.partition, batches[i].partition);
    assert.equal(b.partitions, 4);
    assert.ok(b.records.length % 64 === 0 && b.records.length / 64 === batches[i].packets);
    assert.deepEqual(b.stats, { captured: 62_781n, kernelDropped: 5n, interfaceDropped: 1n, probeDropped: 7n });
    assert.equal(b.sentNs, 1_700_000_000_123_000_000n);
  });
  // Both directions of a conversation share a partition: the record's address pair decides.
  const partitionOf = new Map<string, number>();
  for (const b of decoded) {
    for (let at = 0; at < b.records.length; at += 64) {
      const rec = b.records.subarray(at, at + 64);
      const a = Buffer.from(rec.subarray(8, 24)).toString('hex');
      const c = Buffer.from(rec.subarray(24, 40)).toString('hex');
      const pair = a < c ? `${a}-${c}` : `${c}-${a}`;
      assert.equal(partitionOf.get(pair) ?? b.partition, b.partition, `pair ${pair} split across partitions`);
      partitionOf.set(pair, b.partition);
    }
  }
  assert.ok(new Set(partitionOf.values()).size === 4, 'every partition used');
  // Names the probe read, each at a record of its batch: a DNS query's record has UDP port 53.
  const names = decoded.flatMap((b) => b.names.map((n) => ({ ...n, record: b.records.subarray(n.index * 64, n.index * 64 + 64) })));
  assert.ok(names.some((n) => n.app === 1 && n.serverName === 'router.bittorrent.com'), JSON.stringify(names.slice(0, 3)));
  for (const n of names) {
    assert.equal(n.record.length, 64, `name at record ${n.index} is past its batch`);
    const ports = [Buffer.from(n.record).readUInt16LE(48), Buffer.from(n.record).readUInt16LE(50)];
    if (n.app === 1) assert.ok(ports.some((p) => p === 53 || p === 5353 || p === 5355), `DNS name on ports ${ports}`);
  }
});

test('bad frame buffers and options are refused with the reason', () => {
  const batcher = transportBackend().createPacketBatcher({ probeId: 'p', interface: 'lo', partitions: 1, batchPackets: 10 });
  const frame = Buffer.alloc(16 + 60);
  frame.writeUInt32LE(60, 8);
  frame.writeUInt32LE(60, 12);
  assert.equal(batcher.addFrames(frame, 1, 0), 1);
  assert.throws(() => batcher.addFrames(frame.subarray(0, 70), 1, 0), /frame 0 at byte 0 claims 60 captured bytes past the end/);
  assert.throws(() => transportBackend().createPacketBatcher({ probeId: '', interface: 'lo', partitions: 1, batchPackets: 10 }), /probe id must be 1 to 255 bytes/);
  assert.throws(() => transportBackend().createPacketBatcher({ probeId: 'p', interface: 'lo', partitions: 5000, batchPackets: 10 }), /partitions 5000 is outside 1..1024/);
});
