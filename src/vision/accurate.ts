/**
 * Accurate segmentation (SEGCAT_QUALITY=accurate): several views of each photo, through one or
 * both models, merged into one list of segments. A composition around Segmenters, and a Segmenter
 * itself, so everything that takes one (the catalogue, `segcat segment`, `segcat evaluate`) can
 * take this instead.
 *
 * Glossary:
 * - Recipe: which views run and how they are merged (QualityRecipe); ACCURATE_RECIPE is the one
 *   measured best on coco-mini within the time budget (README, "Quality: fast or accurate").
 * - Whole view: one model over the whole photo, plain or mirrored. Whole views are fused with each
 *   other (merge.ts): agreement raises a score, a lone detection is discounted.
 * - Tile view: the first model over one tile of a large photo (tiles.ts). Tiles see what the
 *   whole photo cannot, so their detections are not averaged with the whole views': they join
 *   the fused list as SAHI merges tiles, the best of each cluster kept.
 * - Refined mask: the merged mask refined against the photo's pixels (refine.ts), kept inside the
 *   object's box so that the box, and box AP, stay the fused ones.
 */
import type { RgbRaster } from './cutout-pixels.js';
import { mergeViews, type MergeOptions, MERGE_DEFAULTS, type ViewDetections } from './merge.js';
import { decodeImage, decodeRgb, isDecodedImage, readImageSize, type DecodedImage, type ImageInput } from './raster.js';
import { planRefinement, refineMask } from './refine.js';
import type { Segmenter, SegmenterInput, ViewOptions } from './segmenter.js';
import { dropCutByTile, planTiles, type TileOptions, TILE_DEFAULTS } from './tiles.js';
import { SEGMENT_DEFAULTS, type DetectedSegment, type ModelInfo, type SegmentationResult, type SegmentOptions } from './types.js';

/** One whole view of a recipe. */
export interface WholeView {
  /** `primary`: the configured model; `secondary`: the other one (the ensemble). */
  model: 'primary' | 'secondary';
  /** The photo mirrored left to right (test-time augmentation). */
  mirror: boolean;
  /** How much the view counts in a fused score (default 1). */
  weight?: number;
}

/** Which views accurate segmentation runs and how it merges them. */
export interface QualityRecipe {
  /** The whole views; the first is the plain primary view of `fast`. */
  views: readonly WholeView[];
  /**
   * Portrait photos go to the model with the squarer input instead of the primary one (a 4:3
   * input sees a portrait photo at 3/4 of the scale of a landscape one).
   */
  portraitToSquare: boolean;
  /** Tiles for photos much larger than the input (primary model, plain); null: none. */
  tiles: TileOptions | null;
  /** How whole views are merged. */
  merge: MergeOptions;
  /** Masks refined against the photo's pixels (within each object's box). */
  refine: boolean;
}

/** A recipe that runs nothing extra: one model, one view (the same segments as `fast`). */
export const SINGLE_VIEW: QualityRecipe = Object.freeze<QualityRecipe>({
  views: [{ model: 'primary', mirror: false }],
  portraitToSquare: false,
  tiles: null,
  merge: MERGE_DEFAULTS,
  refine: false,
});

/**
 * The recipe of SEGCAT_QUALITY=accurate: both models over the whole photo, fused (the best of the
 * ingredients measured within 3× the time of fast; README, "Quality: fast or accurate"), tiles on
 * photos much larger than the input, and masks refined against the photo.
 */
export const ACCURATE_RECIPE: QualityRecipe = Object.freeze<QualityRecipe>({
  ...SINGLE_VIEW,
  views: [
    { model: 'primary', mirror: false },
    { model: 'secondary', mirror: false },
  ],
  tiles: TILE_DEFAULTS,
  refine: true,
});

/** The photo's pixels over every region that refining `segments`' masks reads (one decode). */
async function pixelsAround(input: ImageInput | DecodedImage, segments: readonly DetectedSegment[], size: { width: number; height: number }): Promise<RgbRaster> {
  if (isDecodedImage(input)) return { data: input.rgb, width: input.width, height: input.height, left: 0, top: 0 };
  const reads = segments.map((segment) => planRefinement(segment.mask.box, size.width, size.height).read);
  const x = Math.min(...reads.map((r) => r.x));
  const y = Math.min(...reads.map((r) => r.y));
  const right = Math.max(...reads.map((r) => r.x + r.width));
  const bottom = Math.max(...reads.map((r) => r.y + r.height));
  return decodeRgb(input, { x, y, width: right - x, height: bottom - y });
}

/** `segment` with its mask refined against `pixels`, cut back to its own box (the model's mask when nothing of it is left there). */
function refinedWithinBox(segment: DetectedSegment, pixels: RgbRaster, size: { width: number; height: number }): DetectedSegment {
  const { box } = segment.mask;
  const refined = refineMask(segment.mask, pixels, planRefinement(box, size.width, size.height)).mask;
  const data = new Uint8Array(box.width * box.height);
  let area = 0;
  for (let y = 0; y < box.height; y++) {
    const from = (box.y + y - refined.box.y) * refined.box.width + (box.x - refined.box.x);
    const row = refined.data.subarray(from, from + box.width);
    data.set(row, y * box.width);
    for (const value of row) if (value) area++;
  }
  return area === 0 ? segment : { ...segment, area, mask: { box: { ...box }, data } };
}

/** The models a composed segmenter may use. */
export interface QualityModels {
  /** The configured model (SEGCAT_MODEL): its name and version are recorded with the results. */
  primary: Segmenter;
  /** The other model, for the ensemble and portrait photos; views of it are skipped when absent. */
  secondary?: Segmenter;
}

/** Options of composeSegmenter. */
export interface ComposeOptions {
  /** Images above this many pixels are refused before decoding (default 50 million). */
  maxPixels?: number;
  /** Defaults of every segment() call (SEGCAT_MIN_SCORE, SEGCAT_MAX_DETECTIONS). */
  defaults?: SegmentOptions;
}

interface PlannedView {
  segmenter: Segmenter;
  options: ViewOptions;
  weight: number;
}

/** How far a model's input is from square (0 for square). */
function oblongness(info: ModelInfo): number {
  return Math.abs(Math.log(info.inputWidth / info.inputHeight));
}

/** The whole views and tile views of one photo. */
function planViews(models: QualityModels, recipe: QualityRecipe, width: number, height: number): { whole: PlannedView[]; tiles: PlannedView[] } {
  const { secondary } = models;
  let primary = models.primary;
  if (recipe.portraitToSquare && height > width && secondary && oblongness(secondary.info) < oblongness(primary.info)) primary = secondary;
  const whole = recipe.views.flatMap((view): PlannedView[] => {
    const segmenter = view.model === 'primary' ? primary : secondary;
    return segmenter ? [{ segmenter, options: { mirror: view.mirror }, weight: view.weight ?? 1 }] : [];
  });
  const { inputWidth, inputHeight } = primary.info;
  const regions = recipe.tiles ? planTiles(width, height, inputWidth, inputHeight, recipe.tiles) : [];
  return { whole, tiles: regions.map((region) => ({ segmenter: primary, options: { region }, weight: 1 })) };
}

/**
 * A Segmenter that runs `recipe`'s views through `models` and merges them. Its ModelInfo is the
 * primary model's, with `+accurate` on the version, so results say how they were made. Closing it
 * closes the models.
 */
export function composeSegmenter(models: QualityModels, recipe: QualityRecipe = ACCURATE_RECIPE, composeOptions: ComposeOptions = {}): Segmenter {
  const { primary, secondary } = models;
  if (secondary && secondary.info.classNames.join('\n') !== primary.info.classNames.join('\n')) {
    throw new Error(`models ${primary.info.name} and ${secondary.info.name} have different classes; they cannot be combined`);
  }
  const info: ModelInfo = Object.freeze({ ...primary.info, version: `${primary.info.version}+accurate` });
  return {
    info,
    async segment(input: SegmenterInput, callOptions: SegmentOptions & ViewOptions = {}): Promise<SegmentationResult> {
      if (callOptions.region || callOptions.mirror) throw new Error('accurate segmentation chooses its own views; region and mirror are for single views');
      if (typeof input === 'object' && 'letterbox' in input) throw new Error('accurate segmentation needs the whole image, not one letterboxed input');
      const options = { ...composeOptions.defaults, ...callOptions };
      const maxPixels = composeOptions.maxPixels ?? SEGMENT_DEFAULTS.maxPixels;
      const started = performance.now();
      const size = isDecodedImage(input) ? input : await readImageSize(input, maxPixels);
      const headerMs = performance.now() - started;
      const minScore = options.minScore ?? SEGMENT_DEFAULTS.minScore;
      const maxDetections = options.maxDetections ?? SEGMENT_DEFAULTS.maxDetections;
      const { whole, tiles } = planViews(models, recipe, size.width, size.height);
      // Whole views letterbox the file itself, as fast does (a JPEG shrinks while it decodes); only
      // tiles need every pixel, decoded once for all of them.
      let decodeMs = 0;
      const decodeStarted = performance.now();
      const image: Promise<DecodedImage> | undefined = tiles.length === 0 ? undefined : isDecodedImage(input) ? Promise.resolve(input)
        : decodeImage(input, maxPixels).then((decoded) => {
          decodeMs = performance.now() - decodeStarted;
          return decoded;
        });
      // A fused score is a weighted mean over the whole views: a member below minScore × its view's
      // share of the weight could still lift a cluster over minScore, so views keep that much.
      const totalWeight = whole.reduce((sum, view) => sum + view.weight, 0);
      const wholeMinScore = whole.length === 1 ? minScore : (minScore * Math.min(...whole.map((view) => view.weight))) / totalWeight;
      const run = (view: PlannedView, from: SegmenterInput, extra: SegmentOptions) => view.segmenter.segment(from, { ...options, ...view.options, ...extra });
      // Fused masks average the views' probabilities, so views keep them.
      const fusing = { minScore: wholeMinScore, keepProbabilities: whole.length > 1 };
      const [wholeResults, tileResults] = await Promise.all([
        Promise.all(whole.map((view) => run(view, input, fusing))),
        image?.then((decoded) => Promise.all(tiles.map((view) => run(view, decoded, { minScore })))) ?? [],
      ]);
      const merging = performance.now();
      const viewDetections: ViewDetections[] = whole.map((view, i) => ({ segments: wholeResults[i]!.segments, weight: view.weight }));
      let segments: DetectedSegment[] = viewDetections.length === 1
        ? viewDetections[0]!.segments.filter((s) => s.score >= minScore)
        : mergeViews(viewDetections, { ...recipe.merge, minScore, maxDetections: Number.MAX_SAFE_INTEGER });
      if (tiles.length > 0) {
        const fromTiles = tiles.flatMap((view, i) => dropCutByTile(tileResults[i]!.segments, view.options.region!, size));
        segments = mergeViews([{ segments }, { segments: fromTiles }], { ...recipe.merge, method: 'nms', minScore, maxDetections });
      }
      segments = segments.slice(0, maxDetections);
      if (recipe.refine && segments.length > 0) {
        const pixels = await pixelsAround(image ? await image : (input as ImageInput | DecodedImage), segments, size);
        segments = segments.map((segment) => refinedWithinBox(segment, pixels, size));
      }
      const results = [...wholeResults, ...tileResults];
      const sum = (pick: (r: SegmentationResult) => number) => results.reduce((total, r) => total + pick(r), 0);
      return {
        width: size.width,
        height: size.height,
        segments: segments.map(({ probability: _, ...segment }) => segment),
        timings: {
          // The header read, the tiles' shared decode (it overlaps the whole views' runs), and each view's own.
          preprocessMs: headerMs + decodeMs + sum((r) => r.timings.preprocessMs),
          inferenceMs: sum((r) => r.timings.inferenceMs),
          postprocessMs: performance.now() - merging + sum((r) => r.timings.postprocessMs),
        },
      };
    },
    async close() {
      await Promise.all([primary.close(), secondary?.close()]);
    },
  };
}
