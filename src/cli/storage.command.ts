/**
 * `segcat storage migrate --to s3|fs`: copies the catalogue's stored files from DATA_DIR into the
 * S3 bucket (S3_* settings), or back, verifying each copy by sha256; safe to interrupt and run
 * again (the work is storage/migrate.ts's). The database is not touched: rows hold relative paths,
 * which are the same in both places.
 */
import { Option, type Command } from 'commander';
import { loadConfig, type Config } from '../config.js';
import type { FileStore } from '../storage/file-store.js';
import { LocalFileStore } from '../storage/local-file-store.js';
import { migrateFiles } from '../storage/migrate.js';
import { S3FileStore } from '../storage/s3-file-store.js';

/** Files between two progress lines on stderr. */
const PROGRESS_EVERY = 500;

/** Adds `storage` (and `storage migrate`) to the program. */
export function registerStorageCommand(program: Command): void {
  const storage = program.command('storage').description('manage where stored files are kept (DATA_DIR or an S3 bucket)');
  storage
    .command('migrate')
    .description('copy the stored files from DATA_DIR into the S3 bucket (--to s3) or back (--to fs), verifying each by sha256')
    .addOption(new Option('--to <backend>', 'where the files go').choices(['s3', 'fs']).makeOptionMandatory())
    .addHelpText('after', `
The bucket comes from S3_BUCKET, S3_PREFIX, S3_ENDPOINT, S3_REGION, S3_FORCE_PATH_STYLE and the AWS
credentials; the folder from DATA_DIR. Originals, thumbnails, masks, cut-outs, overlays and exports
are copied, then catalogue.json; each copy is read back and its sha256 compared. A file already at
the destination with the same sha256 is skipped, so an interrupted migration resumes where it
stopped. Nothing is deleted at the source.

To switch a running catalogue: migrate while it serves, stop every segcat process, migrate again
(copies only what changed), set STORAGE to the new backend, start, and run \`segcat check\`.

Examples:
  S3_BUCKET=photos S3_ENDPOINT=http://127.0.0.1:9000 S3_FORCE_PATH_STYLE=true npx segcat storage migrate --to s3
  S3_BUCKET=photos npx segcat storage migrate --to fs`)
    .action(async (options: { to: 's3' | 'fs' }) => {
      const config = loadConfig();
      const [local, bucket] = [new LocalFileStore(config.dataDir), bucketStore(config)];
      const [source, target] = options.to === 's3' ? [local, bucket] : [bucket, local];
      try {
        await source.ping();
        // Only leftovers older than SEGCAT_STALE_MINUTES: a server may be using the destination already.
        await target.init(config.staleMs);
        let done = 0;
        const report = await migrateFiles(source, target, {
          onFile: (entry, action, error) => {
            done += 1;
            if (action === 'failed') process.stderr.write(`failed: ${entry.path}: ${error}\n`);
            if (done % PROGRESS_EVERY === 0) process.stderr.write(`${done} files...\n`);
          },
        });
        process.stdout.write(
          `${source.location} → ${target.location}: ${report.files} files, copied ${report.copied} (${formatBytes(report.bytes)}), ` +
            `already there ${report.present}, failed ${report.failures.length}; each verified by sha256\n`,
        );
        if (report.failures.length > 0) {
          process.stdout.write('run the same command again to retry the files that failed\n');
          process.exitCode = 1;
        } else {
          process.stdout.write(`catalogue ${report.catalogueId ?? '(no id yet)'} is in ${target.location}; start segcat with STORAGE=${options.to} and run \`segcat check\`\n`);
        }
      } finally {
        await Promise.all([source.close(), target.close()]);
      }
    });
}

function bucketStore(config: Config): FileStore {
  if (!config.s3) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_REGION, the AWS credentials as needed) to say which bucket to migrate with');
  return new S3FileStore(config.s3, config.dataDir);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${bytes} bytes`;
}
