/**
 * `segcat evaluate`'s work: segment every image of a COCO instances file with a Segmenter (the
 * pipeline `segcat segment` runs) and measure the detections against the annotations: box and mask
 * AP (coco-eval) and image-level class presence at search floors (presence-metrics). No database.
 * Each image's masks are dropped once its IoUs are known, so memory grows with detections, not pixels.
 */
import path from 'node:path';
import { evaluateGroups, MAX_DETECTIONS, type CocoEvaluation, type EvalGroup } from './coco-eval.js';
import type { CocoAnnotation, CocoImage, CocoInstances } from './coco-instances.js';
import { boxIou, decodeRle, maskArea, maskIou, rasterizePolygons, type CocoBox, type MaskRegion } from './coco-masks.js';
import { presenceAtFloors, SEARCH_SCORE_FLOORS, type ImageClasses, type PresenceAtFloor } from './presence-metrics.js';
import type { Segmenter } from './segmenter.js';
import type { SegmentationResult } from './types.js';

/** Options of evaluateModel. */
export interface ModelEvaluationOptions {
  /** Lowest score the segmenter keeps (default 0.001: AP ranks every detection, as COCO evaluations do). */
  minScore?: number;
  /** Score floors of the image-level table (default SEARCH_SCORE_FLOORS). */
  floors?: readonly number[];
  /** Called after each image, in file order. */
  onImage?: (progress: { done: number; total: number; failed: number }) => void;
}

/** Default of ModelEvaluationOptions.minScore. */
export const EVALUATION_MIN_SCORE = 0.001;

/** AP of one category with annotated objects, in 0..1. */
export interface CategoryQuality {
  categoryId: number;
  name: string;
  /** Non-crowd annotations of it. */
  objects: number;
  /** Images it is annotated in. */
  images: number;
  boxAp: number;
  /** null when mask AP was not measured. */
  maskAp: number | null;
}

/** Everything `segcat evaluate` reports. */
export interface ModelEvaluation {
  model: { name: string; version: string };
  /** Images segmented and measured (failures excluded). */
  images: number;
  /** Non-crowd annotations measured. */
  objects: number;
  /** Crowd annotations (ignored regions). */
  crowdRegions: number;
  box: CocoEvaluation;
  /** null when some annotation has no mask (a boxes-only file). */
  mask: CocoEvaluation | null;
  /** Per category with objects, ascending id. */
  categories: CategoryQuality[];
  /** Image-level "contains class" at each floor. */
  presence: PresenceAtFloor[];
  /** Detections of model classes the file has no category for (left out of every figure). */
  unlistedDetections: number;
  /** Images that could not be measured; their annotations are left out too. */
  failures: { file: string; error: string }[];
}

function toCocoBox(box: { x: number; y: number; width: number; height: number }): CocoBox {
  return [box.x, box.y, box.width, box.height];
}

/** Whether the annotation carries a mask (polygons or RLE). */
function hasMask(annotation: CocoAnnotation): boolean {
  const segmentation = annotation.segmentation;
  return segmentation !== undefined && ('counts' in segmentation || segmentation.length > 0);
}

/** The annotation's mask in image pixels, or undefined when it has none. */
export function truthMask(annotation: CocoAnnotation, image: CocoImage): MaskRegion | undefined {
  const segmentation = annotation.segmentation;
  if (segmentation === undefined || !hasMask(annotation)) return undefined;
  if ('counts' in segmentation && (segmentation.size[0] !== image.height || segmentation.size[1] !== image.width)) {
    throw new Error(`annotation ${annotation.id}: its RLE is ${segmentation.size[1]}x${segmentation.size[0]} but the image is ${image.width}x${image.height}`);
  }
  const mask = 'counts' in segmentation ? decodeRle(segmentation) : rasterizePolygons(segmentation, image.width, image.height);
  return { mask, area: maskArea(mask) };
}

interface ImageMeasure {
  boxGroups: EvalGroup[];
  maskGroups: EvalGroup[];
  classes: ImageClasses;
  unlisted: number;
}

/** IoUs of one image's detections with its annotations, category by category. */
function measureImage(image: CocoImage, annotations: readonly CocoAnnotation[], result: SegmentationResult, categoryOfClass: ReadonlyMap<number, number>): ImageMeasure {
  if (result.width !== image.width || result.height !== image.height) {
    throw new Error(`the image is ${result.width}x${result.height} (EXIF orientation applied) but the annotations say ${image.width}x${image.height}; was it resized or rotated?`);
  }
  const truths = annotations.map((a) => {
    const region = truthMask(a, image);
    return { annotation: a, region, area: a.area ?? region?.area ?? a.bbox[2] * a.bbox[3] };
  });
  const detections = result.segments.flatMap((s) => {
    const categoryId = categoryOfClass.get(s.classId);
    return categoryId === undefined ? [] : [{ categoryId, segment: s, box: toCocoBox(s.mask.box) }];
  });
  const categoryIds = new Set([...truths.map((t) => t.annotation.categoryId), ...detections.map((d) => d.categoryId)]);
  const boxGroups: EvalGroup[] = [];
  const maskGroups: EvalGroup[] = [];
  for (const categoryId of categoryIds) {
    const ts = truths.filter((t) => t.annotation.categoryId === categoryId);
    const ds = detections.filter((d) => d.categoryId === categoryId);
    const evalTruths = ts.map((t) => ({ area: t.area, crowd: t.annotation.crowd }));
    const group = { imageId: image.id, categoryId, truths: evalTruths };
    boxGroups.push({
      ...group,
      detections: ds.map((d) => ({ score: d.segment.score, area: d.box[2] * d.box[3] })),
      ious: ds.map((d) => ts.map((t) => boxIou(d.box, t.annotation.bbox, t.annotation.crowd))),
    });
    if (ts.every((t) => t.region)) {
      maskGroups.push({
        ...group,
        detections: ds.map((d) => ({ score: d.segment.score, area: d.segment.area })),
        ious: ds.map((d) => ts.map((t) => maskIou({ mask: d.segment.mask, area: d.segment.area }, t.region!, t.annotation.crowd))),
      });
    }
  }
  return {
    boxGroups,
    maskGroups,
    classes: {
      present: new Set(annotations.map((a) => a.categoryId)),
      detections: detections.map((d) => ({ categoryId: d.categoryId, score: d.segment.score })),
    },
    unlisted: result.segments.length - detections.length,
  };
}

/** The file's category for each model class, matched by name (any case). */
export function mapClasses(classNames: readonly string[], instances: CocoInstances): Map<number, number> {
  const byName = new Map(instances.categories.map((c) => [c.name.trim().toLowerCase(), c.id]));
  const mapping = new Map<number, number>();
  classNames.forEach((name, classId) => {
    const categoryId = byName.get(name.toLowerCase());
    if (categoryId !== undefined) mapping.set(classId, categoryId);
  });
  return mapping;
}

/** Segments each image of `instances` (found under `imagesDir`) and measures the model on them. */
export async function evaluateModel(segmenter: Segmenter, instances: CocoInstances, imagesDir: string, options: ModelEvaluationOptions = {}): Promise<ModelEvaluation> {
  const categoryOfClass = mapClasses(segmenter.info.classNames, instances);
  if (categoryOfClass.size === 0) {
    throw new Error(`none of the file's categories (${instances.categories.slice(0, 5).map((c) => c.name).join(', ')}…) is a class of model ${segmenter.info.name}; categories are matched to the model's classes by name`);
  }
  const annotationsOf = new Map<number, CocoAnnotation[]>();
  for (const a of instances.annotations) {
    const list = annotationsOf.get(a.imageId);
    if (list) list.push(a);
    else annotationsOf.set(a.imageId, [a]);
  }
  const segmentOptions = { minScore: options.minScore ?? EVALUATION_MIN_SCORE, maxDetections: MAX_DETECTIONS };
  const segment = (image: CocoImage) =>
    segmenter.segment(path.join(imagesDir, image.fileName), segmentOptions).then(
      (result) => ({ result }),
      (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
    );

  const measures: ImageMeasure[] = [];
  const measured: CocoAnnotation[] = [];
  const failures: ModelEvaluation['failures'] = [];
  const images = instances.images;
  // One image decodes while the one before is in the model.
  let next = images.length > 0 ? segment(images[0]!) : undefined;
  for (let i = 0; i < images.length; i++) {
    const image = images[i]!;
    const outcome = await next!;
    next = i + 1 < images.length ? segment(images[i + 1]!) : undefined;
    const annotations = annotationsOf.get(image.id) ?? [];
    try {
      if ('error' in outcome) throw new Error(outcome.error);
      measures.push(measureImage(image, annotations, outcome.result, categoryOfClass));
      measured.push(...annotations);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      failures.push({ file: image.fileName, error: reason.startsWith(path.join(imagesDir, image.fileName)) ? reason : `${image.fileName}: ${reason}` });
    }
    options.onImage?.({ done: i + 1, total: images.length, failed: failures.length });
  }

  const box = evaluateGroups(measures.flatMap((m) => m.boxGroups));
  const allMasks = measured.every(hasMask);
  const mask = allMasks ? evaluateGroups(measures.flatMap((m) => m.maskGroups)) : null;
  const names = new Map(instances.categories.map((c) => [c.id, c.name]));
  const categories = box.categories.map((c): CategoryQuality => {
    const objects = measured.filter((a) => a.categoryId === c.categoryId && !a.crowd);
    return {
      categoryId: c.categoryId,
      name: names.get(c.categoryId)!,
      objects: objects.length,
      images: new Set(objects.map((a) => a.imageId)).size,
      boxAp: c.ap,
      maskAp: mask?.categories.find((m) => m.categoryId === c.categoryId)?.ap ?? null,
    };
  });
  return {
    model: { name: segmenter.info.name, version: segmenter.info.version },
    images: measures.length,
    objects: measured.filter((a) => !a.crowd).length,
    crowdRegions: measured.filter((a) => a.crowd).length,
    box,
    mask,
    categories,
    presence: presenceAtFloors(measures.map((m) => m.classes), options.floors ?? SEARCH_SCORE_FLOORS),
    unlistedDetections: measures.reduce((sum, m) => sum + m.unlisted, 0),
    failures,
  };
}
