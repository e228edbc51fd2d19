/**
 * `segcat models pull|list`: fetch the manifest's weights (from MODEL_MIRROR or the pinned URL,
 * sha256-checked) and show which are installed.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { findModel, modelStatuses, pullModel, readManifest } from '../vision/model-store.js';

/** Adds `models pull` and `models list` to the program. */
export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('install and list segmentation models (weights are AGPL-3.0)');

  models
    .command('pull')
    .description('download missing model weights into the model directory, verifying sha256')
    .argument('[names...]', 'models to pull (default: all in models/manifest.json)')
    .addHelpText('after', `
Copies from MODEL_MIRROR when it is set (machines without internet), else downloads the pinned URL.

Examples:
  $ npx segcat models pull
  $ MODEL_MIRROR=../shared/models npx segcat models pull
  $ npx segcat models pull yolov8n-seg-uint8`)
    .action(async (names: string[]) => {
      const config = loadConfig();
      const manifest = await readManifest();
      const entries = names.length > 0 ? names.map((name) => findModel(manifest, name)) : manifest;
      for (const entry of entries) {
        const result = await pullModel(entry, { modelDir: config.modelDir, mirror: config.modelMirror });
        process.stdout.write(`${entry.name}: ${result.action} (${result.path})\n`);
      }
    });

  models
    .command('list')
    .description('show each known model, whether it is installed, and its licence')
    .addHelpText('after', `
Examples:
  $ npx segcat models list`)
    .action(async () => {
      const config = loadConfig();
      for (const status of await modelStatuses(config.modelDir, await readManifest())) {
        const selected = status.entry.name === config.model ? '*' : ' ';
        process.stdout.write(`${selected} ${status.entry.name.padEnd(20)} ${status.state.padEnd(8)} ${status.entry.licence}  ${status.path}\n`);
      }
      process.stdout.write(`(* = selected by SEGCAT_MODEL; weights are AGPL-3.0, see README)\n`);
    });
}
