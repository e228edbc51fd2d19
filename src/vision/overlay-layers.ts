/**
 * Pure pieces of the overlay picture (the image with each segment tinted, outlined and labelled):
 * colours, masks scaled to the overlay's size, tint layers and the SVG of boxes and labels.
 */
import type { BoxMask } from './types.js';

/** A segment as drawn on an overlay. */
export interface OverlaySegment {
  label: string;
  /** 0..1 */
  score: number;
  mask: BoxMask;
}

/** Distinct, saturated colours; segment i gets colour i modulo the list. */
const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40],
];

/** Colour of the i-th segment, as [r, g, b]. */
export function overlayColour(index: number): readonly [number, number, number] {
  return PALETTE[index % PALETTE.length]!;
}

/** Scales a BoxMask by `factor` (nearest neighbour), keeping it inside `width`×`height`. */
export function scaleBoxMask(mask: BoxMask, factor: number, width: number, height: number): BoxMask {
  if (factor === 1) return mask;
  const x = Math.min(width - 1, Math.floor(mask.box.x * factor));
  const y = Math.min(height - 1, Math.floor(mask.box.y * factor));
  const w = Math.max(1, Math.min(width - x, Math.round(mask.box.width * factor)));
  const h = Math.max(1, Math.min(height - y, Math.round(mask.box.height * factor)));
  const data = new Uint8Array(w * h);
  for (let row = 0; row < h; row++) {
    const srcRow = Math.min(mask.box.height - 1, Math.floor((row + 0.5) / factor)) * mask.box.width;
    for (let col = 0; col < w; col++) {
      data[row * w + col] = mask.data[srcRow + Math.min(mask.box.width - 1, Math.floor((col + 0.5) / factor))]!;
    }
  }
  return { box: { x, y, width: w, height: h }, data };
}

/**
 * RGBA pixels of one segment's tint over its box: the mask half-transparent in `colour`, its outline
 * (mask pixels with an unmasked 4-neighbour) opaque, everything else clear.
 */
export function tintLayer(mask: BoxMask, colour: readonly [number, number, number]): Uint8Array {
  const { width: w, height: h } = mask.box;
  const m = mask.data;
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (m[i] === 0) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 ||
        m[i - 1] === 0 || m[i + 1] === 0 || m[i - w] === 0 || m[i + w] === 0;
      rgba[i * 4] = colour[0];
      rgba[i * 4 + 1] = colour[1];
      rgba[i * 4 + 2] = colour[2];
      rgba[i * 4 + 3] = edge ? 255 : 110;
    }
  }
  return rgba;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** SVG (the overlay's size) with each segment's box outline and a "label 93%" tag above it. */
export function labelsSvg(segments: readonly OverlaySegment[], width: number, height: number): string {
  const fontSize = Math.max(12, Math.round(Math.max(width, height) / 50));
  const parts = segments.map((segment, index) => {
    const [r, g, b] = overlayColour(index);
    const { x, y, width: w, height: h } = segment.mask.box;
    const text = `${segment.label} ${Math.round(segment.score * 100)}%`;
    // No text metrics without a layout engine: DejaVu Sans averages ~0.6 em per character.
    const tagWidth = Math.ceil(text.length * fontSize * 0.6) + 8;
    const tagHeight = fontSize + 6;
    const tagX = Math.min(Math.max(0, x), Math.max(0, width - tagWidth));
    const tagY = y >= tagHeight ? y - tagHeight : y;
    return (
      `<rect x="${x + 1}" y="${y + 1}" width="${Math.max(1, w - 2)}" height="${Math.max(1, h - 2)}" fill="none" stroke="rgb(${r},${g},${b})" stroke-width="2"/>` +
      `<rect x="${tagX}" y="${tagY}" width="${tagWidth}" height="${tagHeight}" fill="rgb(${r},${g},${b})"/>` +
      `<text x="${tagX + 4}" y="${tagY + fontSize}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="black">${escapeXml(text)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}
