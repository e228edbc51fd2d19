/**
 * `segcat segment`: the recipe's segment.py. One mask PNG per object plus the background mask,
 * for each image given (or each image in a directory); a bad file is reported and the batch goes on.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { segmentFiles, type BatchOutcome } from '../vision/batch.js';
import { lowerPriorityOutsideModels, modelFirst } from '../vision/thread-priority.js';
import { hasImageExtension } from '../vision/formats.js';
import { maskRoot } from '../vision/mask-filename.js';
import type { Quality } from '../vision/types.js';
import { createQualitySegmenter } from '../vision/vision-engine.js';
import { qualityOption } from './quality-option.js';

function parseScore(value: string): number {
  const score = Number(value);
  if (!Number.isFinite(score) || score < 0 || score > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return score;
}

async function expandInputs(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (info?.isDirectory()) {
      // A directory gives the files named as images; explicitly named files are always tried.
      const names = (await readdir(input)).filter(hasImageExtension).sort();
      files.push(...names.map((name) => path.join(input, name)));
    } else files.push(input);
  }
  return files;
}

/** Adds `segment` to the program. */
export function registerSegmentCommand(program: Command): void {
  program
    .command('segment')
    .description("find objects in images and write the recipe's mask PNGs (one per object, plus the background)")
    .usage('[options] <image...|dir> <outdir>')
    .argument('<inputs...>', 'image files and/or directories of images, then the output directory')
    .option('--min-score <score>', 'drop objects scoring below this (0..1; default SEGCAT_MIN_SCORE or 0.25)', parseScore)
    .addOption(qualityOption())
    .option('--json', 'print one JSON document describing everything instead of one path per line')
    .addHelpText('after', `
Writes, for each image, m<root>.<score>.<label>.<x>_<y>_<w>_<h>.png per object (score in whole
percent, spaces in labels as _, the box in pixels) and m<root>.background.png: single-channel,
white on black, the size of the image as displayed (EXIF orientation applied). <root> is the
image's name without its extension; when two inputs share one (a/dog.jpg, b/dog.jpg), the later
ones get dog-2, dog-3… (said on stderr).
Exit code 0 when every image was processed, 1 when any failed (each reported on stderr).

Examples:
  $ npx segcat segment dog.jpg out/
  $ npx segcat segment photos/ out/ --min-score 0.5
  $ npx segcat segment a.jpg b.png out/ --json > result.json
  $ npx segcat segment big-photo.jpg out/ --quality accurate`)
    .action(async (args: string[], options: { minScore?: number; json?: boolean; quality?: Quality }) => {
      if (args.length < 2) throw new Error('segment needs at least one image and an output directory');
      const outDir = args[args.length - 1]!;
      const files = await expandInputs(args.slice(0, -1));
      if (files.length === 0) throw new Error(`no images found in ${args.slice(0, -1).join(', ')}`);
      const existing = await stat(outDir).catch(() => undefined);
      if (existing && !existing.isDirectory()) throw new Error(`${outDir}: not a directory; give a folder for the masks`);
      const config = loadConfig();
      const segmenter = await createQualitySegmenter({ ...config, quality: options.quality ?? config.quality });
      // A batch serves no API: the model's threads get the CPU first (src/vision/thread-priority.ts).
      const priority = modelFirst(config.modelPriority, true) ? lowerPriorityOutsideModels() : undefined;
      const segmentOptions = options.minScore === undefined ? {} : { minScore: options.minScore };
      let outcomes: BatchOutcome[];
      try {
        // Made only once the model has loaded, so a missing model leaves no empty folder behind.
        await mkdir(outDir, { recursive: true });
        outcomes = await segmentFiles(segmenter, files, outDir, { segment: segmentOptions }, (outcome) => {
          if (outcome.root !== maskRoot(outcome.file)) {
            process.stderr.write(`segcat: ${outcome.file}: another image is also named ${maskRoot(outcome.file)}; its masks are m${outcome.root}.*\n`);
          }
          if ('error' in outcome) {
            // Image errors already start with the file's name.
            const reason = outcome.error.startsWith(outcome.file) ? outcome.error : `${outcome.file}: ${outcome.error}`;
            process.stderr.write(`segcat: ${reason}\n`);
          } else if (!options.json) {
            const paths = [...outcome.masks.objects.map((m) => m.path), outcome.masks.background.path];
            process.stdout.write(`${paths.join('\n')}\n`);
          }
        });
      } finally {
        priority?.restore();
        await segmenter.close();
      }
      if (options.json) {
        const document = {
          model: { name: segmenter.info.name, version: segmenter.info.version },
          images: outcomes.filter((o) => !('error' in o)),
          failures: outcomes.filter((o) => 'error' in o),
        };
        process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      }
      process.exitCode = outcomes.some((o) => 'error' in o) ? 1 : 0;
    });
}
