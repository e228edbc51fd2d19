import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { encodePixelsPng } from '../../src/vision/mask-png.js';

/** Pixels whose bytes rise, fall and wrap around between rows, so the "up" filter's differences wrap too. */
function pixels(width: number, height: number, channels: 3 | 4): Uint8Array {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i % 7) * 101 + Math.floor(i / (width * channels)) * 199) & 255;
  return data;
}

async function decoded(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data: Array.from(data), width: info.width, height: info.height, channels: info.channels };
}

describe('encodePixelsPng', () => {
  it.each([
    [1, 1, 4],
    [1, 5, 3],
    [7, 1, 4],
    [33, 17, 4],
    [33, 17, 3],
  ] as const)('%i×%i with %i channels decodes to the same pixels', async (width, height, channels) => {
    const data = pixels(width, height, channels);
    expect(await decoded(await encodePixelsPng(data, width, height, channels))).toEqual({ data: Array.from(data), width, height, channels });
  });

  it('filters every row but the first with "up"', async () => {
    const png = await encodePixelsPng(pixels(4, 3, 3), 4, 3, 3);
    const idat = png.indexOf('IDAT');
    const scanlines = inflateSync(png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4)));
    expect([scanlines[0], scanlines[13], scanlines[26]]).toEqual([2, 2, 2]);
  });

  it('refuses sizes that do not match the pixels', async () => {
    await expect(encodePixelsPng(new Uint8Array(12), 2, 2, 4)).rejects.toThrow(RangeError);
    await expect(encodePixelsPng(new Uint8Array(0), 0, 0, 4)).rejects.toThrow('a PNG needs a positive whole width and height, got 0x0');
  });
});
