import { isAscii } from 'node:buffer';

// Writers of a packed script argument (scripts/build-lua.mjs, "packed"): each
// writes one field at `o` and returns the offset after it. The buffer has room
// for every field (the encoder sizes it), so none of them checks.

/** A string: its UTF-8 length (4 bytes, big endian), then its bytes. */
export function putString(buf: Buffer, o: number, s: string): number {
  const n = buf.write(s, o + 4);
  buf.writeUInt32BE(n, o);
  return o + 4 + n;
}

/** Bytes (a string is written as UTF-8, as the client library sends one): length, then the bytes. */
export function putBytes(buf: Buffer, o: number, b: Buffer | string): number {
  if (typeof b === 'string') return putString(buf, o, b);
  buf.writeUInt32BE(b.length, o);
  b.copy(buf, o + 4);
  return o + 4 + b.length;
}

/** A number, as a big-endian double (exact for every integer up to 2^53). */
export function putNumber(buf: Buffer, o: number, n: number): number {
  return buf.writeDoubleBE(n, o);
}

/** A bool, as one byte (1 or 0). */
export function putBool(buf: Buffer, o: number, b: boolean): number {
  return buf.writeUInt8(b ? 1 : 0, o);
}

/**
 * The packed argument as sent: a string when every byte is ASCII (the same bytes in UTF-8), because
 * the client library writes a command of strings alone in one go, and one with a Buffer argument
 * piece by piece (about 9 µs more for a one-ack call with its 28 keys).
 */
export function packedArg(buf: Buffer, end: number): Buffer | string {
  const packed = buf.subarray(0, end);
  return isAscii(packed) ? packed.toString('latin1') : packed;
}
