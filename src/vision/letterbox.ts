/**
 * Letterbox geometry: how an image is scaled (aspect kept) and padded into the model's input, and
 * how model coordinates map back to original-image pixels. Pure maths, shared by pre-processing
 * (which resizes and pads exactly as computed here) and post-processing (which inverts it).
 */
import type { Box } from './types.js';

/** Placement of an image inside the model input. */
export interface Letterbox {
  /** Original (orientation-corrected) image size. */
  imageWidth: number;
  imageHeight: number;
  /** Model input size. */
  inputWidth: number;
  inputHeight: number;
  /** Size of the image once scaled, before padding. */
  resizedWidth: number;
  resizedHeight: number;
  /** Grey padding on each side, in input pixels. */
  padLeft: number;
  padTop: number;
  padRight: number;
  padBottom: number;
}

/** Computes the letterbox of an image of `imageWidth`×`imageHeight` into an `inputWidth`×`inputHeight` input. */
export function computeLetterbox(
  imageWidth: number,
  imageHeight: number,
  inputWidth: number,
  inputHeight: number,
): Letterbox {
  if (!(imageWidth > 0 && imageHeight > 0 && inputWidth > 0 && inputHeight > 0)) {
    throw new RangeError(`letterbox needs positive sizes, got ${imageWidth}x${imageHeight} into ${inputWidth}x${inputHeight}`);
  }
  const scale = Math.min(inputWidth / imageWidth, inputHeight / imageHeight);
  // Clamp to at least 1 px so a 1×5000 strip still produces a valid resize.
  const resizedWidth = Math.min(inputWidth, Math.max(1, Math.round(imageWidth * scale)));
  const resizedHeight = Math.min(inputHeight, Math.max(1, Math.round(imageHeight * scale)));
  const padLeft = Math.floor((inputWidth - resizedWidth) / 2);
  const padTop = Math.floor((inputHeight - resizedHeight) / 2);
  return {
    imageWidth,
    imageHeight,
    inputWidth,
    inputHeight,
    resizedWidth,
    resizedHeight,
    padLeft,
    padTop,
    padRight: inputWidth - resizedWidth - padLeft,
    padBottom: inputHeight - resizedHeight - padTop,
  };
}

/** Maps an x coordinate in model-input pixels to original-image pixels (not clipped). */
export function inputToImageX(lb: Letterbox, x: number): number {
  // Per-axis scale from the rounded resize, so the mapping matches the pixels actually produced.
  return ((x - lb.padLeft) * lb.imageWidth) / lb.resizedWidth;
}

/** Maps a y coordinate in model-input pixels to original-image pixels (not clipped). */
export function inputToImageY(lb: Letterbox, y: number): number {
  return ((y - lb.padTop) * lb.imageHeight) / lb.resizedHeight;
}

/** Maps an x coordinate in original-image pixels to model-input pixels. */
export function imageToInputX(lb: Letterbox, x: number): number {
  return (x * lb.resizedWidth) / lb.imageWidth + lb.padLeft;
}

/** Maps a y coordinate in original-image pixels to model-input pixels. */
export function imageToInputY(lb: Letterbox, y: number): number {
  return (y * lb.resizedHeight) / lb.imageHeight + lb.padTop;
}

/**
 * Converts a model box (corners in input pixels) to an integer Box in original pixels, clipped to
 * the image; the integer box encloses the real-valued one. Returns undefined when nothing of it
 * lies inside the image.
 */
export function modelBoxToImageBox(lb: Letterbox, x1: number, y1: number, x2: number, y2: number): Box | undefined {
  const left = Math.max(0, Math.floor(inputToImageX(lb, x1)));
  const top = Math.max(0, Math.floor(inputToImageY(lb, y1)));
  const right = Math.min(lb.imageWidth, Math.ceil(inputToImageX(lb, x2)));
  const bottom = Math.min(lb.imageHeight, Math.ceil(inputToImageY(lb, y2)));
  if (right <= left || bottom <= top) return undefined;
  return { x: left, y: top, width: right - left, height: bottom - top };
}
