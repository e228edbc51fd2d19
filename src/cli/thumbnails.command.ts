/**
 * `segcat thumbnails`: makes the grid thumbnails that images catalogued before thumbnails existed
 * (or whose thumbnail file was lost) do not have. New images get theirs when they are uploaded.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';

/** Images read from the database at a time, so a large catalogue never sits in memory at once. */
const BATCH = 200;

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
        const counts = await backfill(runtime, options.force === true);
        process.stdout.write(`made ${counts.made}, already present ${counts.present}, failed ${counts.failed}\n`);
        process.exitCode = counts.failed > 0 ? 1 : 0;
      } finally {
        await runtime.close();
      }
    });
}

type Runtime = Awaited<ReturnType<typeof import('../runtime.js').startRuntime>>;

async function backfill(runtime: Runtime, force: boolean): Promise<{ made: number; present: number; failed: number }> {
  const { images: repository, store, maintenance } = runtime.services;
  const counts = { made: 0, present: 0, failed: 0 };
  let after: string | undefined;
  for (;;) {
    const images = await repository.page(after, BATCH);
    if (images.length === 0) return counts;
    after = images.at(-1)!.id;
    for (const image of images) {
      // A row can point at a thumbnail whose file is gone (DATA_DIR restored from an older backup).
      if (!force && image.thumbnailPath && (await store.exists(image.thumbnailPath))) {
        counts.present += 1;
        continue;
      }
      try {
        await maintenance.remakeThumbnail(image);
        counts.made += 1;
        process.stderr.write(`thumbnail ${image.filename} (${image.id})\n`);
      } catch (error) {
        counts.failed += 1;
        process.stderr.write(`failed: ${image.filename} (${image.id}): ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}
