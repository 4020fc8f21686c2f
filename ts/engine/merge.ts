// One window from the parts the workers produced for it: the same packets and counters, each
// part holding a share of the tasks. Task order is restored to the configured order.
import type { ClosedWindow } from '../backend/index.js';

/** NSWS header: magic, u16 version, eight u64 counters (crates/core/src/engine/snapshot.rs). */
const HEADER = 4 + 2 + 8 * 8;

function taskSections(snapshot: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  const count = view.getUint16(HEADER, true);
  const out: { name: string; bytes: Uint8Array }[] = [];
  let at = HEADER + 2;
  for (let i = 0; i < count; i++) {
    const start = at;
    const nameLen = snapshot[at];
    const name = Buffer.from(snapshot.subarray(at + 1, at + 1 + nameLen)).toString('utf8');
    at += 1 + nameLen + 3;
    const payload = view.getUint32(at, true);
    at += 4 + payload;
    out.push({ name, bytes: snapshot.subarray(start, at) });
  }
  return out;
}

export function mergeWindowParts(parts: ClosedWindow[], order: string[]): ClosedWindow {
  if (parts.length === 1) return parts[0];
  const rank = (name: string) => order.indexOf(name);
  const json = JSON.parse(parts[0].json) as { tasks: { name: string }[] };
  json.tasks = parts.flatMap((p) => (JSON.parse(p.json) as { tasks: { name: string }[] }).tasks).sort((a, b) => rank(a.name) - rank(b.name));
  const sections = parts.flatMap((p) => taskSections(p.snapshot)).sort((a, b) => rank(a.name) - rank(b.name));
  const header = Buffer.from(parts[0].snapshot.subarray(0, HEADER + 2));
  header.writeUInt16LE(sections.length, HEADER);
  const snapshot = Buffer.concat([header, ...sections.map((s) => s.bytes)]);
  return { startMs: parts[0].startMs, endMs: parts[0].endMs, json: JSON.stringify(json), snapshot };
}
