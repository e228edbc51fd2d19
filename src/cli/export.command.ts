/**
 * `segcat export --format coco <out.json>`: the catalogue, or the images a search selects, as a
 * COCO instances file (the export service's work; README, "Exporting to COCO").
 */
import { Option, type Command } from 'commander';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { DEFAULT_MIN_SCORE } from '../services/catalogue.service.js';
import type { CocoExportFilter } from '../services/coco-export.service.js';
import { createProgressReporter } from './progress.js';

/** Options as commander parses them. */
interface ExportOptions {
  format: 'coco';
  labels?: string[];
  match: 'ALL' | 'ANY';
  minScore?: number;
  status: NonNullable<CocoExportFilter['status']>;
}

/** Adds `export` to the program. */
export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('write the catalogue (or the images a search selects) as a COCO instances file')
    .argument('<out>', 'the file to write, e.g. catalogue.json (replaced once the export is complete)')
    .addOption(new Option('--format <format>', 'file format').choices(['coco']).default('coco'))
    .option('--labels <words>', 'only images with these classes or categories, comma-separated (as the `images` query: dog,animal)', commaList)
    .addOption(new Option('--match <match>', 'with --labels: images with ALL the classes, or ANY of them').choices(['ALL', 'ANY']).default('ALL'))
    // Checked by the catalogue service, as for the API.
    .option('--min-score <score>', `a class counts, and a segment is exported, when it scores at least this (default ${DEFAULT_MIN_SCORE})`, Number)
    .addOption(new Option('--status <status>', 'only images in this state').choices(['PENDING', 'PROCESSING', 'DONE', 'FAILED']).default('DONE'))
    .addHelpText('after', `
Each exported image gets all its segments scoring at least --min-score, whatever their class, with
the model's box, the mask's area and score, and the mask in COCO RLE (compressed, column-major, as
pycocotools writes it). file_name is the original's path under DATA_DIR. Uses DATABASE_URL, or the
embedded database under DATA_DIR (stop a running \`segcat serve\` on the same DATA_DIR first).

Examples:
  npx segcat export --format coco catalogue.json
  npx segcat export --format coco animals.json --labels dog,cat,horse --match ANY --min-score 0.6`)
    .action(async (out: string, options: ExportOptions) => {
      const config = loadConfig();
      const { createCommandLogger, startRuntime } = await import('../runtime.js');
      // An export only reads: nothing at start may move or repair files.
      const runtime = await startRuntime(config, { http: false, worker: false, reconcile: false, logger: createCommandLogger(config) });
      const interrupted = new AbortController();
      const stop = () => interrupted.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const reporter = createProgressReporter(process.stderr);
        const filter = { labels: options.labels, match: options.match, minScore: options.minScore, status: options.status };
        const summary = await runtime.services.cocoExport.exportToFile(filter, path.resolve(out), {
          signal: interrupted.signal,
          onProgress: ({ total, images }) => reporter.update({ total, done: images, failed: 0 }),
        });
        reporter.finish();
        process.stdout.write(`wrote ${out}: ${summary.images} images, ${summary.annotations} annotations, ${summary.bytes} bytes\n`);
      } catch (error) {
        if (!interrupted.signal.aborted) throw error;
        process.stderr.write(`\ninterrupted: ${out} was not written\n`);
        process.exitCode = 130;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await runtime.close();
      }
    });
}

function commaList(value: string): string[] {
  return value.split(',').map((label) => label.trim()).filter((label) => label !== '');
}

