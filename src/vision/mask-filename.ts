/**
 * The recipe's mask file names: `m<root>.<score>.<label>.<x>_<y>_<w>_<h>.png` for an object and
 * `m<root>.background.png` for the background. Users script against these names, so the format
 * is fixed; both directions are pure and tested.
 */
import type { Box } from './types.js';

/** What an object mask's file name says about it. */
export interface ObjectMaskName {
  kind: 'object';
  /** Name of the source image without its extension. */
  root: string;
  /** Class label with spaces (the file name writes them as `_`). */
  label: string;
  /** Whole percent, 0..100. */
  scorePercent: number;
  box: Box;
}

/** What a background mask's file name says. */
export interface BackgroundMaskName {
  kind: 'background';
  root: string;
}

/** A parsed mask file name. */
export type MaskName = ObjectMaskName | BackgroundMaskName;

/** The root the recipe uses: the image's base name without directory or extension. */
export function maskRoot(imagePath: string): string {
  const base = imagePath.split(/[\\/]/).pop() ?? imagePath;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/**
 * One root per image, in order: the recipe's root, or, when an earlier image already has it
 * (`a/dog.jpg` and `b/dog.jpg`), the root with `-2`, `-3`… so that no two images' masks share names.
 */
export function distinctMaskRoots(imagePaths: readonly string[]): string[] {
  const taken = new Set<string>();
  return imagePaths.map((imagePath) => {
    const root = maskRoot(imagePath);
    let candidate = root;
    for (let n = 2; taken.has(candidate); n++) candidate = `${root}-${n}`;
    taken.add(candidate);
    return candidate;
  });
}

/** Score (0..1) as the recipe's whole percent. */
export function scoreToPercent(score: number): number {
  return Math.min(100, Math.max(0, Math.round(score * 100)));
}

/** File name of an object's mask, e.g. `mdog.93.dining_table.12_40_200_150.png`. */
export function objectMaskFilename(root: string, label: string, score: number, box: Box): string {
  const safeLabel = label.trim().replace(/\s+/g, '_');
  return `m${root}.${scoreToPercent(score)}.${safeLabel}.${box.x}_${box.y}_${box.width}_${box.height}.png`;
}

/** File name of an image's background mask, e.g. `mdog.background.png`. */
export function backgroundMaskFilename(root: string): string {
  return `m${root}.background.png`;
}

const OBJECT_NAME = /^m(.+)\.(\d{1,3})\.([^./\\]+)\.(\d+)_(\d+)_(\d+)_(\d+)\.png$/;
const BACKGROUND_NAME = /^m(.+)\.background\.png$/;

/**
 * Parses a mask file name (a directory part is ignored). Returns undefined when the name does not
 * follow the recipe's format.
 */
export function parseMaskFilename(fileName: string): MaskName | undefined {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const object = OBJECT_NAME.exec(base);
  if (object) {
    const [, root, score, label, x, y, width, height] = object;
    const scorePercent = Number(score);
    const box = { x: Number(x), y: Number(y), width: Number(width), height: Number(height) };
    if (scorePercent > 100 || box.width === 0 || box.height === 0) return undefined;
    return { kind: 'object', root: root!, label: label!.replace(/_/g, ' '), scorePercent, box };
  }
  const background = BACKGROUND_NAME.exec(base);
  if (background) return { kind: 'background', root: background[1]! };
  return undefined;
}
