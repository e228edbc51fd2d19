/**
 * Reading a COCO instances file (the ground truth `segcat evaluate` measures against): the images,
 * categories and annotations it needs, checked, with messages that name the bad entry.
 */
import { z } from 'zod';
import type { CocoBox, CocoRle } from './coco-masks.js';

const box = z.tuple([z.number(), z.number(), z.number().nonnegative(), z.number().nonnegative()]);
const rle = z.object({
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  counts: z.union([z.string(), z.array(z.number().int().nonnegative())]),
});

const instancesSchema = z.object({
  images: z.array(z.object({
    id: z.number().int(),
    file_name: z.string().min(1),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }).loose()),
  categories: z.array(z.object({ id: z.number().int(), name: z.string().min(1) }).loose()).min(1),
  annotations: z.array(z.object({
    id: z.number().int(),
    image_id: z.number().int(),
    category_id: z.number().int(),
    bbox: box,
    area: z.number().nonnegative().optional(),
    iscrowd: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
    segmentation: z.union([z.array(z.array(z.number())), rle]).optional(),
  }).loose()),
});

/** One image of the file. */
export interface CocoImage {
  id: number;
  /** Path relative to the images folder. */
  fileName: string;
  width: number;
  height: number;
}

/** One category of the file. */
export interface InstancesCategory {
  id: number;
  name: string;
}

/** One annotated object. */
export interface CocoAnnotation {
  id: number;
  imageId: number;
  categoryId: number;
  bbox: CocoBox;
  /** The file's `area` (decides small/medium/large); undefined when the file has none. */
  area: number | undefined;
  crowd: boolean;
  /** Polygons, an RLE, or undefined when the object has no mask. */
  segmentation: readonly (readonly number[])[] | CocoRle | undefined;
}

/** A checked instances file. */
export interface CocoInstances {
  images: CocoImage[];
  categories: InstancesCategory[];
  annotations: CocoAnnotation[];
}

/** The file is not a COCO instances file segcat can use; the message says where and why. */
export class CocoFormatError extends Error {
  override name = 'CocoFormatError';
}

/** Checks parsed JSON as a COCO instances file; throws CocoFormatError naming the first problems. */
export function parseCocoInstances(json: unknown, source = 'instances file'): CocoInstances {
  const parsed = instancesSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new CocoFormatError(`${source} is not a COCO instances file: ${problems.join('; ')}`);
  }
  const { images, categories, annotations } = parsed.data;
  const imageIds = new Set(images.map((i) => i.id));
  const categoryIds = new Set(categories.map((c) => c.id));
  const stray = annotations.find((a) => !imageIds.has(a.image_id) || !categoryIds.has(a.category_id));
  if (stray) {
    const what = imageIds.has(stray.image_id) ? `category_id ${stray.category_id}` : `image_id ${stray.image_id}`;
    throw new CocoFormatError(`${source}: annotation ${stray.id} refers to ${what}, which the file does not list`);
  }
  return {
    images: images.map((i) => ({ id: i.id, fileName: i.file_name, width: i.width, height: i.height })),
    categories: categories.map((c) => ({ id: c.id, name: c.name })),
    annotations: annotations.map((a) => ({
      id: a.id,
      imageId: a.image_id,
      categoryId: a.category_id,
      bbox: a.bbox,
      area: a.area,
      crowd: a.iscrowd === 1 || a.iscrowd === true,
      segmentation: a.segmentation,
    })),
  };
}
