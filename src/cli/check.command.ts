/**
 * `segcat check [--repair] [--json]`: walks the catalogue's rows against DATA_DIR's files and its
 * files against the rows, reports both directions, and with --repair fixes what it found (the
 * logic is the maintenance service's). Exit code 0 when nothing is wrong (with --repair: when
 * every repair succeeded), 1 otherwise.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config.js';
import type { IntegrityReport, RepairReport } from '../services/maintenance.service.js';

/** Adds `check` to the program. */
export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('check that every file a row points to exists and that every stored file belongs to a row')
    .option('--repair', 'fix what was found (see below)')
    .option('--json', 'print one JSON document instead of text')
    .option('--limit <n>', 'paths listed for each direction', positiveInteger, 20)
    .addHelpText('after', `
Rows → files: every original, thumbnail, mask and cut-out a row points to must exist.
Files → rows: every file under originals/ thumbnails/ masks/ cutouts/ overlays/ must be one a row
points to (an overlay: one of an image that exists). With DATABASE_URL, files younger than
SEGCAT_STALE_MINUTES are left out: another server may be about to record them.

--repair: an image whose masks are gone is queued for segmentation again (a worker must be running),
an image whose original is gone is marked FAILED ("upload it again"), lost thumbnails and cut-outs
are made again, and unreferenced files are moved into DATA_DIR/quarantine/ (deleted after
SEGCAT_QUARANTINE_DAYS). Uses DATABASE_URL, or the embedded database under DATA_DIR (stop a
running \`segcat serve\` on the same DATA_DIR first).

Examples:
  npx segcat check
  DATABASE_URL=postgresql://segcat@db/segcat npx segcat check --repair
  npx segcat check --json --limit 1000 > report.json`)
    .action(async (options: { repair?: boolean; json?: boolean; limit: number }) => {
      const config = loadConfig();
      const { createCommandLogger, startRuntime } = await import('../runtime.js');
      // No start-up reconciliation: it would quarantine what this command is asked to report.
      const runtime = await startRuntime(config, { http: false, worker: false, reconcile: false, logger: createCommandLogger(config) });
      try {
        const { maintenance } = runtime.services;
        const olderThanMs = config.databaseUrl ? config.staleMs : undefined;
        const report = await maintenance.check({ olderThanMs });
        const repair = options.repair ? await maintenance.repair(report, { olderThanMs }) : undefined;
        const problems = report.missing.length + report.unreferenced.length;
        const output = options.json ? `${JSON.stringify(asJson(report, repair, options.limit), null, 2)}\n` : asText(report, repair, options.limit);
        process.stdout.write(output);
        process.exitCode = (repair ? repair.errors.length > 0 : problems > 0) ? 1 : 0;
      } finally {
        await runtime.close();
      }
    });
}

function asJson(report: IntegrityReport, repair: RepairReport | undefined, limit: number) {
  return {
    ok: report.missing.length + report.unreferenced.length === 0,
    images: report.images,
    referencedFiles: report.referencedFiles,
    storedFiles: report.storedFiles,
    missing: { count: report.missing.length, files: report.missing.slice(0, limit) },
    unreferenced: { count: report.unreferenced.length, files: report.unreferenced.slice(0, limit) },
    recent: report.recent,
    ...(repair && { repair: { ...repair, requeued: repair.requeued.length, failed: repair.failed.length } }),
  };
}

function asText(report: IntegrityReport, repair: RepairReport | undefined, limit: number): string {
  const checked =
    `checked ${count(report.images, 'image')} (${count(report.referencedFiles, 'file')}) ` +
    `and ${count(report.storedFiles, 'stored file')}`;
  const lines: string[] = [];
  if (report.missing.length + report.unreferenced.length === 0) lines.push(`${checked}: no problems`);
  else lines.push(checked);
  if (report.missing.length > 0) {
    lines.push(`rows → files: ${count(report.missing.length, 'file')} missing`);
    for (const file of report.missing.slice(0, limit)) lines.push(`  ${file.kind.padEnd(15)} ${file.path}  (image ${file.imageId})`);
    if (report.missing.length > limit) lines.push(`  ... and ${report.missing.length - limit} more (--limit, --json)`);
  }
  if (report.unreferenced.length > 0) {
    lines.push(`files → rows: ${count(report.unreferenced.length, 'file')} no row points to`);
    for (const file of report.unreferenced.slice(0, limit)) lines.push(`  ${file}`);
    if (report.unreferenced.length > limit) lines.push(`  ... and ${report.unreferenced.length - limit} more (--limit, --json)`);
  }
  if (report.recent > 0) {
    lines.push(`${count(report.recent, 'unreferenced file')} younger than SEGCAT_STALE_MINUTES left out: another server may be recording them`);
  }
  if (repair) {
    lines.push(
      `repair: re-queued ${count(repair.requeued.length, 'image')} for segmentation, ` +
        `marked ${count(repair.failed.length, 'image')} FAILED (original missing), ` +
        `made ${count(repair.thumbnails, 'thumbnail')} and ${count(repair.cutouts, 'cut-out')} again, ` +
        `quarantined ${count(repair.quarantined, 'file')} in DATA_DIR/quarantine/`,
      ...repair.errors.map((error) => `repair failed: ${error}`),
    );
  } else if (report.missing.length + report.unreferenced.length > 0) {
    lines.push('run `segcat check --repair` to fix what can be fixed');
  }
  return `${lines.join('\n')}\n`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a whole number of at least 1, got ${JSON.stringify(value)}`);
  return parsed;
}
