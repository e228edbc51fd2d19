/**
 * Model weights on disk: the committed manifest (models/manifest.json), pulling missing files from a
 * mirror directory or the pinned URL with sha256 verification, and finding the file to load.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config.js';

/** One model the manifest lists. */
export interface ModelEntry {
  /** Name used by SEGCAT_MODEL, e.g. "yolo11n-seg-uint8". */
  name: string;
  /** File name inside the model directory. */
  file: string;
  /** Commit-pinned download URL. */
  url: string;
  sha256: string;
  bytes: number;
  /** Licence of the weights (AGPL-3.0 for Ultralytics models). */
  licence: string;
  description: string;
}

/** Where a model stands on this machine. */
export interface ModelStatus {
  entry: ModelEntry;
  path: string;
  state: 'present' | 'missing' | 'corrupt';
}

/** Thrown when a model is unknown, missing, corrupt or cannot be fetched; the message says what to do. */
export class ModelError extends Error {
  override name = 'ModelError';
}

/** Command that fetches models, quoted in every error message. */
export const PULL_HINT = 'npx segcat models pull';

/** Path of the committed manifest. */
export const MANIFEST_PATH = path.join(PACKAGE_ROOT, 'models', 'manifest.json');

/** Reads the manifest. */
export async function readManifest(manifestPath = MANIFEST_PATH): Promise<ModelEntry[]> {
  const parsed = JSON.parse(await readFile(manifestPath, 'utf8')) as { models: ModelEntry[] };
  return parsed.models;
}

/** Finds a manifest entry by name, or throws ModelError listing the known names. */
export function findModel(entries: readonly ModelEntry[], name: string): ModelEntry {
  const entry = entries.find((candidate) => candidate.name === name);
  if (!entry) {
    throw new ModelError(`unknown model "${name}" (SEGCAT_MODEL); known models: ${entries.map((e) => e.name).join(', ')}`);
  }
  return entry;
}

/** sha256 of bytes, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Whether each manifest model is present and intact in `modelDir`. */
export async function modelStatuses(modelDir: string, entries: readonly ModelEntry[]): Promise<ModelStatus[]> {
  return Promise.all(
    entries.map(async (entry) => {
      const file = path.join(modelDir, entry.file);
      const bytes = await readFile(file).catch(() => undefined);
      const state = bytes === undefined ? 'missing' : sha256Hex(bytes) === entry.sha256 ? 'present' : 'corrupt';
      return { entry, path: file, state } satisfies ModelStatus;
    }),
  );
}

/**
 * Reads a model's weights and checks them against the manifest; throws ModelError telling the user
 * to run `npx segcat models pull` when the file is missing or does not match.
 */
export async function readModelBytes(modelDir: string, entry: ModelEntry): Promise<Buffer> {
  const file = path.join(modelDir, entry.file);
  const bytes = await readFile(file).catch(() => undefined);
  if (bytes === undefined) {
    throw new ModelError(`model "${entry.name}" is not installed (no ${file}); run: ${PULL_HINT}`);
  }
  if (sha256Hex(bytes) !== entry.sha256) {
    throw new ModelError(`model file ${file} is corrupt (sha256 does not match the manifest); delete it and run: ${PULL_HINT}`);
  }
  return bytes;
}

/** Where `pullModel` gets weights from. */
export interface PullOptions {
  modelDir: string;
  /** Directory holding copies of the weights; when set, nothing is downloaded. */
  mirror?: string | undefined;
}

/** Outcome of pulling one model. */
export interface PullResult {
  entry: ModelEntry;
  path: string;
  action: 'already-present' | 'copied' | 'downloaded';
}

async function fetchBytes(entry: ModelEntry, options: PullOptions): Promise<Buffer> {
  if (options.mirror !== undefined) {
    const source = path.join(options.mirror, entry.file);
    return readFile(source).catch(() => {
      throw new ModelError(`MODEL_MIRROR has no ${entry.file} (looked for ${source})`);
    });
  }
  const response = await fetch(entry.url).catch((error: unknown) => {
    throw new ModelError(`cannot download ${entry.url}: ${error instanceof Error ? error.message : String(error)} (offline? set MODEL_MIRROR to a directory holding ${entry.file})`);
  });
  if (!response.ok) throw new ModelError(`cannot download ${entry.url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/**
 * Puts one model's weights into `modelDir` unless an intact copy is there, verifying sha256 before
 * the file takes its final name (so an interrupted pull never leaves a half file behind).
 */
export async function pullModel(entry: ModelEntry, options: PullOptions): Promise<PullResult> {
  const target = path.join(options.modelDir, entry.file);
  const [status] = await modelStatuses(options.modelDir, [entry]);
  if (status!.state === 'present') return { entry, path: target, action: 'already-present' };
  await mkdir(options.modelDir, { recursive: true });
  const bytes = await fetchBytes(entry, options);
  const actual = sha256Hex(bytes);
  if (actual !== entry.sha256) {
    throw new ModelError(`${entry.file} from ${options.mirror ?? entry.url} has sha256 ${actual}, expected ${entry.sha256}; not installed`);
  }
  const temporary = `${target}.${process.pid}.part`;
  await writeFile(temporary, bytes);
  await rename(temporary, target);
  return { entry, path: target, action: options.mirror !== undefined ? 'copied' : 'downloaded' };
}
