// The JetStream publisher against a real nats-server killed and restarted while batches flow:
// every batch is stored once, and within a partition in the order it was sealed (an engine
// would count a batch stored after a later one as late, in the wrong window).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import type { SealedBatch } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { NatsServer } from '../transport/nats-server.js';
import { connectNats, ensureStream, type Connection } from '../transport/nats.js';
import { JetStreamPublisher } from './publisher.js';

const quiet = () => {};
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
let nats: NatsServer;

before(async () => {
  nats = await NatsServer.start();
});
after(async () => {
  await nats.stop();
});

/** A batch whose body is its sequence number and some filler, as a probe would seal it. */
function batch(sequence: number, partitions: number): SealedBatch {
  const message = new Uint8Array(2048);
  new DataView(message.buffer).setUint32(0, sequence);
  return { partition: (sequence * 7) % partitions, sequence, packets: 1, message };
}

/** The sequences stored on each partition's subject, in stream order. */
async function storedSequences(conn: Connection, cfg: NetspectraConfig, partitions: number): Promise<number[][]> {
  const jsm = await jetstreamManager(conn.nc);
  const total = (await jsm.streams.info(cfg.nats.stream)).state.messages;
  const out: number[][] = Array.from({ length: partitions }, () => []);
  const consumer = await jetstream(conn.nc).consumers.get(cfg.nats.stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  let seen = 0;
  for await (const m of messages) {
    const partition = Number(m.subject.slice(m.subject.lastIndexOf('.') + 1));
    out[partition].push(new DataView(m.data.buffer, m.data.byteOffset).getUint32(0));
    if (++seen === total) break;
  }
  await messages.close();
  return out;
}

test('a nats-server killed and restarted mid-stream: each batch stored once, in order within its partition', async () => {
  const partitions = 3;
  const cfg = loadConfig({ env: { NETSPECTRA_NATS_URL: nats.url, NETSPECTRA_NATS_STREAM: 'PUBORDER', NETSPECTRA_NATS_SUBJECT: 'puborder.packets' } });
  const conn = await connectNats(cfg.nats, 'publisher test', quiet);
  try {
    await ensureStream(conn.nc, cfg.nats);
    const publisher = new JetStreamPublisher(conn, cfg.nats, 'order-probe', quiet);
    const count = 6_000;
    let restarted: Promise<void> | null = null;
    for (let seq = 1; seq <= count; seq++) {
      publisher.publish(batch(seq, partitions));
      if (seq % 200 === 0) await delay(5);
      if (seq === 2_000) {
        restarted = (async () => {
          await nats.kill();
          await delay(300);
          await nats.restart();
        })();
      }
    }
    await restarted;
    await publisher.close();
    assert.equal(publisher.droppedPackets, 0);
    const stored = await storedSequences(conn, cfg, partitions);
    for (const [p, seqs] of stored.entries()) {
      const expected = Array.from({ length: count }, (_, i) => i + 1).filter((s) => (s * 7) % partitions === p);
      assert.deepEqual(seqs, expected, `partition ${p}: every batch once, in the order sealed`);
    }
  } finally {
    await conn.nc.close();
  }
});
