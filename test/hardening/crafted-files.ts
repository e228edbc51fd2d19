/**
 * Hostile and odd image files for the hardening tests, made by hand or with sharp from the test
 * photos, so that none is committed to the repository.
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A PNG chunk: length, type, data, CRC of type + data. */
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG header claiming `width`×`height` RGB pixels, with one tiny (short) IDAT. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A GIF whose `frames` frames each claim `width`×`height` pixels (logical screen and image
 * descriptor) while carrying the LZW data of a single pixel: tiny on disk, huge once decoded.
 */
export function gifBomb(width: number, height: number, frames: number): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt16LE(width, 0);
  size.writeUInt16LE(height, 2);
  const header = Buffer.concat([Buffer.from('GIF89a', 'ascii'), size, Buffer.from([0x00, 0x00, 0x00])]);
  const loop = Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0'), 0x03, 0x01, 0x00, 0x00, 0x00]);
  const frame = Buffer.concat([
    Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x00]), // graphic control: 0.1 s delay
    Buffer.from([0x2c, 0x00, 0x00, 0x00, 0x00]), // image descriptor at 0,0 ...
    size, // ... as large as the screen
    Buffer.from([0x80, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00]), // local table of 2 colours
    Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]), // LZW minimum code size 2, one pixel, terminator
  ]);
  return Buffer.concat([header, loop, ...Array.from({ length: frames }, () => frame), Buffer.from([0x3b])]);
}

/** `jpeg` with `segments` APP1 "Exif" segments of 64 KB each inserted after its SOI marker. */
export function jpegWithHugeExif(jpeg: Buffer, segments: number): Buffer {
  const app1 = Buffer.alloc(2 + 0xffff);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(0xffff, 2);
  app1.write('Exif\0\0II*\0', 4, 'latin1');
  return Buffer.concat([jpeg.subarray(0, 2), ...Array.from({ length: segments }, () => app1), jpeg.subarray(2)]);
}

/** An SVG that would run a script if a browser opened it. */
export const SVG_WITH_SCRIPT = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><script>alert(document.cookie)</script>' +
    '<rect width="640" height="480" fill="red"/></svg>',
);

/** The legitimate oddities: each made from a photo with sharp; `rotated` when width and height swap. */
export async function oddities(source: Buffer): Promise<{ name: string; data: Buffer; mimeType: string; rotated?: boolean }[]> {
  const image = () => sharp(source);
  const other = await sharp(source).flop().toBuffer();
  return [
    { name: 'cmyk.jpg', data: await image().toColourspace('cmyk').jpeg().toBuffer(), mimeType: 'image/jpeg' },
    { name: 'deep.png', data: await image().toColourspace('rgb16').png().toBuffer(), mimeType: 'image/png' },
    { name: 'grey.jpg', data: await image().grayscale().jpeg().toBuffer(), mimeType: 'image/jpeg' },
    { name: 'rotated.jpg', data: await image().withMetadata({ orientation: 6 }).jpeg().toBuffer(), mimeType: 'image/jpeg', rotated: true },
    {
      name: 'animated.gif',
      data: await sharp([source, other], { join: { animated: true } }).gif({ delay: [100, 100] }).toBuffer(),
      mimeType: 'image/gif',
    },
    { name: 'photo.webp', data: await image().webp().toBuffer(), mimeType: 'image/webp' },
    { name: 'photo.avif', data: await image().avif({ effort: 0 }).toBuffer(), mimeType: 'image/avif' },
    { name: 'photo.tiff', data: await image().tiff({ compression: 'lzw' }).toBuffer(), mimeType: 'image/tiff' },
  ];
}
