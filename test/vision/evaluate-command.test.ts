/**
 * `segcat evaluate` with the real models on a few photos of ../shared/coco-mini (COCO train2017
 * photos with human-drawn masks, kept beside the project, never in it). Skipped when that folder
 * is absent, so the repository's tests pass without it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registerEvaluateCommand } from '../../src/cli/evaluate.command.js';
import { PACKAGE_ROOT } from '../../src/config.js';
import type { ModelEvaluation } from '../../src/vision/model-evaluation.js';
import { runCommands } from '../support/cli.js';

const COCO_MINI = path.join(PACKAGE_ROOT, '..', 'shared', 'coco-mini');
const present = existsSync(path.join(COCO_MINI, 'instances.json'));

/** Runs `segcat evaluate <args>` in this process, capturing output and the exit code. */
function evaluate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommands([registerEvaluateCommand], ['evaluate', ...args]);
}

(present ? describe : describe.skip)(`segcat evaluate on coco-mini photos${present ? '' : ' (skipped: ../shared/coco-mini is absent)'}`, () => {
  let dir: string;
  let instancesFile: string;
  const images = path.join(COCO_MINI, 'images');

  beforeAll(async () => {
    // Four photos and their annotations, as a user's own labelled set would be.
    const all = JSON.parse(readFileSync(path.join(COCO_MINI, 'instances.json'), 'utf8')) as {
      images: { id: number; file_name: string }[];
      annotations: { image_id: number }[];
    };
    const chosen = [...all.images].sort((a, b) => a.file_name.localeCompare(b.file_name)).slice(0, 4);
    const ids = new Set(chosen.map((image) => image.id));
    dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-evaluate-'));
    instancesFile = path.join(dir, 'instances.json');
    await writeFile(instancesFile, JSON.stringify({ ...all, images: chosen, annotations: all.annotations.filter((a) => ids.has(a.image_id)) }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('measures the default model: box and mask AP well above chance, per class, and what search finds', async () => {
    const result = await evaluate(instancesFile, images, '--json');
    expect(result.code).toBe(0);
    const evaluation = JSON.parse(result.stdout) as ModelEvaluation;
    expect(evaluation).toMatchObject({ model: { name: 'yolo11n-seg-uint8' }, images: 4, failures: [] });
    // COCO's own photos, which the model was trained on: it finds most of what people drew.
    expect(evaluation.box.summary.ap50).toBeGreaterThan(0.4);
    expect(evaluation.box.summary.ap).toBeGreaterThan(0.25);
    expect(evaluation.mask!.summary.ap).toBeGreaterThan(0.2);
    expect(evaluation.mask!.summary.ap!).toBeLessThanOrEqual(evaluation.mask!.summary.ap50!);
    expect(evaluation.categories.length).toBeGreaterThan(0);
    expect(evaluation.categories.reduce((sum, c) => sum + c.objects, 0)).toBe(evaluation.objects);
    // A higher floor returns fewer image-class pairs, so recall can only fall.
    const presence = evaluation.presence;
    expect(presence.map((p) => p.floor)).toEqual([0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]);
    for (let i = 1; i < presence.length; i++) expect(presence[i]!.recall!).toBeLessThanOrEqual(presence[i - 1]!.recall!);
    expect(presence[0]!.precision).toBeGreaterThan(0.7);
  });

  it('prints the tables for another model, and reports a missing photo by name with exit code 1', async () => {
    const withMissing = path.join(dir, 'with-missing.json');
    const subset = JSON.parse(readFileSync(instancesFile, 'utf8')) as { images: object[] };
    await writeFile(withMissing, JSON.stringify({ ...subset, images: [...subset.images, { id: 1, file_name: 'gone.jpg', width: 640, height: 480 }] }));
    const result = await evaluate(withMissing, images, '--model', 'yolov8n-seg-uint8');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/gone\.jpg: no such file/);
    expect(result.stdout).toMatch(/^yolov8n-seg-uint8 \(version [\d.]+\) on 4 images/);
    expect(result.stdout).toMatch(/^box +\d+\.\d +\d+\.\d/m);
    expect(result.stdout).toMatch(/^mask +\d+\.\d +\d+\.\d/m);
    expect(result.stdout).toMatch(/^person +\d+ +\d+ +\d+\.\d +\d+\.\d$/m);
    expect(result.stdout).toMatch(/^0\.60 +\d+\.\d +\d+\.\d/m);
    expect(result.stdout).toMatch(/1 images could not be measured/);
  });

  it('measures accurate segmentation with --quality accurate', async () => {
    const result = await evaluate(instancesFile, images, '--json', '--quality', 'accurate');
    expect(result.code).toBe(0);
    const evaluation = JSON.parse(result.stdout) as ModelEvaluation;
    expect(evaluation).toMatchObject({ model: { name: 'yolo11n-seg-uint8', version: expect.stringMatching(/\+accurate$/) }, images: 4, failures: [] });
    expect(evaluation.box.summary.ap).toBeGreaterThan(0.25);
    expect(evaluation.mask!.summary.ap).toBeGreaterThan(0.2);
  });

  it('says what is wrong with a file that is not COCO', async () => {
    const notCoco = path.join(dir, 'not-coco.json');
    await writeFile(notCoco, JSON.stringify({ images: [] }));
    const result = await evaluate(notCoco, images);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not-coco\.json is not a COCO instances file: categories/);
  });
});
