import sharp from 'sharp';
import { jpegMetadataBytes } from '../../src/vision/jpeg-metadata.js';
import { jpegWithHugeExif } from '../hardening/crafted-files.js';

it('counts the APPn segments in front of the image data', async () => {
  const plain = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).jpeg().toBuffer();
  const base = jpegMetadataBytes(plain);
  expect(base).toBeLessThan(100);
  expect(jpegMetadataBytes(jpegWithHugeExif(plain, 3))).toBe(base + 3 * 0xffff);
});

it('is 0 for anything that is not a JPEG', () => {
  expect(jpegMetadataBytes(Buffer.from('\x89PNG\r\n\x1a\n'))).toBe(0);
  expect(jpegMetadataBytes(Buffer.alloc(0))).toBe(0);
});
