import sharp from 'sharp';
import { isSrgbProfile } from '../../src/vision/icc-profile.js';
import { photo } from '../support/vision.js';

/** The ICC profile embedded in `image`. */
async function profileOf(image: string | Buffer): Promise<Buffer> {
  const { icc } = await sharp(image).metadata();
  if (!icc) throw new Error('no embedded profile');
  return icc;
}

/** The profile libvips ships under `name` ('srgb', 'p3', 'cmyk'), as a photo would carry it. */
async function builtInProfile(name: string): Promise<Buffer> {
  return profileOf(await sharp(photo('dog')).resize(32).withIccProfile(name).jpeg().toBuffer());
}

/** Offset of a tag's data in a profile. */
function tagOffset(icc: Buffer, signature: string): number {
  for (let i = 0; i < icc.readUInt32BE(128); i++) {
    const entry = 132 + i * 12;
    if (icc.toString('ascii', entry, entry + 4) === signature) return icc.readUInt32BE(entry + 4);
  }
  throw new Error(`no ${signature} tag`);
}

describe('isSrgbProfile', () => {
  it('recognises sRGB profiles: the classic v2 one (1024-point curves) and a v4 one (parametric curves)', async () => {
    expect(await profileOf(photo('dog'))).toHaveLength(3144);
    expect(isSrgbProfile(await profileOf(photo('dog')))).toBe(true);
    expect(isSrgbProfile(await builtInProfile('srgb'))).toBe(true);
  });

  it('refuses other colour spaces: Display P3, CMYK', async () => {
    expect(isSrgbProfile(await builtInProfile('p3'))).toBe(false);
    expect(isSrgbProfile(await builtInProfile('cmyk'))).toBe(false);
  });

  it("refuses sRGB's primaries with another tone curve (gamma 2.2)", async () => {
    const icc = Buffer.from(await profileOf(photo('dog')));
    const curve = tagOffset(icc, 'gTRC');
    icc.writeUInt32BE(1, curve + 8);
    icc.writeUInt16BE(Math.round(2.2 * 256), curve + 12);
    expect(isSrgbProfile(icc)).toBe(false);
  });

  it('refuses a profile with lookup tables, which colour engines prefer to its matrix', async () => {
    const icc = Buffer.from(await profileOf(photo('dog')));
    // The measurement tag, which nothing reads, renamed: every sRGB tag is still there.
    const entry = icc.indexOf('meas', 132, 'ascii');
    expect(entry).toBeLessThan(132 + 12 * icc.readUInt32BE(128));
    icc.write('A2B0', entry, 'ascii');
    expect(isSrgbProfile(icc)).toBe(false);
  });

  it('refuses truncated and made-up bytes without throwing', async () => {
    const icc = await profileOf(photo('dog'));
    for (const bytes of [icc.subarray(0, 200), icc.subarray(0, 2000), new Uint8Array(10), Buffer.alloc(4000), Buffer.from('not a profile')]) {
      expect(isSrgbProfile(bytes)).toBe(false);
    }
  });
});
