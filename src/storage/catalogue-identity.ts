/**
 * Which catalogue a DATA_DIR (or a bucket's prefix, with STORAGE=s3) belongs to. The database holds
 * its catalogue's id (one `Catalogue` row) and the store holds the same id in catalogue.json (a
 * file, or an object); start-up checks that they agree before it touches any file, so that one
 * catalogue's reconciler can never take another's files for orphans (`npm start` with the embedded
 * database, then DATABASE_URL with the same DATA_DIR).
 *
 * The rules (README, "Crash safety"):
 *  - DATA_DIR has a marker: the database must hold the same id, or start-up is refused (a
 *    database without an id is a new or another catalogue).
 *  - DATA_DIR has no marker and no stored files: it takes the database's id (a new id on both
 *    sides when the database has none either).
 *  - DATA_DIR has no marker but stored files (an installation from before catalogue ids, or a
 *    lost marker): adopted when the database's rows point to some of them, else refused.
 * The database's id is recorded first and the marker second, so a crash in between leaves a pair
 * these rules adopt.
 */
import { randomUUID } from 'node:crypto';
import type { FileStore } from './file-store.js';

/** The marker file, relative to DATA_DIR (or the bucket's prefix). */
export const CATALOGUE_MARKER = 'catalogue.json';

/** The database's side of the pairing. */
export interface CatalogueRecord {
  /** The catalogue id the database holds, if it has one yet. */
  id(): Promise<string | undefined>;
  /** Records `id` unless the database holds one already; returns the one it holds now. */
  claim(id: string): Promise<string>;
  /** Every stored file a row points to. */
  referencedFiles(): Promise<ReadonlySet<string>>;
}

/** Thrown when DATA_DIR and the database are not one catalogue; the message is one line saying what to do. */
export class CatalogueMismatchError extends Error {
  override name = 'CatalogueMismatchError';
}

/** What the check works on. */
export interface CatalogueIdentityOptions {
  store: FileStore;
  database: CatalogueRecord;
  /** The database as messages name it, e.g. "the database at db:5432/segcat". */
  databaseName: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Checks that DATA_DIR and the database are one catalogue, recording the id on a side that lacks
 * it; returns the catalogue id, or throws CatalogueMismatchError having changed nothing.
 */
export async function ensureCatalogueIdentity({ store, database, databaseName }: CatalogueIdentityOptions): Promise<string> {
  const folder = store.location;
  const setting = store.locationSettings;
  const marked = await readMarker(store);
  const recorded = await database.id();
  if (marked) {
    if (marked === recorded) return marked;
    throw new CatalogueMismatchError(
      recorded
        ? `${folder} belongs to catalogue ${marked}, but ${databaseName} is catalogue ${recorded}: ` +
            `point ${setting} at catalogue ${recorded}'s files, or use a new ${setting} for this database`
        : `${folder} belongs to catalogue ${marked}, but ${databaseName} is not that catalogue (it has no catalogue id): ` +
            `point DATABASE_URL at catalogue ${marked}'s database (unset it for the embedded one), or use a new ${setting} for this database`,
    );
  }
  const stored = await store.listStoredFiles();
  if (stored.length > 0) {
    const referenced = await database.referencedFiles();
    if (!stored.some((file) => referenced.has(file))) {
      throw new CatalogueMismatchError(
        `${folder} holds stored files that ${databaseName} does not know, and no ${CATALOGUE_MARKER}: ` +
          `they are another catalogue's; point ${setting} at this database's own files, or use a new ${setting} for this database`,
      );
    }
  }
  const id = await database.claim(recorded ?? randomUUID());
  await store.write(CATALOGUE_MARKER, Buffer.from(`${JSON.stringify({ id, about: 'the segcat catalogue whose files these are' }, null, 2)}\n`));
  return id;
}

/** The catalogue id the store's marker holds; undefined when it has none. Throws CatalogueMismatchError when it is damaged. */
export async function readMarker(store: FileStore): Promise<string | undefined> {
  const setting = store.locationSettings;
  let text: string;
  try {
    text = (await store.read(CATALOGUE_MARKER)).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let id: unknown;
  try {
    id = (JSON.parse(text) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  if (typeof id === 'string' && UUID.test(id)) return id;
  throw new CatalogueMismatchError(
    `${store.where(CATALOGUE_MARKER)} is damaged (expected {"id": "<uuid>"}): ` +
      `restore it from a backup, or remove it to let start-up pair ${setting} with the database again`,
  );
}
