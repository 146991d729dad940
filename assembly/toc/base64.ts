// Standard base64 (RFC 4648 §4, '=' padding), as Go's encoding/json writes []byte; CR/LF ignored like Go.

const TABLE: usize = memory.data<u8>([
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 254, 255, 255, 254, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 62, 255, 255, 255, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 255, 255, 255, 253, 255, 255,
  255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 255, 255, 255, 255, 255,
  255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
]);
const SKIP: u32 = 254; // CR, LF
const PADDING: u32 = 253; // '='

/** Decodes [src, src+n) to dst (dst may equal src); returns the byte count or -1 if malformed. */
export function base64Decode(src: usize, n: usize, dst: usize): isize {
  let acc: u32 = 0, bits: u32 = 0, w: usize = 0, pads: u32 = 0, quads: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const v = <u32>load<u8>(TABLE + <usize>load<u8>(src + i));
    if (v < 64) {
      if (pads) return -1;
      acc = (acc << 6) | v;
      bits += 6;
      quads++;
      if (bits >= 8) {
        bits -= 8;
        store<u8>(dst + w, <u8>(acc >> bits));
        w++;
      }
    } else if (v == PADDING) {
      pads++;
      quads++;
      if (pads > 2) return -1;
    } else if (v != SKIP) {
      return -1;
    }
  }
  if (quads & 3) return -1;
  // "x===" or a pad that does not match the leftover bits is malformed
  if (pads == 1 && bits != 2) return -1;
  if (pads == 2 && bits != 4) return -1;
  if (pads == 0 && bits != 0) return -1;
  return <isize>w;
}
