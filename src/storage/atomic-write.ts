/**
 * Durable writes. Every write goes to a temporary name in the same directory (or tmp/ for an
 * upload), is fsynced, then renamed, so a crash never leaves a half-written file under a name a
 * database row points to. A write that finds the disk full removes what it wrote and throws
 * InsufficientStorageError, whose message names no path.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InsufficientStorageError } from '../services/errors.js';

/** Thrown when a stream is longer than the limit it was received under. */
export class FileTooLargeError extends Error {
  override name = 'FileTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`the file is larger than the limit of ${limitBytes} bytes`);
  }
}

/**
 * Thrown when the stream being received failed on the sender's side (the client went away, or its
 * multipart body was malformed), as opposed to the store failing to write. `status` is the HTTP
 * status the stream's error carried, if any (413 when the parser's own size limit tripped).
 */
export class IncomingStreamError extends Error {
  override name = 'IncomingStreamError';
  readonly status: number | undefined;
  constructor(cause: Error) {
    super(cause.message, { cause });
    const status = (cause as { status?: unknown }).status;
    this.status = typeof status === 'number' ? status : undefined;
  }
}

/** A received upload, still under its temporary name. */
export interface TempFile {
  /** Absolute path of the temporary file. */
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * Streams `source` into a new temporary file in `tmpDir`, hashing it on the way, and stops as
 * soon as it passes `maxBytes` (nothing is left behind then).
 */
export async function receiveToTemp(source: Readable, tmpDir: string, maxBytes: number): Promise<TempFile> {
  const tempPath = path.join(tmpDir, `${randomUUID()}.upload`);
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(new FileTooLargeError(maxBytes));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(tempPath, { flags: 'wx', mode: 0o640 }));
  } catch (error) {
    source.resume();
    await fs.rm(tempPath, { force: true });
    // The multipart spool the source reads from is on this disk too.
    if (isDiskFull(error) || isDiskFull(source.errored)) throw new InsufficientStorageError({ cause: error });
    if (!(error instanceof FileTooLargeError) && source.errored) throw new IncomingStreamError(source.errored);
    throw error;
  }
  return { path: tempPath, bytes, sha256: hash.digest('hex') };
}

/** Moves a finished file (on the same filesystem) to `target`, durably. */
export async function moveIntoPlace(source: string, target: string): Promise<void> {
  await storing(async () => {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fsyncPath(source);
    await fs.rename(source, target);
    await fsyncPath(path.dirname(target));
  });
}

/** Writes bytes to `target`: temporary name, fsync, rename. */
export async function writeAtomically(target: string, data: Buffer): Promise<void> {
  await writeAllAtomically([{ target, data }]);
}

/**
 * Writes several files durably as one step: every file goes to a temporary name and all are
 * fsynced together (the filesystem's journal commits them at once, instead of once per file),
 * then each is renamed and each directory involved is fsynced once. On failure, no temporary file
 * is left; files already renamed stay (as after a crash between two writeAtomically calls).
 */
export async function writeAllAtomically(files: ReadonlyArray<{ target: string; data: Buffer }>): Promise<void> {
  const dirs = [...new Set(files.map((file) => path.dirname(file.target)))];
  const temps = files.map((file) => ({ ...file, temp: `${file.target}.${randomUUID()}.tmp` }));
  await storing(async () => {
    for (const dir of dirs) await fs.mkdir(dir, { recursive: true });
    try {
      await settleAll(
        temps.map(async ({ temp, data }) => {
          const handle = await fs.open(temp, 'wx', 0o640);
          try {
            await handle.writeFile(data);
            await handle.sync();
          } finally {
            await handle.close();
          }
        }),
      );
      await settleAll(temps.map(({ temp, target }) => fs.rename(temp, target)));
    } catch (error) {
      await Promise.all(temps.map(({ temp }) => fs.rm(temp, { force: true })));
      throw error;
    }
    await Promise.all(dirs.map((dir) => fsyncPath(dir)));
  });
}

/** Waits for every promise, then throws the first rejection if any (so no write is still running). */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const failure = (await Promise.allSettled(work)).find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Whether an error, or one it was caused by, says the disk or the user's quota is full. */
export function isDiskFull(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** Runs a write; a full disk becomes InsufficientStorageError, whose message names no path. */
async function storing(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    throw isDiskFull(error) ? new InsufficientStorageError({ cause: error }) : error;
  }
}

/** Flushes a file, or a directory so that a rename in it is durable, to the disk. */
async function fsyncPath(target: string): Promise<void> {
  const handle = await fs.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
