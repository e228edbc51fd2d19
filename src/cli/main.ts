/**
 * `segcat` command line: one module per command, each exporting `register(program)`.
 */
import { Command, CommanderError } from 'commander';
import { registerCheckCommand } from './check.command.js';
import { registerEvaluateCommand } from './evaluate.command.js';
import { registerExportCommand } from './export.command.js';
import { registerExtractCommand } from './extract.command.js';
import { registerImportCommand } from './import.command.js';
import { registerModelsCommand } from './models.command.js';
import { registerResegmentCommand } from './resegment.command.js';
import { registerSegmentCommand } from './segment.command.js';
import { registerServeCommands } from './serve.command.js';
import { registerStorageCommand } from './storage.command.js';
import { registerThumbnailsCommand } from './thumbnails.command.js';

/** Runs the CLI with the given argv and resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('segcat')
    .description('segcat: a media catalogue that understands what is in its pictures')
    .showHelpAfterError()
    .exitOverride();
  // Command registrations (one line each, kept sorted):
  registerCheckCommand(program);
  registerEvaluateCommand(program);
  registerExportCommand(program);
  registerExtractCommand(program);
  registerImportCommand(program);
  registerModelsCommand(program);
  registerResegmentCommand(program);
  registerSegmentCommand(program);
  registerServeCommands(program);
  registerStorageCommand(program);
  registerThumbnailsCommand(program);

  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
}
