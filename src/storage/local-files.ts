/**
 * Reading files where they are, outside the store's layout: folders a user imports (walked,
 * sniffed, hashed) and the store's own temporary files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Every file under the inputs, as absolute paths: folders are walked recursively in name order,
 * leaving out hidden entries (names starting with `.`); a file given by name is always included.
 */
export async function walkFiles(inputs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const visit = async (entry: string): Promise<void> => {
    const info = await fs.stat(entry);
    if (info.isDirectory()) {
      const children = (await fs.readdir(entry)).filter((name) => !name.startsWith('.')).sort();
      for (const child of children) await visit(path.join(entry, child));
    } else if (info.isFile()) {
      found.push(entry);
    }
  };
  for (const input of inputs) await visit(path.resolve(input));
  return found;
}

/** The first `bytes` bytes of a file (fewer if it is shorter). */
export async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The sha256 of a file's bytes, in hex (as the store names originals). */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A stream of a file's bytes. */
export function readFileStream(file: string): Readable {
  return createReadStream(file);
}
