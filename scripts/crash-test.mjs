// Crash test (`npm run bench:crash`): `segcat import` of N distinct images into a fresh DATA_DIR
// with the embedded PostgreSQL is killed with SIGKILL once some images are DONE, then the same
// import is run again to the end. It then checks, and prints, that every image is DONE exactly
// once with its masks, that no row points to a missing file, and that no file is left that no
// row points to. Exit code 1 when any of that fails.
//
//   node scripts/crash-test.mjs [--images 100] [--json]      (needs `npm run build`)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, listFiles, makeVariants, ROOT, segcatCheck } from './lib/bench-utils.mjs';

const { values } = parseArgs({ options: { images: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } } });
const count = Number(values.images);
const log = (line) => values.json || process.stderr.write(`${line}\n`);

const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-crash-'));
const imagesDir = path.join(work, 'images');
const dataDir = path.join(work, 'data');
// The embedded PostgreSQL runs as its own user when segcat runs as root: it must reach DATA_DIR.
await chmod(work, 0o755);
try {
  await mkdir(imagesDir);
  await makeVariants(imagesDir, count);
  const env = {
    ...process.env,
    DATABASE_URL: '',
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  };
  const databaseUrl = async () =>
    `postgresql://postgres:${(await readFile(path.join(dataDir, 'postgres.password'), 'utf8')).trim()}@127.0.0.1:${env.EMBEDDED_PG_PORT}/segcat`;

  log(`importing ${count} images, to be killed once some are DONE`);
  const first = importer(env);
  const killAt = Math.max(3, Math.floor(count / 10));
  let atKill;
  for (;;) {
    if (first.exitCode() !== undefined) throw new Error(`the import ended (exit ${first.exitCode()}) before it could be killed:\n${first.output()}`);
    const counts = await statusCounts(env, databaseUrl).catch(() => undefined);
    if (counts && counts.DONE >= killAt) {
      first.kill('SIGKILL');
      atKill = counts;
      break;
    }
    await delay(100);
  }
  await first.exited;
  const leftInTmp = (await listFiles(path.join(dataDir, 'tmp'))).length;
  log(`killed with SIGKILL: ${atKill.rows} rows (${atKill.DONE} DONE, ${atKill.PROCESSING} PROCESSING, ${atKill.PENDING} PENDING), ${leftInTmp} files in tmp/`);

  const second = importer(env);
  // Bounded: a job left locked by the killed process would otherwise hold the import for hours.
  const timer = setTimeout(() => second.kill('SIGKILL'), 10 * 60_000);
  const code = await second.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`the second import failed (exit ${code}):\n${second.output()}`);
  log(`second import: ${second.output().trim().split('\n').filter((line) => line.startsWith('imported')).join('')}`);

  const report = await check(dataDir, env.EMBEDDED_PG_PORT);
  // segcat's own integrity check must agree (it starts the embedded database itself).
  const verdict = await segcatCheck({ DATABASE_URL: '', DATA_DIR: dataDir, EMBEDDED_PG_PORT: env.EMBEDDED_PG_PORT });
  report.segcatCheck = verdict.code;
  const result = { images: count, atKill: { ...atKill, tmpFiles: leftInTmp }, ...report };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    console.log(`rows ${report.rows}, DONE ${report.done}, duplicate sha256 ${report.duplicates}, images without masks ${report.withoutMasks}`);
    console.log(`files ${report.files}, rows pointing to missing files ${report.missing}, orphan files ${report.orphans}, files in tmp/ ${report.tmpFiles}`);
    console.log(`segcat check: exit ${verdict.code}, ${verdict.output.trim().split('\n')[0]}`);
  }
  const ok =
    report.rows === count && report.done === count && report.duplicates === 0 && report.withoutMasks === 0 &&
    report.missing === 0 && report.orphans === 0 && report.tmpFiles === 0 && verdict.code === 0;
  log(ok ? 'OK: every image DONE exactly once, nothing missing, nothing orphaned' : 'FAILED');
  process.exitCode = ok ? 0 : 1;
} finally {
  await rm(work, { recursive: true, force: true });
}

/** `segcat import <imagesDir>` as a child process. */
function importer(env) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'import', imagesDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  let exitCode;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exitCode = code ?? signal))));
  return { exited, exitCode: () => exitCode, kill: (signal) => child.kill(signal), output: () => output };
}

/** Images by status, read from the embedded database while the import runs. */
async function statusCounts(env, databaseUrl) {
  if (!existsSync(path.join(env.DATA_DIR, 'postgres.password'))) return undefined;
  const client = new pg.Client({ connectionString: await databaseUrl(), connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT status, count(*)::int AS n FROM "Image" GROUP BY status`);
    const counts = { rows: 0, PENDING: 0, PROCESSING: 0, DONE: 0, FAILED: 0 };
    for (const row of rows) {
      counts[row.status] = row.n;
      counts.rows += row.n;
    }
    return counts;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts the (stopped) embedded database again and checks rows against files. */
async function check(dataDir, port) {
  const { startEmbeddedPostgres } = await import(path.join(ROOT, 'dist/db/embedded-postgres.js'));
  const server = await startEmbeddedPostgres({ dataDir, port: Number(port) });
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    const one = async (sql) => Object.values((await client.query(sql)).rows[0])[0];
    const referenced = new Set(
      (await client.query(`
        SELECT "storagePath" AS p FROM "Image" UNION ALL SELECT "thumbnailPath" FROM "Image"
        UNION ALL SELECT "backgroundMaskPath" FROM "Image" UNION ALL SELECT "maskPath" FROM "Segment"
        UNION ALL SELECT path FROM "Extraction"`)).rows.map((row) => row.p).filter(Boolean),
    );
    const files = [];
    for (const root of ['originals', 'thumbnails', 'masks', 'cutouts']) {
      files.push(...(await listFiles(path.join(dataDir, root))).map((file) => `${root}/${file}`));
    }
    const present = new Set(files);
    return {
      rows: await one(`SELECT count(*)::int FROM "Image"`),
      done: await one(`SELECT count(*)::int FROM "Image" WHERE status = 'DONE'`),
      duplicates: await one(`SELECT count(*)::int FROM (SELECT sha256 FROM "Image" GROUP BY sha256 HAVING count(*) > 1) d`),
      withoutMasks: await one(`SELECT count(*)::int FROM "Image" WHERE "backgroundMaskPath" IS NULL OR "thumbnailPath" IS NULL`),
      segments: await one(`SELECT count(*)::int FROM "Segment"`),
      files: files.length,
      missing: [...referenced].filter((file) => !present.has(file)).length,
      orphans: files.filter((file) => !referenced.has(file)).length,
      tmpFiles: (await listFiles(path.join(dataDir, 'tmp'))).length + files.filter((file) => file.endsWith('.tmp')).length,
    };
  } finally {
    await client.end();
    await server.stop();
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
