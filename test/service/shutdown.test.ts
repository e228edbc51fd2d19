/**
 * `segcat serve` as users run it: no DATABASE_URL (embedded PostgreSQL), then SIGTERM. It must
 * answer /health while up, and on the signal stop everything it started, database included.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

it('serves with an embedded database and stops it on SIGTERM', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-serve-'));
  const [port, pgPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'serve'], {
    env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 90_000;
    let health: { status?: string } = {};
    while (health.status !== 'ok') {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${stderr}`);
      health = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json() as Promise<{ status?: string }>, () => ({}));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  } finally {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
