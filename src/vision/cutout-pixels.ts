/**
 * The pixels of a cut-out, ready to encode: an object's box of the picture with its mask applied.
 * Pure. One pass over the box in JavaScript costs less than the libvips pipelines that would do the
 * same (joinChannel, then flatten for white), each of which is a trip through sharp's thread pool.
 */
import type { BoxMask } from './types.js';

/** Raw, interleaved 8-bit RGB pixels of a picture, or of a part of one. */
export interface RgbRaster {
  data: Uint8Array;
  width: number;
  height: number;
  /** Where the raster's top-left pixel is in the whole picture (0, 0 for a whole picture). */
  left: number;
  top: number;
}

/**
 * The cut-out of `mask` from `source` (which must cover the mask's box), box-sized:
 * - `transparent`: RGBA, alpha from the mask; pixels outside the mask are all zero, colour too,
 *   because a clear pixel's colour is never seen and zeros compress to almost nothing.
 * - `white`: RGB, pixels outside the mask white (the recipe's look).
 */
export function cutoutPixels(source: RgbRaster, mask: BoxMask, background: 'transparent' | 'white'): Uint8Array {
  const { x, y, width, height } = mask.box;
  const left = x - source.left;
  const top = y - source.top;
  if (left < 0 || top < 0 || left + width > source.width || top + height > source.height) {
    throw new RangeError(
      `cutoutPixels: the box ${x},${y} ${width}x${height} is not inside the source raster ` +
        `${source.left},${source.top} ${source.width}x${source.height}`,
    );
  }
  const channels = background === 'transparent' ? 4 : 3;
  // Zeros are what a transparent cut-out has outside its mask; white fills the other.
  const out = new Uint8Array(width * height * channels);
  if (background === 'white') out.fill(255);
  const { data: alpha } = mask;
  const rgb = source.data;
  for (let row = 0; row < height; row++) {
    let src = ((top + row) * source.width + left) * 3;
    let dst = row * width * channels;
    let m = row * width;
    for (let col = 0; col < width; col++, src += 3, dst += channels, m++) {
      const a = alpha[m]!;
      if (a === 0) continue;
      if (channels === 4) {
        out[dst] = rgb[src]!;
        out[dst + 1] = rgb[src + 1]!;
        out[dst + 2] = rgb[src + 2]!;
        out[dst + 3] = a;
      } else {
        // Masks are 0 or 255; anything between is blended onto white as flatten would.
        const keep = a / 255;
        out[dst] = Math.round(rgb[src]! * keep + 255 * (1 - keep));
        out[dst + 1] = Math.round(rgb[src + 1]! * keep + 255 * (1 - keep));
        out[dst + 2] = Math.round(rgb[src + 2]! * keep + 255 * (1 - keep));
      }
    }
  }
  return out;
}
