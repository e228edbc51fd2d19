/**
 * How many bytes of metadata (APPn segments: EXIF, XMP, ICC, maker notes; and comments) a JPEG
 * carries before its image data. Decoders parse all of it, and a file can stack thousands of
 * 64 KB segments in front of a tiny picture, so uploads are refused past a bound.
 */

/** Sum of the APPn and COM segment sizes found in `head` (the start of a file); 0 if not a JPEG. */
export function jpegMetadataBytes(head: Buffer): number {
  if (head.length < 4 || head[0] !== 0xff || head[1] !== 0xd8) return 0;
  let total = 0;
  let offset = 2;
  while (offset + 4 <= head.length) {
    if (head[offset] !== 0xff) break;
    const marker = head[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // start of scan, end of image: no more headers
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += 2; // markers without a length
      continue;
    }
    const length = head.readUInt16BE(offset + 2);
    if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) total += length;
    offset += 2 + length;
  }
  return total;
}
