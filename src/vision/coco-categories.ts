/**
 * The COCO dataset's 80 object classes, as its instances files number and group them: the
 * category id (1 to 90: ids 12, 26, 29, 30, 45, 66, 68, 69, 71, 83 were dropped from the released
 * set) and the supercategory, COCO's two-level hierarchy. The models segcat runs name their
 * classes exactly so (`segment.label`), in this order.
 *
 * Reviewed against the `categories` of COCO 2017's instances_val2017.json (test/unit/coco-categories.test.ts
 * compares it with ../shared/coco-mini when that is present).
 */

/** COCO's supercategories, in the dataset's order. */
export const COCO_SUPERCATEGORIES = [
  'person',
  'vehicle',
  'outdoor',
  'animal',
  'accessory',
  'sports',
  'kitchen',
  'food',
  'furniture',
  'electronic',
  'appliance',
  'indoor',
] as const;

/** One of COCO's supercategories. */
export type CocoSupercategory = (typeof COCO_SUPERCATEGORIES)[number];

/** A COCO category as instances files list it. */
export interface CocoCategory {
  /** The dataset's category id (1 to 90, with gaps). */
  id: number;
  /** Class name, as the models and segcat's labels spell it. */
  name: string;
  supercategory: CocoSupercategory;
}

/** The classes of each supercategory with their ids, in id order. */
const CLASSES_BY_SUPERCATEGORY: Record<CocoSupercategory, [number, string][]> = {
  person: [[1, 'person']],
  vehicle: [[2, 'bicycle'], [3, 'car'], [4, 'motorcycle'], [5, 'airplane'], [6, 'bus'], [7, 'train'], [8, 'truck'], [9, 'boat']],
  outdoor: [[10, 'traffic light'], [11, 'fire hydrant'], [13, 'stop sign'], [14, 'parking meter'], [15, 'bench']],
  animal: [
    [16, 'bird'], [17, 'cat'], [18, 'dog'], [19, 'horse'], [20, 'sheep'],
    [21, 'cow'], [22, 'elephant'], [23, 'bear'], [24, 'zebra'], [25, 'giraffe'],
  ],
  accessory: [[27, 'backpack'], [28, 'umbrella'], [31, 'handbag'], [32, 'tie'], [33, 'suitcase']],
  sports: [
    [34, 'frisbee'], [35, 'skis'], [36, 'snowboard'], [37, 'sports ball'], [38, 'kite'],
    [39, 'baseball bat'], [40, 'baseball glove'], [41, 'skateboard'], [42, 'surfboard'], [43, 'tennis racket'],
  ],
  kitchen: [[44, 'bottle'], [46, 'wine glass'], [47, 'cup'], [48, 'fork'], [49, 'knife'], [50, 'spoon'], [51, 'bowl']],
  food: [
    [52, 'banana'], [53, 'apple'], [54, 'sandwich'], [55, 'orange'], [56, 'broccoli'],
    [57, 'carrot'], [58, 'hot dog'], [59, 'pizza'], [60, 'donut'], [61, 'cake'],
  ],
  furniture: [[62, 'chair'], [63, 'couch'], [64, 'potted plant'], [65, 'bed'], [67, 'dining table'], [70, 'toilet']],
  electronic: [[72, 'tv'], [73, 'laptop'], [74, 'mouse'], [75, 'remote'], [76, 'keyboard'], [77, 'cell phone']],
  appliance: [[78, 'microwave'], [79, 'oven'], [80, 'toaster'], [81, 'sink'], [82, 'refrigerator']],
  indoor: [[84, 'book'], [85, 'clock'], [86, 'vase'], [87, 'scissors'], [88, 'teddy bear'], [89, 'hair drier'], [90, 'toothbrush']],
};

/** All 80 categories, in id order. */
export const COCO_CATEGORIES: readonly CocoCategory[] = Object.freeze(
  COCO_SUPERCATEGORIES.flatMap((supercategory) =>
    CLASSES_BY_SUPERCATEGORY[supercategory].map(([id, name]) => Object.freeze({ id, name, supercategory })),
  ),
);

const BY_NAME = new Map(COCO_CATEGORIES.map((category) => [category.name, category]));

/** The COCO category of a class name (`dog`, `dining table`), or undefined for a name COCO does not have. */
export function cocoCategory(name: string): CocoCategory | undefined {
  return BY_NAME.get(name);
}
