// Why a capture file cannot be read further (crates/core/src/capture/mod.rs CaptureError): the
// same variants, offsets and sentences, so every backend reports damage with identical text.

/** A record (pcap) or block (pcapng) larger than this is refused as damage, before allocating. */
export const MAX_RECORD_LEN = 16 * 1024 * 1024;

export type CaptureErrorInfo =
  | { kind: 'NotACapture'; magic: [number, number, number, number] }
  | { kind: 'Truncated'; offset: number; what: string; needed: number; available: number }
  | { kind: 'RecordTooLarge'; offset: number; what: string; len: number }
  | { kind: 'UnsupportedVersion'; offset: number; major: number; minor: number }
  | { kind: 'BadBlockLength'; offset: number; blockType: number; len: number; reason: string }
  | { kind: 'UnknownInterface'; offset: number; interface: number; known: number }
  | { kind: 'BadByteOrderMagic'; offset: number; magic: number }
  | { kind: 'BadField'; offset: number; field: string; value: number; reason: string };

const hex2 = (v: number) => v.toString(16).padStart(2, '0');
const hex8 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

function text(e: CaptureErrorInfo): string {
  switch (e.kind) {
    case 'NotACapture':
      return `not a pcap or pcapng file: magic number ${e.magic.map(hex2).join('')} at offset 0`;
    case 'Truncated':
      return `file cut short at offset ${e.offset}: ${e.what} needs ${e.needed} bytes, only ${e.available} remain`;
    case 'RecordTooLarge':
      return `${e.what} at offset ${e.offset} claims ${e.len} bytes, over the ${MAX_RECORD_LEN}-byte limit`;
    case 'UnsupportedVersion':
      return `unsupported format version ${e.major}.${e.minor} at offset ${e.offset}`;
    case 'BadBlockLength':
      return `pcapng block 0x${hex8(e.blockType)} at offset ${e.offset} has length ${e.len}: ${e.reason}`;
    case 'UnknownInterface':
      return `packet block at offset ${e.offset} names interface ${e.interface}, but only ${e.known} interface(s) are described`;
    case 'BadByteOrderMagic':
      return `pcapng section header at offset ${e.offset} has byte-order magic 0x${hex8(e.magic)}, expected 0x1a2b3c4d`;
    case 'BadField':
      return `record at offset ${e.offset}: ${e.field} = ${e.value}: ${e.reason}`;
  }
}

/** Thrown inside the reader and caught at its surface; `message` is the user's sentence. */
export class CaptureError extends Error {
  constructor(readonly info: CaptureErrorInfo) {
    super(text(info));
    this.name = 'CaptureError';
  }
}
