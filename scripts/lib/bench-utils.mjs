// Helpers shared by the benchmark and stress scripts.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import sharp from 'sharp';

/** Root of the repository. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The test photos committed with the repository (test/fixtures/images). */
export const FIXTURE_PHOTOS = path.join(ROOT, 'test', 'fixtures', 'images');

/** The p-th percentile (0..100) of some numbers. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * A scratch database on BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local server,
 * created empty (dropped first if a previous run left it); `drop()` removes it. Its name is `baseName`
 * followed by BENCH_DATABASE_SUFFIX, which keeps apart runs that share a server (the test suite
 * sets one per run, so that it never drops a database a bench run by hand is using).
 */
export async function scratchDatabase(baseName) {
  const suffix = process.env.BENCH_DATABASE_SUFFIX ?? '';
  if (!/^[a-z0-9_]*$/.test(suffix)) throw new Error(`BENCH_DATABASE_SUFFIX must be lower-case letters, digits and _, got ${JSON.stringify(suffix)}`);
  const name = `${baseName}${suffix}`;
  const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
  const admin = async (sql) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Writes `count` distinct JPEGs into `dir`, made from the test photos by crops, flips and
 * scales (so their hashes differ); returns their paths.
 */
export async function makeVariants(dir, count) {
  const sources = (await readdir(FIXTURE_PHOTOS)).filter((name) => name.endsWith('.jpg')).sort();
  const files = [];
  for (let i = 0; i < count; i += 1) {
    const source = path.join(FIXTURE_PHOTOS, sources[i % sources.length]);
    const { width, height } = await sharp(source).metadata();
    const k = Math.floor(i / sources.length);
    const crop = 1 - (k % 6) * 0.03;
    const scale = 1 - (k % 4) * 0.08;
    // Narrower by k pixels, so that no two variants of one photo are ever the same bytes.
    const w = Math.round(width * crop) - k;
    const h = Math.round(height * crop);
    const file = path.join(dir, `variant-${String(i).padStart(5, '0')}.jpg`);
    await sharp(source)
      .extract({ left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h })
      .flop(k % 2 === 1)
      .resize(Math.round(w * scale))
      .jpeg({ quality: 88 })
      .toFile(file);
    files.push(file);
  }
  return files;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Every file under `dir`, relative to it with `/` separators (none when it does not exist). */
export async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

/**
 * `segcat check` on the catalogue `env` names (DATABASE_URL, DATA_DIR, …), counting files of any
 * age; resolves to its exit code (0: rows and files agree) and what it printed.
 */
export async function segcatCheck(env) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'check'], {
    env: { ...process.env, ...env, SEGCAT_STALE_MINUTES: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  return { code: code ?? 1, output };
}
