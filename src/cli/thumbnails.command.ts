/**
 * `segcat thumbnails`: makes the grid thumbnails that images catalogued before thumbnails existed
 * (or whose thumbnail file was lost) do not have. New images get theirs when they are uploaded.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';

/** Adds `thumbnails` to the program. */
export function registerThumbnailsCommand(program: Command): void {
  program
    .command('thumbnails')
    .description('make missing grid thumbnails (WebP, about 320 px) for images already in the catalogue')
    .option('--force', 'remake every thumbnail, even those that exist')
    .addHelpText('after', `
Uses DATABASE_URL, or the embedded database under DATA_DIR (stop a running \`segcat serve\` on the
same DATA_DIR first). Safe to interrupt and run again.

Examples:
  npx segcat thumbnails
  DATABASE_URL=postgresql://segcat@db/segcat npx segcat thumbnails --force`)
    .action(async (options: { force?: boolean }) => {
      const config = loadConfig();
      // Loaded here so that `segcat --help` does not load the database and model code.
      const { createCommandLogger, startRuntime } = await import('../runtime.js');
      const runtime = await startRuntime(config, { http: false, worker: false, logger: createCommandLogger(config) });
      try {
        const counts = await runtime.services.maintenance.backfillThumbnails({
          force: options.force === true,
          onImage: (image, error) =>
            process.stderr.write(error === undefined ? `thumbnail ${image.filename} (${image.id})\n` : `failed: ${image.filename} (${image.id}): ${error}\n`),
        });
        process.stdout.write(`made ${counts.made}, already present ${counts.present}, failed ${counts.failed}\n`);
        process.exitCode = counts.failed > 0 ? 1 : 0;
      } finally {
        await runtime.close();
      }
    });
}
