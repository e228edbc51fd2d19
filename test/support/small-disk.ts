/**
 * A real small filesystem for tests of a full disk: a tmpfs of a few megabytes mounted on a fresh
 * folder (root only, as in CI), and a filler file that leaves as many bytes free as a test asks.
 * Writes on it fail with the kernel's own ENOSPC, exactly as on a full volume.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A mounted small filesystem. */
export interface SmallDisk {
  /** Where it is mounted. */
  dir: string;
  /** Bytes free now. */
  free(): Promise<number>;
  /** Grows or shrinks the filler so that about `bytes` stay free (whole pages). */
  leaveFree(bytes: number): Promise<void>;
  /** Removes the filler. */
  unfill(): Promise<void>;
  /** Unmounts it and removes the folder. */
  remove(): Promise<void>;
}

/** Why small disks cannot be made here, or undefined when they can (checked once). */
export async function smallDiskUnavailable(): Promise<string | undefined> {
  try {
    const disk = await mountSmallDisk(1);
    await disk.remove();
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed (${(error as Error).message.split('\n')[0]}); these tests need root`;
  }
}

/** Mounts a tmpfs of `megabytes` on a new folder. */
export async function mountSmallDisk(megabytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-small-disk-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'tmpfs', dir]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // Outside DATA_DIR's folders, so that the server never sees it as one of its files.
  const filler = path.join(dir, '.filler');
  const free = async () => {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  };
  const unfill = () => rm(filler, { force: true });
  return {
    dir,
    free,
    unfill,
    async leaveFree(bytes) {
      await unfill();
      const handle = await open(filler, 'w');
      try {
        const chunk = Buffer.alloc(64 * 1024, 0x5a);
        // Written, not truncated up: tmpfs counts only the pages that hold data.
        for (let left = (await free()) - bytes; left > 0; left -= chunk.length) {
          await handle.write(chunk, 0, Math.min(chunk.length, left));
        }
      } catch (error) {
        // Asked for (almost) nothing free, and got exactly that.
        if ((error as { code?: string }).code !== 'ENOSPC') throw error;
      } finally {
        await handle.close();
      }
    },
    async remove() {
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
