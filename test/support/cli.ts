/**
 * Runs the built CLI (`bin/segcat.js`, compiled to dist/ by `npm install`) as a user would: its own
 * process, stdout and stderr captured, the exit code reported (null when it was killed); or some
 * commands from the sources, inside the test's process.
 */
import { jest } from '@jest/globals';
import { Command } from 'commander';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config.js';

/** What a CLI run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `segcat <args>` with `env` over the test's environment (LOG_LEVEL=warn, NODE_ENV=test). A run
 * still going after `killAfterMs` is killed, so a hang fails the test with code null.
 */
export function runSegcat(args: string[], env: Record<string, string | undefined> = {}, killAfterMs = 120_000): Promise<CliRun> {
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'segcat.js'), ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/**
 * `segcat <args>` run in this process with only the commands `register` adds, as `npx segcat`
 * would: stdout and stderr captured, exit code 1 (and the message on stderr) when the action throws.
 */
export async function runCommands(register: ((program: Command) => void)[], args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command('segcat').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const add of register) add(program);
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => { stdout += String(chunk); return true; });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => { stderr += String(chunk); return true; });
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'segcat', ...args]);
    return { code: typeof process.exitCode === 'number' ? process.exitCode : 0, stdout, stderr };
  } catch (error) {
    return { code: 1, stdout, stderr: stderr + (error instanceof Error ? error.message : String(error)) };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}
