// Benchmark inputs made from real captures: copies one after another in time, optionally each
// in its own address space (more distinct flows). Shared by run.ts and names.ts.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** The records of a little-endian microsecond pcap: [offset of the record header, seconds]. */
function pcapRecords(src: Buffer): Array<[number, number]> {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (view.getUint32(0, true) !== 0xa1b2c3d4) throw new Error('expected a little-endian microsecond pcap');
  const records: Array<[number, number]> = [];
  for (let off = 24; off + 16 <= src.length; off += 16 + view.getUint32(off + 8, true)) records.push([off, view.getUint32(off, true)]);
  return records;
}

/** Moves every IP address of an Ethernet frame into address space `variant` (the second byte
 * of IPv4 addresses, the third of IPv6 ones): copies with different variants hold different
 * flows, copies with the same variant the same ones. */
function readdress(frame: Buffer, variant: number): void {
  const ethertype = frame.readUInt16BE(12);
  if (ethertype === 0x0800 && frame.length >= 34) {
    frame[27] = (frame[27] + variant) & 0xff;
    frame[31] = (frame[31] + variant) & 0xff;
  } else if (ethertype === 0x86dd && frame.length >= 54) {
    frame[24] = (frame[24] + variant) & 0xff;
    frame[40] = (frame[40] + variant) & 0xff;
  }
}

/** `copies` copies of a capture one after another in time; copy i in address space i % variants. */
export function repeatPcap(source: string, target: string, copies: number, variants: number): void {
  const src = readFileSync(source);
  const records = pcapRecords(src);
  const span = records[records.length - 1][1] - records[0][1] + 1;
  const body = src.subarray(24);
  const fd = openSync(`${target}.part`, 'w');
  writeSync(fd, src.subarray(0, 24));
  for (let i = 0; i < copies; i++) {
    const chunk = Buffer.from(body);
    for (const [off] of records) {
      const at = off - 24;
      chunk.writeUInt32LE(chunk.readUInt32LE(at) + i * span, at);
      if (variants > 1) readdress(chunk.subarray(at + 16, at + 16 + chunk.readUInt32LE(at + 8)), i % variants);
    }
    writeSync(fd, chunk);
  }
  closeSync(fd);
  spawnSync('mv', [`${target}.part`, target]);
}

