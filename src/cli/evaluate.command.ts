/**
 * `segcat evaluate`: measures a model on labelled photos (a COCO instances file and its images):
 * COCO box and mask AP, AP per class, and what a search finds at each minScore. No database.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config.js';
import { parseCocoInstances } from '../vision/coco-instances.js';
import { EVALUATION_MIN_SCORE, evaluateModel } from '../vision/model-evaluation.js';
import type { Quality } from '../vision/types.js';
import { createQualitySegmenter } from '../vision/vision-engine.js';
import { qualityOption } from './quality-option.js';
import { formatEvaluation } from './evaluation-report.js';
import { createProgressReporter } from './progress.js';

function parseScore(value: string): number {
  const score = Number(value);
  if (!Number.isFinite(score) || score < 0 || score > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return score;
}

async function readInstances(file: string) {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON (${error instanceof Error ? error.message : String(error)}); give a COCO instances file`);
  }
  return parseCocoInstances(json, file);
}

/** Adds `evaluate` to the program. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('measure a model on your own labelled photos: COCO box and mask AP, and what search finds at each minScore')
    .argument('<instances>', 'COCO instances JSON: images, categories, annotations with polygons or RLE masks')
    .argument('<images-dir>', 'folder holding the images, by their file_name')
    .option('--model <name>', 'model from models/manifest.json (default SEGCAT_MODEL)')
    .option('--min-score <score>', `lowest detection score kept (default ${EVALUATION_MIN_SCORE}: AP needs the whole ranking)`, parseScore)
    .addOption(qualityOption('look'))
    .option('--json', 'print one JSON document (figures in 0..1) instead of tables')
    .addHelpText('after', `
Runs the same segmentation as \`segcat segment\` on every image the file lists and compares the
objects found with the annotations, as pycocotools does: AP over IoU .50:.05:.95, AP50, AP75 and
AP by object size, 101-point interpolation, at most 100 detections per image and class, crowd
regions ignored. Categories are matched to the model's classes by name. Then, for each minScore
from 0.25 to 0.6, the precision and recall of "this image contains class X": what search returns.
Progress goes to stderr. Exit code 0 when every image was measured, 1 when any could not be
(each reported on stderr; the figures leave them out).

Examples:
  $ npx segcat evaluate ../shared/coco-mini/instances.json ../shared/coco-mini/images
  $ npx segcat evaluate labels.json photos/ --model yolov8n-seg-uint8 --json > quality.json
  $ npx segcat evaluate labels.json photos/ --quality accurate`)
    .action(async (instancesFile: string, imagesDir: string, options: { model?: string; minScore?: number; json?: boolean; quality?: Quality }) => {
      const instances = await readInstances(instancesFile);
      const config = loadConfig();
      const segmenter = await createQualitySegmenter({ ...config, model: options.model ?? config.model, quality: options.quality ?? config.quality });
      const progress = createProgressReporter(process.stderr);
      let evaluation;
      try {
        evaluation = await evaluateModel(segmenter, instances, imagesDir, {
          ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
          onImage: (counts) => progress.update(counts),
        });
      } finally {
        progress.finish();
        await segmenter.close();
      }
      for (const failure of evaluation.failures) process.stderr.write(`segcat: ${failure.error}\n`);
      const output = options.json ? JSON.stringify(evaluation, null, 2) : formatEvaluation(evaluation).join('\n');
      process.stdout.write(`${output}\n`);
      process.exitCode = evaluation.failures.length > 0 ? 1 : 0;
    });
}
