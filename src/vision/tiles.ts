/**
 * Tiles for large photos (slicing-aided inference, SAHI: Akyon et al., 2022): a photo much larger
 * than the model input is also looked at in overlapping parts at its own resolution, so small
 * objects that vanish when the whole photo is shrunk to 640 px are seen at their real size. Pure.
 */
import type { Box, DetectedSegment } from './types.js';

/** When and how a photo is tiled. */
export interface TileOptions {
  /** Tiles are used when the photo is at least this many times the model input on some side. */
  minScale: number;
  /**
   * Size of a tile as a multiple of the model input: 1 is the photo's own resolution (SAHI's
   * choice); above 1 tiles are shrunk to the input (fewer, coarser); below 1 they are enlarged.
   */
  tileScale: number;
  /** Share of a tile that overlaps its neighbour, so an object cut by one tile is whole in the next. */
  overlap: number;
  /** Most tiles per photo: a larger photo gets larger (shrunk) tiles instead of more of them. */
  maxTiles: number;
}

/**
 * Default tiling: photos over 2× the input get tiles at their own resolution overlapping by a
 * fifth (SAHI's default), at most 64 (a 12-megapixel photo's count, about 8 × 8 at 640 × 480).
 */
export const TILE_DEFAULTS: TileOptions = Object.freeze({ minScale: 2, tileScale: 1, overlap: 0.2, maxTiles: 64 });

/** Start offsets of `count` tiles of `tile` pixels spread evenly over `length`. */
function offsets(length: number, tile: number, count: number): number[] {
  if (count <= 1) return [0];
  return Array.from({ length: count }, (_, i) => Math.round((i * (length - tile)) / (count - 1)));
}

/** Tiles of `tile` pixels needed to cover `length` with neighbours overlapping by `overlap` of a tile. */
function tileCount(length: number, tile: number, overlap: number): number {
  return tile >= length ? 1 : Math.ceil((length - tile) / (tile * (1 - overlap)) - 1e-9) + 1;
}

/**
 * Tiles of an image of `width`×`height` for a model input of `inputWidth`×`inputHeight`: none when
 * the image is not large enough. Tiles have the input's aspect ratio (no padding wasted), cover the
 * image, and overlap their neighbours by at least `overlap` of a tile.
 */
export function planTiles(width: number, height: number, inputWidth: number, inputHeight: number, options: TileOptions = TILE_DEFAULTS): Box[] {
  if (Math.max(width / inputWidth, height / inputHeight) < options.minScale) return [];
  let scale = options.tileScale;
  for (;;) {
    const tileWidth = Math.min(width, Math.round(inputWidth * scale));
    const tileHeight = Math.min(height, Math.round(inputHeight * scale));
    const columns = tileCount(width, tileWidth, options.overlap);
    const rows = tileCount(height, tileHeight, options.overlap);
    if (columns * rows <= Math.max(1, options.maxTiles)) {
      const xs = offsets(width, tileWidth, columns);
      return offsets(height, tileHeight, rows).flatMap((y) => xs.map((x) => ({ x, y, width: tileWidth, height: tileHeight })));
    }
    scale *= 1.1;
  }
}

/**
 * Drops a tile's detections that touch one of its edges inside the image (within `margin` pixels):
 * those objects are cut by the tile, and are seen whole by a neighbouring tile or the whole photo.
 */
export function dropCutByTile(segments: readonly DetectedSegment[], tile: Box, image: { width: number; height: number }, margin = 2): DetectedSegment[] {
  const cutLeft = tile.x > 0;
  const cutTop = tile.y > 0;
  const cutRight = tile.x + tile.width < image.width;
  const cutBottom = tile.y + tile.height < image.height;
  return segments.filter(({ mask: { box } }) =>
    !(cutLeft && box.x <= tile.x + margin) &&
    !(cutTop && box.y <= tile.y + margin) &&
    !(cutRight && box.x + box.width >= tile.x + tile.width - margin) &&
    !(cutBottom && box.y + box.height >= tile.y + tile.height - margin));
}
