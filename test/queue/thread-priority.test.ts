/**
 * "Model first" scheduling (SEGCAT_MODEL_PRIORITY): a `segcat worker` process gives every thread
 * but the model's a lower CPU priority (nice 10), read back from /proc; with `normal` it leaves
 * them all alone. Linux only, like the feature.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { registerSegmentCommand } from '../../src/cli/segment.command.js';
import { startRuntime } from '../../src/runtime.js';
import { runCommands } from '../support/cli.js';
import { photo } from '../support/vision.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = existsSync('/proc/self/task') ? describe : describe.skip;

/** Name and nice value of each thread of process `pid`. */
function threads(pid: number): { tid: number; name: string; nice: number }[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Fields after the name: state is the first, nice the 17th.
      const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      return [{ tid: Number(task), name, nice }];
    } catch {
      return [];
    }
  });
}

/** Starts `segcat worker`, hands its threads to `inspect` once it is ready, and stops it. */
async function withWorker(env: Record<string, string>, inspect: (pid: number) => void): Promise<void> {
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'segcat.js'), 'worker', '--metrics-port', '0'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', NODE_ENV: 'test' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('segcat metrics at')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the worker did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    inspect(child.pid!);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * Whether this process may give its threads a higher priority back (root, or a RLIMIT_NICE that
 * allows nice 0): without it, what segcat lowered stays lowered, by design of Linux.
 */
function mayRaisePriority(): boolean {
  if (process.getuid?.() === 0) return true;
  const limit = /^Max nice priority\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return Number(limit?.[1] ?? 0) >= 20;
}
const givingBack = mayRaisePriority() ? it : it.skip;

/** Threads of this process, from a snapshot taken `before`, whose nice value is not what it was then. */
function changedSince(before: { tid: number; nice: number }[]): { tid: number; nice: number }[] {
  const now = new Map(threads(process.pid).map((thread) => [thread.tid, thread.nice]));
  return before.filter(({ tid, nice }) => now.has(tid) && now.get(tid) !== nice);
}

run('SEGCAT_MODEL_PRIORITY', () => {
  let database: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-priority-'));
    env = { DATABASE_URL: database.url, DATA_DIR: dataDir };
  });

  afterAll(async () => {
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  // A child starts at the nice value of the thread that spawns it: the test's own, normally 0.
  const base = () => os.getPriority();

  it('a worker lowers every thread but the model\'s (auto)', async () => {
    const start = base();
    const lowered = Math.max(start, 10);
    await withWorker(env, (pid) => {
      const all = threads(pid);
      const model = all.filter((thread) => thread.name === 'WorkerThread');
      // The model's worker thread and onnxruntime's threads, at the priority the process started with.
      expect(model.length).toBeGreaterThanOrEqual(2);
      expect(new Set(model.map((thread) => thread.nice))).toEqual(new Set([start]));
      // Everything else: the main thread (JavaScript), libuv's pool, V8's helpers.
      const others = all.filter((thread) => thread.name !== 'WorkerThread');
      expect(others.find((thread) => thread.tid === pid)).toMatchObject({ nice: lowered });
      expect(others.filter((thread) => thread.nice !== lowered)).toEqual([]);
    });
  }, 120_000);

  it('normal leaves every thread alone', async () => {
    const start = base();
    await withWorker({ ...env, SEGCAT_MODEL_PRIORITY: 'normal' }, (pid) => {
      expect(threads(pid).filter((thread) => thread.nice !== start)).toEqual([]);
    });
  }, 120_000);

  // Bug: auto lowered the threads of any process running a worker without HTTP, so a program (or a
  // test) embedding startRuntime had its own threads lowered, and so had every process it spawned.
  it('auto leaves a process that embeds a worker runtime alone', async () => {
    const before = threads(process.pid).map(({ tid, nice }) => ({ tid, nice }));
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    const runtime = await startRuntime(config, { http: false, worker: true });
    try {
      expect(changedSince(before)).toEqual([]);
    } finally {
      await runtime.close();
    }
  }, 120_000);

  givingBack('high in an embedding process lowers its threads while the runtime runs, and close gives them back', async () => {
    const before = threads(process.pid).map(({ tid, nice }) => ({ tid, nice }));
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', SEGCAT_MODEL_PRIORITY: 'high' });
    const runtime = await startRuntime(config, { http: false, worker: true });
    try {
      expect(os.getPriority()).toBe(Math.max(before.find(({ tid }) => tid === process.pid)!.nice, 10));
    } finally {
      await runtime.close();
    }
    expect(changedSince(before)).toEqual([]);
  }, 120_000);

  // Same bug: `segcat segment` run inside another process (as our CLI tests do) left its threads
  // lowered once the batch was over.
  givingBack('segment gives the threads their priority back when the batch ends', async () => {
    const before = threads(process.pid).map(({ tid, nice }) => ({ tid, nice }));
    // Masks go outside DATA_DIR, which they would make look like another catalogue's files.
    const out = await mkdtemp(path.join(os.tmpdir(), 'segcat-priority-masks-'));
    const result = await runCommands([registerSegmentCommand], ['segment', photo('dog'), out]).finally(() => rm(out, { recursive: true, force: true }));
    expect(result).toMatchObject({ code: 0 });
    expect(changedSince(before)).toEqual([]);
    const after = threads(process.pid);
    // Threads started during the batch (libuv's pool grows on demand) are back to the start value too.
    const known = new Set(before.map(({ tid }) => tid));
    expect(after.filter((thread) => !known.has(thread.tid) && thread.nice !== os.getPriority())).toEqual([]);
  }, 120_000);
});
