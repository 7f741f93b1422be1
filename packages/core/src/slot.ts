/** Number of hash slots in a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/** CRC16/XMODEM (polynomial 0x1021), the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/**
 * The Redis Cluster slot of a key, as `CLUSTER KEYSLOT` computes it: of the
 * key's hash tag (the text between the first `{` and the next `}`, if not
 * empty), else of the whole key. All keys of a queue share the tag `{queue}`,
 * so they share one slot.
 * @example
 * keySlot('kyoo:{images}:ready') === keySlot('kyoo:{images}:jobs') // true
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % CLUSTER_SLOTS;
}
