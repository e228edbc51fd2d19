/**
 * `segcat import <dir|files...>`: bulk ingest with progress, straight into the catalogue's
 * database. Interrupt it at any time; running it again skips what is done and finishes the rest.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import type { Quality } from '../vision/types.js';
import { qualityOption } from './quality-option.js';
import type { ImportSummary } from '../services/import.service.js';
import { createProgressReporter, formatDuration } from './progress.js';

/** Adds `import` to the program. */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('add every image under folders (searched recursively, picked by content) to the catalogue')
    .argument('<paths...>', 'folders and/or image files')
    .addOption(qualityOption())
    .addHelpText('after', `
Images already catalogued (same bytes) are skipped, so a second run of the same folder adds
nothing, and an interrupted import resumes where it stopped. Uses DATABASE_URL, or the embedded
database under DATA_DIR (stop a running \`segcat serve\` on the same DATA_DIR first, or point
DATABASE_URL at its database).

--quality sets how this import's own worker segments; other workers on the same database that
take some of its jobs segment them at their own SEGCAT_QUALITY.

Examples:
  npx segcat import ~/Pictures
  npx segcat import ~/Pictures/birds --quality accurate
  DATABASE_URL=postgresql://segcat@db/segcat npx segcat import /mnt/photos/2024 /mnt/photos/2025`)
    .action(async (paths: string[], options: { quality?: Quality }) => {
      // The import's own worker segments at this quality; other workers on the same database use theirs.
      const env = loadConfig();
      const config = { ...env, quality: options.quality ?? env.quality };
      const { createCommandLogger, startRuntime } = await import('../runtime.js');
      const runtime = await startRuntime(config, { http: false, worker: true, modelFirst: true, logger: createCommandLogger(config) });
      const stop = () => {
        process.stderr.write('\ninterrupted: run the same import again to finish it\n');
        void runtime.close().finally(() => process.exit(130));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const { importer } = runtime.services;
        const files = await importer.findImages(paths);
        process.stderr.write(`found ${files.length} image${files.length === 1 ? '' : 's'}\n`);
        const reporter = createProgressReporter(process.stderr);
        const summary = await importer.importFiles(files, (progress) => reporter.update(progress));
        reporter.finish();
        printSummary(summary);
        process.exitCode = summary.failed > 0 ? 1 : 0;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await runtime.close();
      }
    });
}

function printSummary(summary: ImportSummary): void {
  const seconds = summary.elapsedMs / 1000;
  const processed = summary.imported + summary.failed;
  const lines = [
    `imported ${summary.imported}, duplicates ${summary.duplicates}, failed ${summary.failed}` +
      (summary.resumed > 0 ? ` (${summary.resumed} resumed from an earlier run)` : ''),
    `elapsed ${formatDuration(seconds)} (${seconds.toFixed(1)} s)` +
      (processed > 0 ? `, ${(processed / Math.max(seconds, 0.001)).toFixed(1)} images/s` : ', nothing new to import'),
    ...summary.failures.map((failure) => `failed: ${failure.file}: ${failure.reason}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
