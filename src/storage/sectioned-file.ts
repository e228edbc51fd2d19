/**
 * A file written as a stream in sections that grow at the same time, such as a JSON document
 * whose second array fills while its first is written: each section goes to its own temporary
 * file beside the target (or in a spool folder), so nothing is held in memory; commit() appends
 * the later sections to the first and moves it into place durably (atomic-write.ts), or hands it
 * to `place` (an upload to object storage); discard() removes them all. A crash leaves only `.tmp`
 * names, which the file store removes at start.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { InsufficientStorageError } from '../services/errors.js';
import { isDiskFull, moveIntoPlace } from './atomic-write.js';

/** Characters gathered in memory before a section is written out. */
const FLUSH_CHARACTERS = 256 * 1024;

/** Where a sectioned file is assembled and how it is kept, when not beside its target. */
export interface SectionedFileOptions {
  /** Folder for the sections (default: the target's own). */
  tempDir?: string;
  /** Keeps the joined file (an absolute path, removed afterwards) instead of moving it to the target. */
  place?: (joinedFile: string) => Promise<void>;
}

interface Section {
  path: string;
  handle: FileHandle;
  pending: string;
}

/** A file being written in sections; nothing appears under its name until commit(). */
export class SectionedFile {
  private written = 0;
  private open = true;

  private constructor(
    private readonly target: string,
    private readonly sections: Section[],
    private readonly place: ((joinedFile: string) => Promise<void>) | undefined,
  ) {}

  /** Starts writing `target` (an absolute path, or a name for messages when `place` keeps it) in `count` sections. */
  static async create(target: string, count: number, options: SectionedFileOptions = {}): Promise<SectionedFile> {
    const stem = options.tempDir ? path.join(options.tempDir, randomUUID()) : `${target}.${randomUUID()}`;
    const sections: Section[] = [];
    try {
      await fs.mkdir(path.dirname(stem), { recursive: true });
      for (let index = 0; index < count; index++) {
        const file = `${stem}.${index}.tmp`;
        sections.push({ path: file, handle: await fs.open(file, 'wx', 0o640), pending: '' });
      }
    } catch (error) {
      await removeSections(sections);
      throw storageError(error);
    }
    return new SectionedFile(target, sections, options.place);
  }

  /** Bytes written so far, every section together (text still in memory not counted). */
  get bytes(): number {
    return this.written;
  }

  /** Appends text to a section; waits while the disk catches up. */
  async write(section: number, text: string): Promise<void> {
    const target = this.sections[section];
    if (!target || !this.open) throw new RangeError(`section ${section} of ${this.target} cannot be written (sections 0 to ${this.sections.length - 1}, open: ${this.open})`);
    target.pending += text;
    if (target.pending.length >= FLUSH_CHARACTERS) await this.flush(target);
  }

  /** Joins the sections in order under the target's name, durably; resolves to the file's size in bytes. */
  async commit(): Promise<number> {
    if (!this.open) throw new RangeError(`${this.target} was already committed or discarded`);
    this.open = false;
    const [first, ...rest] = this.sections;
    try {
      for (const section of this.sections) await this.flush(section);
      for (const section of rest) {
        await section.handle.close();
        for await (const chunk of createReadStream(section.path)) await first!.handle.write(chunk as Buffer);
      }
      await first!.handle.close();
      if (this.place) await this.place(first!.path);
      else await moveIntoPlace(first!.path, this.target);
    } catch (error) {
      await removeSections(this.sections);
      throw storageError(error);
    }
    await removeSections(this.place ? this.sections : rest);
    return this.written;
  }

  /** Removes what was written; safe to call after commit() or twice. */
  async discard(): Promise<void> {
    if (this.open) {
      this.open = false;
      await removeSections(this.sections);
    }
  }

  private async flush(section: Section): Promise<void> {
    if (section.pending === '') return;
    const data = Buffer.from(section.pending, 'utf8');
    section.pending = '';
    try {
      await section.handle.write(data);
    } catch (error) {
      throw storageError(error);
    }
    this.written += data.length;
  }
}

async function removeSections(sections: Section[]): Promise<void> {
  for (const section of sections) {
    await section.handle.close().catch(() => undefined);
    await fs.rm(section.path, { force: true });
  }
}

function storageError(error: unknown): unknown {
  return isDiskFull(error) ? new InsufficientStorageError({ cause: error }) : error;
}
