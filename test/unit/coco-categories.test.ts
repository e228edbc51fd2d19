import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config.js';
import { COCO_CATEGORIES, COCO_SUPERCATEGORIES, cocoCategory } from '../../src/vision/coco-categories.js';
import { readManifest, readModelBytes } from '../../src/vision/model-store.js';
import { parseClassNames, readOnnxMetadata } from '../../src/vision/onnx-metadata.js';

/** COCO 2017 annotations with the dataset's own category list (see its README), beside the project. */
const COCO_MINI = path.join(PACKAGE_ROOT, '..', 'shared', 'coco-mini', 'instances.json');

describe('COCO categories', () => {
  it('are the 80 classes with distinct ids from 1 to 90, in id order', () => {
    expect(COCO_CATEGORIES).toHaveLength(80);
    const ids = COCO_CATEGORIES.map((category) => category.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(80);
    expect(ids[0]).toBe(1);
    expect(ids.at(-1)).toBe(90);
    expect(new Set(COCO_CATEGORIES.map((category) => category.name)).size).toBe(80);
  });

  it('group every class under one of the 12 supercategories, each used', () => {
    expect(COCO_SUPERCATEGORIES).toHaveLength(12);
    expect(new Set(COCO_CATEGORIES.map((category) => category.supercategory))).toEqual(new Set(COCO_SUPERCATEGORIES));
  });

  it('look classes up by the name segments carry', () => {
    expect(cocoCategory('dog')).toEqual({ id: 18, name: 'dog', supercategory: 'animal' });
    expect(cocoCategory('dining table')).toEqual({ id: 67, name: 'dining table', supercategory: 'furniture' });
    expect(cocoCategory('toothbrush')).toEqual({ id: 90, name: 'toothbrush', supercategory: 'indoor' });
    expect(cocoCategory('background')).toBeUndefined();
  });

  it("name every model's classes, in the model's order", async () => {
    const manifest = await readManifest();
    for (const entry of manifest) {
      const metadata = readOnnxMetadata(await readModelBytes(path.join(PACKAGE_ROOT, 'models'), entry));
      expect(parseClassNames(metadata.names!)).toEqual(COCO_CATEGORIES.map((category) => category.name));
    }
  });

  (existsSync(COCO_MINI) ? it : it.skip)('are the categories of a COCO 2017 instances file, id for id', () => {
    const official = (JSON.parse(readFileSync(COCO_MINI, 'utf8')) as { categories: unknown[] }).categories;
    expect(official).toEqual(COCO_CATEGORIES.map(({ id, name, supercategory }) => ({ supercategory, id, name })));
  });
});
