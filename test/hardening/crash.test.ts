/**
 * kill -9 in the middle of `segcat import` (embedded PostgreSQL), then the same import again:
 * every image DONE exactly once with its masks, no row pointing to a missing file, no orphan or
 * temporary file. Runs scripts/crash-test.mjs (`npm run bench:crash`, 100 images) on 30 images;
 * like every test that starts bin/segcat.js, it runs the build in dist/.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGES = 30;

it('loses nothing and leaves nothing behind when an import is killed with SIGKILL and run again', async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/crash-test.mjs'), '--images', String(IMAGES), '--json'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  const report = JSON.parse(stdout.trim().split('\n').at(-1) || 'null');
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  // Killed while work was in flight: some images done, some not yet.
  expect(report.atKill.DONE).toBeGreaterThan(0);
  expect(report.atKill.DONE).toBeLessThan(IMAGES);
  expect(report).toMatchObject({ rows: IMAGES, done: IMAGES, duplicates: 0, withoutMasks: 0, missing: 0, orphans: 0, tmpFiles: 0, segcatCheck: 0 });
  expect(report.segments).toBeGreaterThan(0);
}, 600_000);
