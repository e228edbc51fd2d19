/**
 * `segcat resegment`: run a model again over chosen images (or all, or those a model has not
 * seen), replacing their segments. This is how the catalogue moves to a new default model.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import type { Quality } from '../vision/types.js';
import { qualityOption } from './quality-option.js';
import { createProgressReporter } from './progress.js';

/** Adds `resegment` to the program. */
export function registerResegmentCommand(program: Command): void {
  program
    .command('resegment')
    .description('segment images again, with the configured model or another one, replacing their segments')
    .argument('[ids...]', 'image ids (or use --all / --outdated)')
    .option('--all', 'every image in the catalogue')
    .option('--outdated', 'every image not yet segmented by the model and its current version')
    .option('--model <name>', 'model from models/manifest.json (default: SEGCAT_MODEL)')
    .addOption(qualityOption())
    .option('--no-wait', 'queue the work and return; running workers will do it')
    .addHelpText('after', `
Switching the catalogue to another model:
  npx segcat models pull                                  # make sure its weights are here
  SEGCAT_MODEL=yolov8n-seg-uint8 npx segcat resegment --outdated
  SEGCAT_MODEL=yolov8n-seg-uint8 npm start                # serve and segment new uploads with it

Segmenting chosen images again more thoroughly (the quality travels with each job, so any worker
uses it):
  npx segcat resegment <id> <id> --quality accurate`)
    .action(async (ids: string[], options: { all?: boolean; outdated?: boolean; model?: string; quality?: Quality; wait: boolean }) => {
      const { createCommandLogger, startRuntime } = await import('../runtime.js');
      const config = loadConfig();
      const runtime = await startRuntime(config, { http: false, worker: options.wait, modelFirst: true, logger: createCommandLogger(config) });
      try {
        const { queue } = runtime.services;
        const { batch, queued } = await queue.resegment({ ids, all: options.all, outdated: options.outdated, model: options.model, quality: options.quality });
        process.stderr.write(`queued ${queued} image${queued === 1 ? '' : 's'}${batch ? ` (batch ${batch.id})` : ''}\n`);
        if (!options.wait || !batch) return;
        const reporter = createProgressReporter(process.stderr);
        const final = await queue.waitForBatch(batch.id, (state) =>
          reporter.update({ total: queued, done: state.done + state.failed, failed: state.failed }),
        );
        reporter.finish();
        process.stdout.write(`re-segmented ${final.done}, failed ${final.failed}\n`);
        process.exitCode = final.failed > 0 ? 1 : 0;
      } finally {
        await runtime.close();
      }
    });
}
