// Test support: a capture analysed as `analyze` does, its closed windows collected or its rows
// stored, without the command line.
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend, type Backend, type ClosedWindow, type CoreRows } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import { WindowSink } from '../sink/index.js';
import type { FlowRecordJson } from '../flows/types.js';
import type { WindowStorage } from '../storage/index.js';
import { addressBytes, RowEncoder } from '../storage/row-binary.js';

/** The closed windows of the capture (their storage rows written as `source` and `run`). */
export async function closedWindows(file: string, config: NetspectraConfig, source = '', run = '', backend: Backend = loadBackend()): Promise<ClosedWindow[]> {
  const out: ClosedWindow[] = [];
  // A sink that only collects, and wants the rows and the snapshots.
  const sink = new (class extends WindowSink {
    override get wantsRows(): boolean {
      return true;
    }

    override get wantsSnapshots(): boolean {
      return true;
    }

    override window(w: ClosedWindow): void {
      out.push(w);
    }
  })({ storage: null, alerting: null, file: null, flowExport: null, log: () => {} });
  await analyzeFiles([file], { backend, config, sink, source, run });
  return out;
}

/** Analyses the capture into `storage` (windows and flow records, with the storage's source
 * and run); returns the number of windows. */
export async function storeCapture(file: string, config: NetspectraConfig, storage: WindowStorage, backend: Backend = loadBackend()): Promise<number> {
  const sink = new WindowSink({ storage, alerting: null, file: null, flowExport: null, log: () => {} });
  await analyzeFiles([file], { backend, config, sink, source: storage.source, run: storage.run });
  return sink.stats().windows;
}

/** Flow records (as the core emits them) as rows of the `flows` table, for tests that store
 * records of their own making. */
export function flowRecordRows(source: string, records: readonly FlowRecordJson[]): CoreRows {
  const e = new RowEncoder();
  for (const r of records) {
    const epoch = (t: string | null) => (t === null ? null : BigInt(t.split('.')[0]) * 1_000_000_000n + BigInt(t.split('.')[1]));
    e.string(source).string('').string(r.probe).string(r.interface).nullableString(r.communityId);
    e.u8(r.srcIp === '-' ? 0 : r.srcIp.includes(':') ? 6 : 4).ipv6(addressBytes(r.srcIp)).ipv6(addressBytes(r.dstIp));
    e.u16(r.srcPort).u16(r.dstPort).u8(r.proto).nullableTimeNs(epoch(r.firstTime), 'first_seen').nullableTimeNs(epoch(r.lastTime), 'last_seen');
    e.u64(r.packetsAtoB).u64(r.bytesAtoB).u64(r.packetsBtoA).u64(r.bytesBtoA).string(r.tcpFlagsAtoB).string(r.tcpFlagsBtoA);
    e.string(r.state).string(r.reason).u16(r.vlan).string(r.direction).string(r.app).string(r.serverName).string(r.alpn);
    e.string(r.srcCountry).string(r.dstCountry).u64(r.srcAs).u64(r.dstAs).string(r.srcAsName).string(r.dstAsName);
    e.end();
  }
  const { rows, data } = e.take();
  return { blocks: [{ table: 'flows', rows, data }], quarantined: [] };
}
