/**
 * Benches cannot rot (issue 13, target 5): every bench script runs once, tiny, and must finish and
 * print its figures. Only that is checked, never a time: a bench that hangs is stopped, with the
 * servers and workers it started (its process group), and fails with what it had printed.
 *
 * Each bench runs the command its npm script runs, read from package.json, without the script's
 * `npm run build &&` / `tsc &&` prefix: like every test that starts bin/segcat.js, this suite runs
 * the build in dist/ (`npm install` and `npm run build` make it). The benches' scratch databases go
 * on the tests' PostgreSQL (TEST_DATABASE_URL, or the embedded server the global setup started),
 * named with a suffix of this run so that a bench run by hand on the same server is left alone.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PACKAGE_ROOT } from '../../src/config.js';
import { testServerUrl } from '../support/database.js';
import { s3Available } from '../support/s3.js';
import { photo } from '../support/vision.js';

/** How a bench is run tiny, and the lines that show it printed its figures. */
interface BenchCase {
  /** npm script name. */
  script: string;
  /** Arguments after the script's own; PHOTOS stands for a folder of two test photos. */
  args: string[];
  env?: Record<string, string>;
  /** Stopped (and failed) after this long: about three times a run on a 2-core machine shared with other jobs. */
  timeoutSeconds: number;
  /** One pattern per figure the bench must print. */
  prints: RegExp[];
  /** It starts an S3 server (OpenStack Swift): skipped where Swift is not installed, as the storage suites are. */
  needsS3?: boolean;
}

const PHOTOS = '<two test photos>';

const BENCHES: BenchCase[] = [
  {
    script: 'bench:vision',
    args: ['--smoke'],
    timeoutSeconds: 150,
    prints: [
      /model run alone \(median\): +\d+\.\d ms/,
      // Tiny, 4 photos against 2 are within noise of each other: the difference can come out negative.
      /segment CLI per extra photo ÷ model alone = -?\d+\.\d\d/,
      /extraction one at a time ÷ model alone = \d+\.\d{3}/,
      /extraction per segment .*\d+\.\d ms one at a time/,
    ],
  },
  {
    script: 'bench:ingest',
    args: ['4'],
    timeoutSeconds: 120,
    prints: [
      /\d+\.\d images\/s .*per image p50 \d+ ms p95 \d+ ms/,
      /model only .*\d+\.\d images\/s/,
      /ingest ÷ model-only = \d+\.\d\d/,
      /where an image's time goes/,
      /peak RSS during the import \d+ MB/,
    ],
  },
  {
    script: 'bench:service',
    args: [PHOTOS],
    env: { SEED_IMAGES: '2000', REPEAT: '1', QUERY_RUNS: '5' },
    timeoutSeconds: 150,
    prints: [/upload → DONE/, /p50 \d+\.\d ms +p95 \d+\.\d ms/, /ratio upload\/model \d+\.\d\d/, /seeded 2000 images/, /labels facets +p50 +\d+\.\d ms +p95 +\d+\.\d ms/],
  },
  {
    script: 'bench:load',
    args: ['--uploads', '5', '--warm-up', '2', '--searches', '5', '--settle-seconds', '1', '--max-seconds', '150'],
    timeoutSeconds: 180,
    prints: [
      /round 1: 5 uploads \(1 bad\) \+ 5 searches at once, .* requests\/s; upload p50 \d+ ms, p99 \d+ ms; search p50 \d+ ms/,
      /round 2: .*lost 0, duplicated 0, 5xx 0, wrong answers 0/,
      /server RSS .*peak \d+ MB/,
    ],
  },
  {
    script: 'bench:crash',
    args: ['--images', '10'],
    timeoutSeconds: 240,
    prints: [/killed with SIGKILL: \d+ rows \(\d+ DONE/, /rows 10, DONE 10, duplicate sha256 0/, /orphan files 0/, /segcat check: exit 0/, /^OK: /m],
  },
  {
    script: 'bench:workers',
    args: ['4', '--max-seconds', '120'],
    timeoutSeconds: 150,
    prints: [/worker A: segmented \d+/, /worker B: segmented \d+/, /DONE 4, FAILED 0; segmented twice: 0; never segmented: 0/, /drained in \d+\.\d s \(\d+\.\d images\/s/],
  },
  {
    script: 'bench:scale',
    args: ['--photos', '4', '--workers', '1,2', '--max-seconds', '150'],
    timeoutSeconds: 180,
    needsS3: true,
    prints: [
      /N=1: 4 photos uploaded .* \d+\.\d\d images\/s; lost 0, duplicated 0, FAILED 0, upload errors 0/,
      /N=2: .*lost 0, duplicated 0, FAILED 0, upload errors 0\n +jobs done per worker \(its \/metrics\): worker 1 \d, worker 2 \d; \d+ PostgreSQL connections open at the end/,
      /CPU seconds per image: API \d+\.\d+, workers \d+\.\d+, Swift \d+\.\d+, PostgreSQL \d+\.\d+/,
      /mean ms per image by stage .*files \d+, database \d+/,
      /segcat check: exit 0/,
      /throughput by workers: N=1 \d+\.\d\d images\/s, N=2 \d+\.\d\d images\/s \(×\d+\.\d\d\)/,
    ],
  },
];

/** The `node ...` command an npm script ends with, as arguments for node. */
async function nodeCommand(script: string): Promise<string[]> {
  const { scripts } = JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const command = scripts[script]?.split('&&').at(-1)?.trim().split(/\s+/);
  if (command?.[0] !== 'node') throw new Error(`npm script ${script} should end with a \`node scripts/...\` command, got ${JSON.stringify(scripts[script])}`);
  return command.slice(1);
}

/** How a bench run ended, and everything it printed (stdout and stderr, interleaved). */
interface BenchRun {
  code: number | null;
  hung: boolean;
  seconds: number;
  output: string;
}

const running = new Set<number>();

/** Runs `node <args>` in its own process group; after `timeoutSeconds` the group is stopped. */
function runBench(args: string[], env: Record<string, string>, timeoutSeconds: number): Promise<BenchRun> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: PACKAGE_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid!;
  running.add(pid);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  let hung = false;
  const stop = setTimeout(() => {
    hung = true;
    stopGroup(pid);
  }, timeoutSeconds * 1000);
  const closed = new Promise((resolve) => child.once('close', resolve));
  return new Promise((resolve) =>
    child.once('exit', async (code) => {
      clearTimeout(stop);
      running.delete(pid);
      // The last output, unless a grandchild that outlived the bench still holds the pipes.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((done) => (grace = setTimeout(done, 2_000)))]);
      clearTimeout(grace);
      resolve({ code, hung, seconds: (performance.now() - started) / 1000, output });
    }),
  );
}

/** SIGTERM to a process group (servers and workers shut down cleanly), SIGKILL to what is left 10 s later. */
function stopGroup(pid: number): void {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  setTimeout(() => signal('SIGKILL'), 10_000).unref();
}

const suffix = `_t${process.pid}`;
let photos: string;

beforeAll(async () => {
  photos = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-photos-'));
  for (const name of ['dog', 'person']) await copyFile(photo(name), path.join(photos, `${name}.jpg`));
});

afterAll(async () => {
  for (const pid of running) stopGroup(pid);
  await rm(photos, { recursive: true, force: true });
  // A bench killed half-way leaves its scratch database behind.
  const admin = new pg.Client({ connectionString: testServerUrl() });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`segcat_bench%${suffix}`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(datname)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

/** Whether a process still runs (a zombie waiting for its parent to read its status does not). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
}

it('stops a bench that hangs, with the processes it started, and reports what it printed', async () => {
  const hangs = `
    const helper = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    console.log('started helper', helper.pid);
    setInterval(() => {}, 1000);`;
  const run = await runBench(['-e', hangs], {}, 2);
  expect(run).toMatchObject({ hung: true, code: null, output: expect.stringMatching(/^started helper \d+/) });
  const helper = Number(/helper (\d+)/.exec(run.output)![1]);
  try {
    for (let waited = 0; (await alive(helper)) && waited < 5_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await alive(helper)).toBe(false);
  } finally {
    if (await alive(helper)) process.kill(helper, 'SIGKILL');
  }
});

describe.each(BENCHES)('$script', ({ script, args, env = {}, timeoutSeconds, prints, needsS3 = false }) => {
  it(
    'runs tiny to the end and prints its figures',
    async () => {
      if (needsS3 && !s3Available()) return;
      const command = [...(await nodeCommand(script)), ...args.map((arg) => (arg === PHOTOS ? photos : arg))];
      const run = await runBench(command, { ...env, BENCH_DATABASE_URL: testServerUrl(), BENCH_DATABASE_SUFFIX: suffix }, timeoutSeconds);
      if (run.hung || run.code !== 0) {
        const how = run.hung ? `hung: stopped after ${timeoutSeconds} s` : `exited with code ${run.code} after ${run.seconds.toFixed(0)} s`;
        throw new Error(`node ${command.join(' ')} ${how}; it printed:\n${run.output.slice(-20_000)}`);
      }
      for (const figure of prints) expect(run.output).toMatch(figure);
    },
    (timeoutSeconds + 20) * 1000,
  );
});
